"""The channel engine: stages ①–③ for one inbound message, the pairing reply, chat commands
(RBAC-gated) and handing admitted messages to the agent.

Invariants:
- nothing reaches the handler unless stage ① and ② (built-in + plugins, strictest wins) both
  ALLOW; every drop emits ``channel.deny`` and every admission ``channel.allow`` with the rule;
- a ``channel.pairing_required`` denial sends the sender (in their DM only) a code at most once
  per cooldown; every other denial is silent;
- the handler sees the message only after context visibility (③) was applied;
- ``/commands`` are executed by the engine, never by the model, and only for the roles in
  :data:`~ethos_core.channel.rbac.COMMAND_ROLES`; destructive ones need ``/confirm TOKEN`` from
  the same sender in the same chat within two minutes.
Not covered: what the agent does with an admitted message (stages ④–⑮).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ethos_core.channel.admission import PAIRING_REQUIRED, FailureTracker, pairing_store, sender_identity
from ethos_core.channel.approvals import ChatApprover
from ethos_core.channel.pairing import format_code
from ethos_core.channel.rbac import COMMAND_ROLES, DESTRUCTIVE, Role, RoleStore, may_run, required_role, role_of
from ethos_core.channel.visibility import allowed_authors, apply_context_visibility
from ethos_core.pipeline import Pipeline
from ethos_core.runtime import Runtime
from ethos_core.stages import Stage
from ethos_core.types import AuditEvent, ChannelPolicy, Context, ContextVisibility, Decision, InboundMessage
from ethos_core.verdicts import Verdict

Handler = Callable[[InboundMessage, str], "str | None"]
Send = Callable[[str], None]
CONFIRM_TTL = 120.0

__all__ = ["AdmitOutcome", "ChannelEngine", "HandleOutcome", "apply_context_visibility", "admit_message"]


@attrs.frozen
class AdmitOutcome:
    decision: Decision
    message: InboundMessage | None = None
    visibility: ContextVisibility | None = None

    @property
    def admitted(self) -> bool:
        return self.decision.verdict is Verdict.ALLOW


@attrs.frozen
class HandleOutcome:
    admitted: bool
    rule: str
    reply: str | None = None
    command: str | None = None


def _event_data(message: InboundMessage, decision: Decision) -> dict[str, Any]:
    return {"platform": message.platform, "sender": message.sender_id, "chat": message.chat_id,
            "dm": message.is_dm, "message_id": message.message_id, "edited": message.edited,
            "reason": decision.reason, "source": decision.source}


def admit_message(pipeline: Pipeline, runtime: Runtime, message: InboundMessage, policy: ChannelPolicy,
                  ctx: Context, failures: FailureTracker | None = None) -> AdmitOutcome:
    """Stages ①–③ with ``channel.allow``/``channel.deny`` events. What ``Session.admit`` should call."""
    admitted: Decision | None = None
    for stage_fn in (pipeline.channel_admit, pipeline.mention_gate):
        decision = stage_fn(message, policy, ctx)
        if decision.verdict is not Verdict.ALLOW:
            runtime.emit(AuditEvent(
                category="channel.deny", code=decision.rule, stage=decision.stage.value, rule=decision.rule,
                verdict=str(decision.verdict), source=decision.source, personality=ctx.personality.id,
                session=ctx.session, data=_event_data(message, decision),
            ))
            if failures is not None and decision.stage is Stage.CHANNEL_ADMIT:
                failures.record(message.platform, message.sender_id, decision.rule)
            return AdmitOutcome(decision)
        admitted = admitted or decision  # keep stage ①'s rule (channel.owner, …) for the event
    assert admitted is not None
    mode = pipeline.context_visibility(message, policy, ctx)
    paired: set[str] = set()
    for item in message.quoted:
        if item.author and item.author not in policy.allowed_senders and item.author != policy.owner:
            try:
                if pairing_store(runtime).is_approved(policy.platform, item.author):
                    paired.add(item.author)
            except Exception:  # noqa: BLE001 - unknown = not allowlisted (stricter)
                pass
    filtered = apply_context_visibility(message, mode, policy, allowed_authors(policy, paired))
    first = admitted
    runtime.emit(AuditEvent(
        category="channel.allow", code=first.rule, stage=Stage.CHANNEL_ADMIT.value, rule=first.rule,
        verdict="allow", personality=ctx.personality.id, session=ctx.session,
        data={**_event_data(message, first), "visibility": mode.value},
    ))
    return AdmitOutcome(first, filtered, mode)


@attrs.define
class _Pending:
    platform: str
    sender: str
    chat: str
    command: str
    args: tuple[str, ...]
    expires: float


class ChannelEngine:
    """Runs one inbound message end to end for the gateway (or a test)."""

    def __init__(self, runtime: Runtime, pipeline: Pipeline, *, approver: ChatApprover | None = None,
                 roles: RoleStore | None = None, status: Callable[[], Mapping[str, Any]] | None = None,
                 rollback: Callable[[str], str] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.runtime = runtime
        self.pipeline = pipeline
        self.approver = approver
        self.roles = roles
        self.status = status
        self.rollback = rollback
        self.failures = FailureTracker(runtime)
        self._clock = clock
        self._confirm: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    # --- stages ------------------------------------------------------------------------------

    def admit(self, message: InboundMessage, policy: ChannelPolicy, ctx: Context) -> AdmitOutcome:
        return admit_message(self.pipeline, self.runtime, message, policy, ctx, self.failures)

    def handle(self, message: InboundMessage, policy: ChannelPolicy, ctx: Context, send: Send,
               handler: Handler | None, session_key: str) -> HandleOutcome:
        """Admit, then run a command or the handler; replies go through ``send`` (to the chat)."""
        outcome = self.admit(message, policy, ctx)
        if not outcome.admitted:
            rule = outcome.decision.rule
            if rule == PAIRING_REQUIRED and message.is_dm and outcome.decision.source.startswith("ethos.builtin."):
                reply = self._pairing_reply(message)
                if reply is not None:
                    send(reply)
                return HandleOutcome(False, rule, reply)
            return HandleOutcome(False, rule)
        assert outcome.message is not None
        msg = outcome.message
        command = self._command_word(msg, policy)
        if command is not None:
            reply = self._run_command(command, msg, policy)
            if reply:
                send(reply)
            return HandleOutcome(True, outcome.decision.rule, reply, command)
        identity = sender_identity(msg, policy, lambda: pairing_store(self.runtime))
        role = role_of(msg.sender_id, policy, identity is not None, self.roles)
        if role is None or role < Role.MEMBER:
            return HandleOutcome(True, "rbac.viewer")
        reply = handler(msg, session_key) if handler is not None else None
        if reply:
            send(reply)
        return HandleOutcome(True, outcome.decision.rule, reply)

    def _pairing_reply(self, message: InboundMessage) -> str | None:
        result = pairing_store(self.runtime).issue(message.platform, message.sender_id, message.chat_id)
        if not result.issued or result.code is None:
            return None
        return (f"This bot only answers people its owner approved. Your pairing code is {format_code(result.code)} "
                "(valid for 1 hour). Send it to the owner and ask them to approve it.")

    # --- commands ----------------------------------------------------------------------------

    @staticmethod
    def _command_word(message: InboundMessage, policy: ChannelPolicy) -> str | None:
        text = message.text.strip()
        if not text.startswith("/") or message.edited:
            return None
        word = text.split(maxsplit=1)[0]
        if "@" in word:
            word, _, target = word.partition("@")
            if not policy.bot_username or target.lower() != policy.bot_username.lstrip("@").lower() or not target.isascii():
                return None
        word = word.lower()
        return word if word.isascii() else None

    def _role(self, message: InboundMessage, policy: ChannelPolicy) -> Role | None:
        identity = sender_identity(message, policy, lambda: pairing_store(self.runtime))
        return role_of(message.sender_id, policy, identity is not None, self.roles)

    def _deny_command(self, message: InboundMessage, policy: ChannelPolicy, command: str, rule: str, reason: str) -> str:
        self.runtime.emit(AuditEvent(
            category="channel.deny", code="command", stage=Stage.CHANNEL_ADMIT.value, rule=rule, verdict="deny",
            severity="warning",
            data={"platform": policy.platform, "sender": message.sender_id, "chat": message.chat_id,
                  "command": command, "reason": reason},
        ))
        self.failures.record(policy.platform, message.sender_id, rule)
        return reason

    def _run_command(self, command: str, message: InboundMessage, policy: ChannelPolicy) -> str | None:
        role = self._role(message, policy)
        args = tuple(message.text.strip().split()[1:])
        if not may_run(role, command):
            need = required_role(command)
            return self._deny_command(message, policy, command, "rbac.forbidden", f"{command} needs the {need} role.")
        if command == "/confirm":
            return self._confirm_command(message, policy, args)
        if command in DESTRUCTIVE:
            token = secrets.token_hex(3)
            with self._lock:
                now = self._clock()
                self._confirm = {k: v for k, v in self._confirm.items() if v.expires > now}
                self._confirm[token] = _Pending(policy.platform, message.sender_id, message.chat_id, command, args,
                                                now + CONFIRM_TTL)
            return f"{command} {' '.join(args)} is destructive. Reply /confirm {token} within 2 minutes to proceed."
        return self._execute(command, args, message, policy, role)

    def _confirm_command(self, message: InboundMessage, policy: ChannelPolicy, args: tuple[str, ...]) -> str:
        token = args[0] if args else ""
        with self._lock:
            pending = self._confirm.pop(token, None)
        if (pending is None or pending.expires <= self._clock() or pending.sender != message.sender_id
                or pending.chat != message.chat_id or pending.platform != policy.platform):
            if pending is not None and pending.sender != message.sender_id:
                with self._lock:  # someone else's token: leave it for its owner
                    self._confirm.setdefault(token, pending)
            return self._deny_command(message, policy, "/confirm", "rbac.bad_confirmation",
                                      "Nothing to confirm (unknown, expired or not yours).")
        role = self._role(message, policy)
        if not may_run(role, pending.command):  # role may have changed meanwhile
            return self._deny_command(message, policy, pending.command, "rbac.forbidden", "Not permitted any more.")
        return self._execute(pending.command, pending.args, message, policy, role)

    def _execute(self, command: str, args: tuple[str, ...], message: InboundMessage, policy: ChannelPolicy,
                 role: Role | None) -> str:
        actor = f"{policy.platform}:{message.sender_id}"
        if command == "/help":
            allowed = sorted(c for c in COMMAND_ROLES if may_run(role, c))
            return "Commands: " + " ".join(allowed)
        if command == "/status":
            info = dict(self.status()) if self.status is not None else {}
            info.setdefault("role", str(role))
            return "Status: " + ", ".join(f"{k}={v}" for k, v in sorted(info.items()))
        if command == "/pair":
            if not message.is_dm:
                return self._deny_command(message, policy, command, "pairing.not_dm", "Use /pair in a direct message.")
            if len(args) != 1:
                return "Usage: /pair CODE"
            result = pairing_store(self.runtime).approve(args[0], approver=actor, platform=policy.platform)
            if result.approved:
                return f"Paired sender {result.sender}."
            self.failures.record(policy.platform, message.sender_id, result.rule)
            return f"Pairing failed: {result.reason}."
        if command in ("/approve", "/deny"):
            if self.approver is None or not args:
                return f"Usage: {command} ID" + (" [once|session|always]" if command == "/approve" else "")
            scope = args[1].lower() if len(args) > 1 else "once"
            ok, rule, reason = self.approver.answer(args[0], approved=command == "/approve", actor=actor,
                                                    actor_role=role, scope=scope)
            if not ok:
                self.failures.record(policy.platform, message.sender_id, rule)
                return f"Refused: {reason}."
            return f"Request {args[0].upper()} {reason}."
        if command == "/revoke":
            if len(args) != 1:
                return "Usage: /revoke SENDER|CODE"
            gone = pairing_store(self.runtime).revoke(args[0], actor=actor, platform=policy.platform)
            return f"Revoked {len(gone)} item(s)."
        if command == "/role":
            return self._role_command(args, message, policy, role, actor)
        if command == "/rollback":
            if self.rollback is None:
                return "Rollback is not available in this gateway."
            return self.rollback(" ".join(args))
        return self._deny_command(message, policy, command, "rbac.unknown_command", f"Unknown command {command}.")

    def _role_command(self, args: tuple[str, ...], message: InboundMessage, policy: ChannelPolicy, role: Role | None,
                      actor: str) -> str:
        if len(args) != 2 or self.roles is None:
            return "Usage: /role SENDER viewer|member|operator|admin"
        target, new_name = args
        target_msg = attrs.evolve(message, sender_id=target)
        target_role = self._role(target_msg, policy)
        ok, rule, reason = self.roles.change(policy, message.sender_id, role, target, Role.parse(new_name), target_role)
        if not ok:
            self.failures.record(policy.platform, message.sender_id, rule)
            return f"Refused: {reason}."
        return f"Role of {target} set to {new_name.lower()}."
