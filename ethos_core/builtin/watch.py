"""Stage ⑤ watcher observe: every AgentEvent is handed to the out-of-band watcher.

Invariant: the built-in forwards every event of every session to the engine's watcher
(``runtime.services["watcher"]``) without blocking the agent's loop; the watcher's bounded queue
makes a lost event visible as a paused session (``watcher.stalled``), never a silent gap.
Not covered: judging events (stage ⑪ does that) and engines that attach no watcher (stage ⑪
then pauses every call).
"""

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
