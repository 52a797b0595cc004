"""Stage ⑤ watcher observe: every AgentEvent is handed to the out-of-band watcher."""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.types import AgentEvent, Context


class WatchFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_watch(self, event: AgentEvent, ctx: Context) -> None:
        watcher = self.runtime.service("watcher")
        if watcher is not None:
            watcher.observe(event, ctx)


def make_plugin(runtime: Runtime) -> object:
    return WatchFloor(runtime)
