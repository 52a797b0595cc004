"""Stage ⑧ risk classifier: tier-1 rules over the parsed command.

Invariant: a command call whose analysis matches a rule above ``low`` returns APPROVE with
``risk`` set (medium/high) and the rule id; the approval stage (⑫) then applies
``approvalMode`` (``off`` clears these flags, ``smart`` lets the tier-2 reviewer service
``runtime.services["reviewer"]`` — :class:`ethos_core.shell.reviewer.LLMReviewer` — clear low and
medium). Exec-capable tools without an inspectable command always need approval. The rules
are documented in :mod:`ethos_core.shell.risk`.
"""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.shell import judge_risk
from ethos_core.types import Context, Decision, ToolCall


class RiskFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_classify_risk(self, call: ToolCall, ctx: Context) -> Decision:
        return judge_risk(call, ctx, ethos_home=str(self.runtime.home.root))


def make_plugin(runtime: Runtime) -> object:
    return RiskFloor(runtime)
