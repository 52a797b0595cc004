"""Stage ⑦ hardline blocklist: operations denied whatever the configuration says.

Invariant: every command call (``shell``, or ``exec`` capability with a ``command`` argument)
is judged on a real bash parse by :func:`ethos_core.shell.judge_hardline`; a hardline rule or an
input that cannot be parsed is a DENY no approval can lift. Other tools get ``hardline.none``.
The rules, and what they do not cover, are documented in :mod:`ethos_core.shell.hardline`.
"""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.shell import judge_hardline
from ethos_core.types import Context, Decision, ToolCall


class HardlineFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_hardline(self, call: ToolCall, ctx: Context) -> Decision:
        return judge_hardline(call, ctx, ethos_home=str(self.runtime.home.root))


def make_plugin(runtime: Runtime) -> object:
    return HardlineFloor(runtime)
