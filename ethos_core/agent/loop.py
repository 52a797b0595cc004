"""The reference agent loop: one turn = model ↔ tools until the model answers, a budget runs out
or the watcher ends the turn. Built only on the public Engine/Session API (DESIGN.md §9).

Per turn:
- the user text enters through ``Session.prepare`` (④: sanitised, wrapped when untrusted);
- the system prompt always starts with the injection-defense prelude;
- at every step boundary the watcher's standing decision is checked (⑤/⑪): terminate ends the
  turn before the next tool runs — including the rest of a parallel batch; pause asks the owner;
- every tool call goes through ``Session.run_tool`` (⑥–⑮);
- the final answer is redacted and its links to hosts outside networkReach are made inert
  before it leaves (outbound scrubbing).
Budgets: model iterations and tool calls per turn.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ethos_core.approvals import ask
from ethos_core.engine import ProcessedResult, Session
from ethos_core.providers.base import LLMProvider, Message, ModelTurn
from ethos_core.stages import Stage
from ethos_core.types import AgentEvent, ApprovalRequest, AuditEvent, Decision, ToolCall
from ethos_core.verdicts import Verdict

DEFAULT_MAX_ITERATIONS = 8
DEFAULT_MAX_TOOL_CALLS = 16


@attrs.frozen
class ToolOutcome:
    call: ToolCall
    processed: ProcessedResult

    @property
    def blocked(self) -> bool:
        return not self.processed.result.ok and self.processed.result.source == "ethos"


@attrs.frozen
class LoopEvent:
    """Streamed to ``on_event``: ``text`` (a model delta or answer), ``tool`` (an outcome),
    ``block`` (a refusal: stage, rule, reason), ``stop`` (why the turn ended)."""

    kind: str
    text: str = ""
    outcome: ToolOutcome | None = None
    decision: Decision | None = None


@attrs.frozen
class TurnResult:
    text: str
    outcomes: tuple[ToolOutcome, ...]
    stopped: str | None = None  # None = the model answered; else why the loop stopped
    scrubbed_links: int = 0


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


class AgentLoop:
    """Drives one Session with one provider."""

    def __init__(self, session: Session, provider: LLMProvider, *, max_iterations: int = DEFAULT_MAX_ITERATIONS,
                 max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS, stream: bool = False,
                 on_event: Callable[[LoopEvent], None] | None = None):
        self.session = session
        self.provider = provider
        self.max_iterations = max_iterations
        self.max_tool_calls = max_tool_calls
        self.stream = stream
        self.on_event = on_event or (lambda event: None)
        self.messages: list[Message] = [Message("system", self._system_prompt())]

    def _system_prompt(self) -> str:
        prelude = _optional("ethos_core.injection.prelude")
        prompt = self.session.personality.system_prompt
        if prelude is not None:
            text: str = prelude.system_prompt(prompt, self.session.nonce)
            return text
        return prompt

    # --- watcher gate ----------------------------------------------------------------------

    def _watcher_gate(self) -> Decision | None:
        """The watcher's standing decision at a step boundary; None when it allows."""
        watcher = self.session.engine.runtime.service("watcher")
        if watcher is None or not hasattr(watcher, "current"):
            return None
        decision: Decision = watcher.current(self.session.id, bot=self.session.bot)
        if decision.verdict is Verdict.ALLOW:
            return None
        if decision.verdict is Verdict.APPROVE:
            request = ApprovalRequest(call=ToolCall("continue_turn", {"reason": decision.reason}), flagged=(decision,),
                                      personality=self.session.personality.id, session=self.session.id)
            answer = ask(self.session.approver, request, self.session.engine.runtime.config.approvals.timeout_seconds)
            self.session.engine.emit(AuditEvent(
                category="audit.approval", code="approval.granted" if answer.approved else "approval.denied",
                personality=self.session.personality.id, session=self.session.id, turn=self.session.turn,
                stage=Stage.WATCHER_POLICY.value, rule=decision.rule, verdict="allow" if answer.approved else "deny",
                data={"approver": answer.approver, "reason": answer.reason, "paused_by": decision.rule}))
            # Tell the watcher the owner acknowledged the pause (resets those rules' counters).
            self.session.observe(AgentEvent(kind="approval", data={"approved": answer.approved, "rules": [decision.rule]}))
            return None if answer.approved else decision
        return decision

    # --- one turn --------------------------------------------------------------------------

    def run_turn(self, text: str, *, source: str = "owner", trusted: bool = True, author: str | None = None,
                 context: Sequence[tuple[str, str | None]] = ()) -> TurnResult:
        """One turn. ``context`` holds (text, author) entries — quoted, forwarded or history text —
        that always enter as untrusted content, whoever sent the message."""
        session = self.session
        session.new_turn()
        for extra_text, extra_author in context:
            self.messages.append(Message("user", session.prepare(extra_text, "channel", trusted=False, author=extra_author)))
        self.messages.append(Message("user", session.prepare(text, source, trusted=trusted, author=author)))
        outcomes: list[ToolOutcome] = []
        calls_made = 0
        for _ in range(self.max_iterations):
            gate = self._watcher_gate()
            if gate is not None:
                return self._stop(outcomes, f"the watcher ended the turn ({gate.rule}): {gate.reason}", gate)
            turn = self._ask_model()
            if turn is None:
                return self._stop(outcomes, "the model provider failed")
            session.observe(AgentEvent(kind="model_text", data={"chars": len(turn.text)}))
            if turn.usage:
                session.observe(AgentEvent(kind="usage", data=dict(turn.usage)))
            self.messages.append(Message("assistant", turn.text, tool_calls=turn.tool_calls))
            if not turn.tool_calls:
                return self._finish(turn.text, outcomes)
            for index, call in enumerate(turn.tool_calls):
                gate = self._watcher_gate()
                if gate is not None and gate.verdict is Verdict.DENY:
                    for skipped in turn.tool_calls[index:]:
                        self.messages.append(Message("tool", f"not run: the turn was terminated ({gate.rule})",
                                                     tool_call_id=skipped.call_id))
                    return self._stop(outcomes, f"the watcher ended the turn ({gate.rule}): {gate.reason}", gate)
                if calls_made >= self.max_tool_calls:
                    for skipped in turn.tool_calls[index:]:
                        self.messages.append(Message("tool", "not run: tool-call budget for this turn is spent",
                                                     tool_call_id=skipped.call_id))
                    return self._stop(outcomes, f"tool-call budget of {self.max_tool_calls} per turn spent")
                calls_made += 1
                processed = session.run_tool(call)
                outcome = ToolOutcome(call, processed)
                outcomes.append(outcome)
                self.on_event(LoopEvent("tool", outcome=outcome))
                if outcome.blocked:
                    self.on_event(LoopEvent("block", text=processed.result.error or "", outcome=outcome))
                self.messages.append(Message("tool", processed.text, tool_call_id=call.call_id))
                if session.turn_over:
                    for skipped in turn.tool_calls[index + 1:]:
                        self.messages.append(Message("tool", "not run: the turn ended after repeated refusals",
                                                     tool_call_id=skipped.call_id))
                    return self._stop(outcomes, "three refusals in a row: the turn ended")
        return self._stop(outcomes, f"iteration budget of {self.max_iterations} model calls spent")

    def _ask_model(self) -> ModelTurn | None:
        tools = [t.spec for t in self.session.tool_specs()]
        try:
            if not self.stream:
                return self.provider.chat(self.messages, tools)
            final: ModelTurn | None = None
            for event in self.provider.stream(self.messages, tools):
                if event.kind == "text":
                    self.on_event(LoopEvent("text", text=self.session.redact(event.text)))
                elif event.kind == "done":
                    final = event.turn
            return final
        except Exception as exc:  # noqa: BLE001 - a provider failure ends the turn, audited
            self.session.observe(AgentEvent(kind="error", data={"error": type(exc).__name__}))
            self.session.engine.emit(AuditEvent(category="audit.tool_call", code="model.error",
                                                personality=self.session.personality.id, session=self.session.id,
                                                turn=self.session.turn, verdict="deny",
                                                data={"error": f"{type(exc).__name__}: {exc}"}))
            return None

    def _outbound(self, text: str) -> tuple[str, int]:
        """Redact, then make links to hosts outside networkReach inert (no client auto-fetch)."""
        text = self.session.redact(text)
        outbound = _optional("ethos_core.injection.outbound")
        if outbound is None or not hasattr(outbound, "scrub_outbound"):
            return text, 0
        scrubbed, count = outbound.scrub_outbound(text, self.session.personality.safety.network_reach)
        if count:
            self.session.engine.emit(AuditEvent(
                category="audit.block", code="outbound.link_scrubbed", severity="warning",
                personality=self.session.personality.id, session=self.session.id, turn=self.session.turn,
                stage=Stage.WRAP_UNTRUSTED.value, rule="outbound.link_scrubbed", verdict="deny",
                data={"links": count}))
        return str(scrubbed), int(count)

    def _finish(self, text: str, outcomes: list[ToolOutcome]) -> TurnResult:
        out, scrubbed = self._outbound(text)
        self.session.observe(AgentEvent(kind="done"))
        self.on_event(LoopEvent("text", text=out))
        return TurnResult(out, tuple(outcomes), None, scrubbed)

    def _stop(self, outcomes: list[ToolOutcome], why: str, decision: Decision | None = None) -> TurnResult:
        self.session.observe(AgentEvent(kind="done", data={"stopped": why}))
        self.on_event(LoopEvent("stop", text=why, decision=decision))
        return TurnResult(f"[stopped: {why}]", tuple(outcomes), why)


__all__ = ["AgentLoop", "LoopEvent", "ToolOutcome", "TurnResult"]
