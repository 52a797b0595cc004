"""Stage ⑪ watcher policy: the watcher's current decision for this session."""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.stages import Stage
from ethos_core.types import Context, Decision, ToolCall


class WatcherPolicyFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_watcher_policy(self, call: ToolCall, ctx: Context) -> Decision:
        watcher = self.runtime.service("watcher")
        if watcher is not None:
            decision: Decision = watcher.decide(call, ctx)
            return decision
        return Decision.allow(Stage.WATCHER_POLICY, "watcher.ok", "no watcher rule triggered")


def make_plugin(runtime: Runtime) -> object:
    return WatcherPolicyFloor(runtime)
