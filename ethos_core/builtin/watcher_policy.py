"""Stage ⑪ watcher policy: the watcher's decision for this session, before every tool call.

Invariant: the decision reflects every event the session emitted before the call (the watcher
waits for its queue with a deadline); a stalled, crashed or missing watcher answers APPROVE
(the session pauses for its owner), never ALLOW. Plugins implementing ``ethos_watcher_policy``
can only make the result stricter (the pipeline reduces strictest-wins).
Not covered: thresholds and rules themselves (:mod:`ethos_core.watcher.rules`).
"""

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
        if watcher is None:
            return Decision.approve(
                Stage.WATCHER_POLICY, "watcher.crashed",
                "no watcher is attached to this engine; the call waits for its owner",
                evidence={"action": "pause", "error": "no watcher service"},
            )
        decision: Decision = watcher.decide(call, ctx)
        return decision


def make_plugin(runtime: Runtime) -> object:
    return WatcherPolicyFloor(runtime)
