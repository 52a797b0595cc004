"""Built-in implementations of lifecycle hooks (not stages): secret resolvers, tools, providers.

Each entry of :data:`LIFECYCLE_MODULES` is a module with ``make_plugin(runtime)``; they are
registered under ``ethos.builtin.lifecycle.<short name>`` right after the stage floors.
"""

from __future__ import annotations

import importlib

from ethos_core.runtime import Runtime

LIFECYCLE_MODULES: tuple[str, ...] = (
    "ethos_core.secrets.resolvers",
    "ethos_core.secrets.providers",
    "ethos_core.channel.cli_channel",
    "ethos_core.audit.sinks",
    "ethos_core.tools.builtin_tools",
    "ethos_core.providers",
)


def lifecycle_plugins(runtime: Runtime) -> list[tuple[str, object]]:
    plugins = []
    for module_name in LIFECYCLE_MODULES:
        module = importlib.import_module(module_name)
        short = module_name.rsplit(".", 1)[-1] if module_name.count(".") < 2 else module_name.split(".", 1)[1]
        plugins.append((f"ethos.builtin.lifecycle.{short}", module.make_plugin(runtime)))
    return plugins
