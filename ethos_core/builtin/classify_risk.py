"""Stage ⑧ risk classifier. Floor until the shell engine lands: every command goes to approval."""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.stages import Stage
from ethos_core.types import Capability, Context, Decision, ToolCall


class RiskFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_classify_risk(self, call: ToolCall, ctx: Context) -> Decision:
        if Capability.EXEC in call.capabilities or "command" in call.args:
            return Decision.approve(
                Stage.CLASSIFY_RISK, "risk.unjudged_command", "commands need approval", risk="high"
            )
        return Decision.allow(Stage.CLASSIFY_RISK, "risk.low", "no risk rule matched", risk="low")


def make_plugin(runtime: Runtime) -> object:
    return RiskFloor(runtime)
