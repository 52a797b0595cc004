"""Stage ⑫ bypass classes: nothing flagged runs without an authorised human, and every way an
approver can fail is a denial."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import attrs
import pytest

from ethos_core import Capability, ToolCall, ToolSpec, hookimpl
from ethos_core.approvals import CallbackApprover, TerminalApprover, ask
from ethos_core.engine import Engine
from ethos_core.stages import Stage
from ethos_core.types import ApprovalAnswer, ApprovalMode, ApprovalRequest, Context, Decision, Personality, SafetyPolicy
from ethos_core.verdicts import Verdict
from tests.conftest import make_home

FLAGGING = "git push --force origin main"


class RunnerTool:
    @hookimpl
    def ethos_register_tools(self, registry: Any) -> None:
        registry.add(ToolSpec(name="runner", description="runs a command", capabilities={Capability.EXEC}),
                     lambda call, session: "ran")


def engine_for(tmp_path: Path, mode: str = "manual", approver: Any = None, plugins: tuple[object, ...] = ()) -> Engine:
    home = make_home(tmp_path / "h", toolset="- runner\n", personality_config=f"safety:\n  approvalMode: {mode}\n")
    return Engine.from_home(home, plugins=[RunnerTool(), *plugins], autoload=False, approver=approver)


def call() -> ToolCall:
    return ToolCall("runner", {"command": FLAGGING})


def request(*flags: Decision) -> ApprovalRequest:
    return ApprovalRequest(ToolCall("runner", {"command": FLAGGING}), flags)


def ctx(mode: ApprovalMode) -> Context:
    return Context(personality=Personality(id="p", directory="/tmp/p", safety=SafetyPolicy(approval_mode=mode)))


def test_no_approver_means_deny(tmp_path: Path) -> None:
    with engine_for(tmp_path) as engine:
        d = engine.session("default").before_tool(call())
    assert d.verdict is Verdict.DENY and d.rule == "approval.denied" and "no approver" in d.reason


def test_approver_that_raises_denies() -> None:
    def boom(req: ApprovalRequest) -> bool:
        raise RuntimeError("chat adapter down")

    answer = ask(CallbackApprover(boom), request(), timeout=5)
    assert not answer.approved and "RuntimeError" in answer.reason


def test_approver_timeout_is_a_denial_not_a_failure(tmp_path: Path) -> None:
    release = threading.Event()

    def slow(req: ApprovalRequest) -> bool:
        release.wait(5)
        return True

    answer = ask(CallbackApprover(slow), request(), timeout=0.05)
    release.set()
    assert not answer.approved and "timeout is a denial" in answer.reason


@pytest.mark.parametrize("returned", ["yes", 1, "true", None, {"approved": True}])
def test_truthy_but_not_true_answers_deny(returned: Any) -> None:
    answer = ask(CallbackApprover(lambda req: returned), request(), timeout=5)
    assert not answer.approved


def test_unknown_scope_is_refused() -> None:
    answer = ask(CallbackApprover(lambda req: ApprovalAnswer(approved=True, scope="forever")), request(), timeout=5)
    assert not answer.approved and "scope" in answer.reason


def test_approver_returning_wrong_type_denies() -> None:
    class Weird:
        def request(self, req: ApprovalRequest) -> object:
            return True

    assert not ask(Weird(), request(), timeout=5).approved  # type: ignore[arg-type]


@pytest.mark.parametrize("line", ["", "\n", "n\n", "maybe\n", "Y E S\n", "yes please\n"])
def test_terminal_approver_denies_anything_but_explicit_yes(line: str) -> None:
    import io

    answer = TerminalApprover(stdin=io.StringIO(line), stdout=io.StringIO()).request(request())
    assert not answer.approved


def test_mode_off_clears_only_classifier_flags(tmp_path: Path) -> None:
    with engine_for(tmp_path, "off") as engine:
        p = engine.pipeline
        classifier = Decision.approve(Stage.CLASSIFY_RISK, "risk.vcs_rewrite", "force push", risk="high")
        assert p.approval(request(classifier), ctx(ApprovalMode.OFF)).verdict is Verdict.ALLOW
        for stage in (Stage.FS_BOUNDARY, Stage.NETWORK_REACH, Stage.WATCHER_POLICY, Stage.HARDLINE):
            flag = Decision.approve(stage, f"{stage.value}.flag", "needs a human")
            assert p.approval(request(classifier, flag), ctx(ApprovalMode.OFF)).verdict is Verdict.APPROVE, stage
        hardline_risk = Decision.approve(Stage.CLASSIFY_RISK, "risk.x", "x", risk="hardline")
        assert p.approval(request(hardline_risk), ctx(ApprovalMode.OFF)).verdict is Verdict.APPROVE
        deny = Decision.deny(Stage.FS_BOUNDARY, "fs.floor.ssh", "floor")
        assert p.approval(request(deny), ctx(ApprovalMode.OFF)).verdict is Verdict.DENY


def test_mode_off_still_denies_floor_denials_end_to_end(tmp_path: Path) -> None:
    class PathTool:
        @hookimpl
        def ethos_register_tools(self, registry: Any) -> None:
            from ethos_core import ArgRole

            registry.add(ToolSpec(name="reader", description="reads", capabilities={Capability.READ_FS},
                                  arg_roles=(ArgRole("path", "path"),)), lambda call, s: "x")

    home = make_home(tmp_path / "h2", toolset="- reader\n", personality_config="safety:\n  approvalMode: off\n")
    with Engine.from_home(home, plugins=[PathTool()], autoload=False,
                          approver=CallbackApprover(lambda r: True)) as engine:
        d = engine.session("default").before_tool(ToolCall("reader", {"path": str(Path.home() / ".ssh/id_rsa")}))
    assert d.verdict is Verdict.DENY and d.stage is Stage.FS_BOUNDARY


def test_smart_mode_reviewer_cannot_clear_high_risk_or_failures(tmp_path: Path) -> None:
    class Reviewer:
        def __init__(self, result: Any) -> None:
            self.result = result
            self.calls = 0

        def review(self, req: ApprovalRequest, c: Context) -> bool:
            self.calls += 1
            if isinstance(self.result, Exception):
                raise self.result
            return bool(self.result)

    with engine_for(tmp_path, "smart") as engine:
        p = engine.pipeline
        medium = Decision.approve(Stage.CLASSIFY_RISK, "risk.pkg", "install", risk="medium")
        high = Decision.approve(Stage.CLASSIFY_RISK, "risk.vcs", "rewrite", risk="high")
        yes = Reviewer(True)
        engine.runtime.services["reviewer"] = yes
        assert p.approval(request(medium), ctx(ApprovalMode.SMART)).verdict is Verdict.ALLOW
        assert p.approval(request(high), ctx(ApprovalMode.SMART)).verdict is Verdict.APPROVE
        engine.runtime.services["reviewer"] = Reviewer(RuntimeError("provider 500"))
        assert p.approval(request(medium), ctx(ApprovalMode.SMART)).verdict is Verdict.APPROVE
        engine.runtime.services["reviewer"] = Reviewer(False)
        assert p.approval(request(medium), ctx(ApprovalMode.SMART)).verdict is Verdict.APPROVE


def test_plugin_allow_at_approval_stage_does_not_skip_the_human(tmp_path: Path) -> None:
    class PreApprove:
        @hookimpl
        def ethos_approval(self, request: Any, ctx: Any) -> Decision:
            return Decision.allow(Stage.APPROVAL, "pre", "pre-approved")

    asked: list[ApprovalRequest] = []

    def human(req: ApprovalRequest) -> bool:
        asked.append(req)
        return False

    with engine_for(tmp_path, approver=CallbackApprover(human), plugins=(PreApprove(),)) as engine:
        d = engine.session("default").before_tool(call())
    assert d.verdict is Verdict.DENY and len(asked) == 1


def test_three_denials_end_the_turn(tmp_path: Path) -> None:
    with engine_for(tmp_path, approver=CallbackApprover(lambda r: False)) as engine:
        s = engine.session("default")
        s.new_turn()
        variants = [FLAGGING, "git push -f origin main", "git  push --force-with-lease origin main"]
        decisions = [s.before_tool(ToolCall("runner", {"command": v})) for v in variants]
    assert all(d.verdict is Verdict.DENY for d in decisions)
    assert s.turn_over and "stop trying variants" in decisions[-1].reason


def test_session_scope_grant_covers_only_identical_calls(tmp_path: Path) -> None:
    answers = iter([ApprovalAnswer(approved=True, approver="owner", scope="session")])
    asked: list[ApprovalRequest] = []

    def human(req: ApprovalRequest) -> ApprovalAnswer:
        asked.append(req)
        return next(answers, ApprovalAnswer(approved=False, approver="owner"))

    with engine_for(tmp_path, approver=CallbackApprover(human)) as engine:
        s = engine.session("default")
        assert s.before_tool(call()).verdict is Verdict.ALLOW
        assert s.before_tool(call()).verdict is Verdict.ALLOW
        other = ToolCall("runner", {"command": FLAGGING + " --tags"})
        assert s.before_tool(other).verdict is Verdict.DENY
        fresh = engine.session("default")
        assert fresh.before_tool(call()).verdict is Verdict.DENY
    assert len(asked) == 3


def test_every_approval_decision_is_audited(tmp_path: Path) -> None:
    with engine_for(tmp_path, approver=CallbackApprover(lambda r: True)) as engine:
        events: list[Any] = []
        engine.runtime.services["audit"] = type("Mem", (), {"write": lambda self, e: events.append(e)})()
        engine.session("default").before_tool(call())
    approvals = [e for e in events if e.category == "audit.approval"]
    assert approvals and approvals[0].data["approved"] is True and approvals[0].data["scope"] == "once"


def test_model_cannot_claim_capabilities(tmp_path: Path) -> None:
    """The model's ToolCall capabilities are replaced by the registered spec's."""
    with engine_for(tmp_path) as engine:
        d = engine.session("default").before_tool(attrs.evolve(call(), capabilities=frozenset()))
    assert d.verdict is Verdict.DENY and d.rule == "approval.denied"


def test_slow_approver_does_not_block_past_timeout(tmp_path: Path) -> None:
    gate = threading.Event()

    def never(req: ApprovalRequest) -> bool:
        gate.wait(10)
        return True

    home = make_home(tmp_path / "h", toolset="- runner\n", config="approvals:\n  timeoutSeconds: 0.1\n")
    with Engine.from_home(home, plugins=[RunnerTool()], autoload=False, approver=CallbackApprover(never)) as engine:
        start = time.monotonic()
        d = engine.session("default").before_tool(call())
        elapsed = time.monotonic() - start
    gate.set()
    assert d.verdict is Verdict.DENY and "timeout" in d.reason
    assert elapsed < 9  # sanity: the timeout, not the approver, ended the wait
