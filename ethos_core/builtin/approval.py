"""Stage ⑫ approval: what stages ⑦–⑪ flagged waits for an authorised human.

Invariants:
- ``manual``: any flag (APPROVE from stages 7–11) needs a human.
- ``smart``: a tier-2 reviewer (service ``reviewer``; never the acting model) may clear flags
  whose risk is low or medium and that came from the risk classifier; anything else, or a
  reviewer error/timeout, goes to the human.
- ``off``: no prompt for the risk classifier's flags; flags from the filesystem, network or
  watcher floors still need a human, and their denials were final before this stage.
The engine resolves APPROVE with its Approver; no approver or a timeout denies.
"""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.stages import Stage
from ethos_core.types import ApprovalMode, ApprovalRequest, Context, Decision
from ethos_core.verdicts import Verdict

RELAXABLE_RISKS = frozenset({"low", "medium"})
_NOT_NEEDED = Decision.allow(Stage.APPROVAL, "approval.not_needed", "nothing was flagged")


class ApprovalFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_approval(self, request: ApprovalRequest, ctx: Context) -> Decision:
        if not request.flagged:  # the common case: nothing to look at
            return _NOT_NEEDED
        flagged = [d for d in request.flagged if d.verdict is not Verdict.ALLOW]
        if any(d.verdict is Verdict.DENY for d in flagged):
            first = next(d for d in flagged if d.verdict is Verdict.DENY)
            return Decision.deny(Stage.APPROVAL, first.rule, first.reason)
        if not flagged:
            return _NOT_NEEDED
        mode = ctx.personality.safety.approval_mode
        from_classifier_only = all(d.stage is Stage.CLASSIFY_RISK and d.risk != "hardline" for d in flagged)
        if mode is ApprovalMode.OFF and from_classifier_only:
            return Decision.allow(Stage.APPROVAL, "approval.mode_off", "approvalMode is off for classifier risk")
        if mode is ApprovalMode.SMART and from_classifier_only and all(d.risk in RELAXABLE_RISKS for d in flagged):
            reviewer = self.runtime.service("reviewer")
            if reviewer is not None:
                try:
                    cleared = bool(reviewer.review(request, ctx))
                except Exception:  # noqa: BLE001 - a failing reviewer asks the human
                    cleared = False
                if cleared:
                    return Decision.allow(Stage.APPROVAL, "approval.reviewer", "cleared by the tier-2 reviewer")
        reasons = "; ".join(f"{d.rule}: {d.reason}" for d in flagged)
        return Decision.approve(Stage.APPROVAL, "approval.required", f"needs a human ({reasons})")


def make_plugin(runtime: Runtime) -> object:
    return ApprovalFloor(runtime)
