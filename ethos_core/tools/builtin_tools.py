"""Registers the built-in tools (``ethos_register_tools``): file tools, web tools, shell.

Each family lives in its own module with its own handler contract; this module only adapts them
to the registry's ``handler(call, session)`` form, giving each the session's ScopedStorage or
SafeFetcher. A tool appears in a personality's offer only when its ``toolset.yaml`` names it.
"""

from __future__ import annotations

import importlib
from typing import Any

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime


def _maybe(module: str, attr: str) -> Any:
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


class BuiltinTools:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_register_tools(self, registry: Any) -> None:
        make_file_tools = _maybe("ethos_core.tools.files", "make_file_tools")
        if make_file_tools is not None:
            for spec, handler in make_file_tools(lambda session: session.storage()):
                registry.add(spec, handler)
        make_web_tools = _maybe("ethos_core.tools.web", "make_web_tools")
        if make_web_tools is not None:
            for spec, handler in make_web_tools(lambda session, hosts=None: session.fetcher(hosts)):
                registry.add(spec, handler)
        make_shell_tool = _maybe("ethos_core.tools.shell", "make_shell_tool")
        if make_shell_tool is not None:
            spec, handler = make_shell_tool(self.runtime.home.root / "sessions", ethos_home=str(self.runtime.home.root))
            registry.add(spec, _cwd_checked(handler))


def _cwd_checked(handler: Any) -> Any:
    """The shell's working directory must be inside the personality's write reach (stage ⑨)."""

    def run(call: Any, session: Any) -> Any:
        if call.cwd:
            from ethos_core.errors import ActionDenied

            decision = session.judge_path(call.cwd, "write")
            if not decision.allowed:
                raise ActionDenied(decision)
        return handler(call, session)

    return run


def make_plugin(runtime: Runtime) -> object:
    return BuiltinTools(runtime)
