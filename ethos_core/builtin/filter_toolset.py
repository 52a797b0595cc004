"""Stage ⑥ toolset filter: the personality's ``toolset.yaml`` is a hard allowlist.

Invariant: a tool not named in ``toolset.yaml`` is never offered to the model and never runs;
a missing, empty or comments-only file means no tools at all. Unknown names in the file are a
configuration error (reported by ``ethos config validate``), never silently ignored.
"""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.types import Context


class ToolsetFilter:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_filter_toolset(self, tools: frozenset[str], ctx: Context) -> frozenset[str]:
        return tools & ctx.personality.toolset


def make_plugin(runtime: Runtime) -> object:
    return ToolsetFilter(runtime)
