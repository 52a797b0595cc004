"""Stage ⑦ hardline blocklist: operations denied whatever the configuration says.

Floor until the shell engine lands: no opinion (the risk classifier floor sends every command
to approval, so nothing unjudged runs unattended).
"""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.stages import Stage
from ethos_core.types import Context, Decision, ToolCall


class HardlineFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_hardline(self, call: ToolCall, ctx: Context) -> Decision:
        return Decision.allow(Stage.HARDLINE, "hardline.none", "no hardline rule matched")


def make_plugin(runtime: Runtime) -> object:
    return HardlineFloor(runtime)
