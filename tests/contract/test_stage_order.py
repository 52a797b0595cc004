"""A recorded run shows the exact stage order ① → ⑮."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ethos_core import ArgRole, ToolCall, ToolSpec, hookimpl
from ethos_core.engine import Engine
from ethos_core.stages import STAGE_ORDER, Stage
from ethos_core.types import AgentEvent, ChannelPolicy, InboundMessage
from tests.conftest import make_home


class Recorder:
    """Implements every stage hook, records the order, and never changes an outcome."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _rec(self, stage: Stage) -> None:
        self.calls.append(stage.value)

    @hookimpl
    def ethos_channel_admit(self, message: Any, policy: Any, ctx: Any) -> None:
        self._rec(Stage.CHANNEL_ADMIT)

    @hookimpl
    def ethos_mention_gate(self, message: Any, policy: Any, ctx: Any) -> None:
        self._rec(Stage.MENTION_GATE)

    @hookimpl
    def ethos_context_visibility(self, message: Any, policy: Any, ctx: Any) -> None:
        self._rec(Stage.CONTEXT_VISIBILITY)

    @hookimpl
    def ethos_provenance(self, content: Any, ctx: Any) -> None:
        self._rec(Stage.PROVENANCE)

    @hookimpl
    def ethos_watch(self, event: Any, ctx: Any) -> None:
        self._rec(Stage.WATCH)

    @hookimpl
    def ethos_filter_toolset(self, tools: Any, ctx: Any) -> None:
        self._rec(Stage.FILTER_TOOLSET)

    @hookimpl
    def ethos_hardline(self, call: Any, ctx: Any) -> None:
        self._rec(Stage.HARDLINE)

    @hookimpl
    def ethos_classify_risk(self, call: Any, ctx: Any) -> None:
        self._rec(Stage.CLASSIFY_RISK)

    @hookimpl
    def ethos_fs_boundary(self, access: Any, ctx: Any) -> None:
        self._rec(Stage.FS_BOUNDARY)

    @hookimpl
    def ethos_network_reach(self, access: Any, ctx: Any) -> None:
        self._rec(Stage.NETWORK_REACH)

    @hookimpl
    def ethos_watcher_policy(self, call: Any, ctx: Any) -> None:
        self._rec(Stage.WATCHER_POLICY)

    @hookimpl
    def ethos_approval(self, request: Any, ctx: Any) -> None:
        self._rec(Stage.APPROVAL)

    @hookimpl
    def ethos_redact(self, text: Any, ctx: Any) -> None:
        # Audit rows are redacted too (ctx session "check"): that belongs to ⑮, not to ⑬.
        if ctx.session != "check":
            self._rec(Stage.REDACT)

    @hookimpl
    def ethos_wrap_untrusted(self, result: Any, ctx: Any) -> None:
        self._rec(Stage.WRAP_UNTRUSTED)

    @hookimpl
    def ethos_audit(self, event: Any) -> None:
        self._rec(Stage.AUDIT)

    @hookimpl
    def ethos_register_tools(self, registry: Any) -> None:
        registry.add(ToolSpec(name="probe", description="reads a path and a url",
                              arg_roles=(ArgRole("path", "path"), ArgRole("url", "url"))), lambda call, s: "probe output")


def test_recorded_turn_runs_stages_in_order(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h", toolset="- probe\n")
    recorder = Recorder()
    with Engine.from_home(home, plugins=[recorder], autoload=False) as engine:
        recorder.calls.clear()
        session = engine.session("default")
        policy = ChannelPolicy(platform="cli", owner="me")
        admitted = session.admit(InboundMessage("cli", "me", "me", "hello"), policy)
        assert admitted.decision.allowed
        session.prepare("hello", "channel", trusted=True)
        session.observe(AgentEvent(kind="model_text"))
        call = ToolCall("probe", {"path": str(home / "personalities/default/data/x.txt"),
                                   "url": "https://example.com/"})
        decision = session.before_tool(call)
        session.after_tool(call, engine_result(call))
    seen = [c for c in recorder.calls if c != "audit"]
    # ⑨ or ⑩ may deny (the floors are strict) — then ⑪ and ⑫ are not consulted; order still holds.
    expected = [s.value for s in STAGE_ORDER if s is not Stage.AUDIT]
    positions = [expected.index(c) for c in seen]
    assert positions == sorted(positions), seen
    assert seen[:6] == ["channel_admit", "mention_gate", "context_visibility", "provenance", "watch", "filter_toolset"]
    assert "hardline" in seen and "classify_risk" in seen and "fs_boundary" in seen
    assert seen[-2:] == ["redact", "wrap_untrusted"] or seen[-1] == "redact"
    assert "audit" in recorder.calls  # ⑮ ran for the tool call
    if decision.denied:
        assert decision.stage in (Stage.FS_BOUNDARY, Stage.NETWORK_REACH, Stage.APPROVAL)


def engine_result(call: ToolCall) -> Any:
    from ethos_core.types import ToolResult

    return ToolResult(call_id="1", tool=call.name, ok=True, content="probe output", source="web")
