"""Approvals over chat: an :class:`~ethos_core.approvals.Approver` that asks the owner or an
admin in their chat and waits for ``/approve ID [once|session|always]`` or ``/deny ID``.

Invariants:
- every request gets a fresh random id (8 symbols, ~39 bits) bound to a digest of the tool
  call and session; an answer names that id and can only settle that one pending request, once
  (atomic ``UPDATE … WHERE state = 'pending'`` in ``state.db``, table ``channel_approvals``);
- only senders whose role is admin or above may answer (the channel engine passes the role);
  anyone else is refused with ``rbac.forbidden`` and the request stays pending;
- no delivery target, an unknown scope, or no answer before the deadline is a denial; the row is
  then marked ``expired`` so a late ``/approve`` cannot resurrect it;
- requests and answers survive a restart: a request re-asked with the same ``request_id`` and the
  same call resumes waiting on (or gets the stored answer of) the same chat id.
Not covered: an approver account that was taken over (roles are per account, not per person).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ethos_core.channel.pairing import ALPHABET, _immediate, connect
from ethos_core.channel.rbac import Role
from ethos_core.types import ApprovalAnswer, ApprovalRequest, AuditEvent, thaw

SCOPES = ("once", "session", "always")
ID_LENGTH = 8

SCHEMA = """
CREATE TABLE IF NOT EXISTS channel_approvals (
    id TEXT PRIMARY KEY,
    ext_id TEXT,
    digest TEXT NOT NULL,
    summary TEXT NOT NULL,
    state TEXT NOT NULL,
    scope TEXT,
    approver TEXT,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    decided REAL
) STRICT;
"""


def request_digest(request: ApprovalRequest) -> str:
    body = json.dumps(
        {"tool": request.call.name, "args": thaw(request.call.args), "session": request.session,
         "personality": request.personality},
        sort_keys=True, default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def normalize_id(text: str) -> str | None:
    if not text.isascii():
        return None
    text = text.strip().upper()
    if len(text) != ID_LENGTH or any(ch not in ALPHABET for ch in text):
        return None
    return text


class ChatApprover:
    """Delivers approval requests to chat targets and waits for an authorised answer."""

    def __init__(self, state_db: str | Path, *, timeout: float = 300.0, emit: Callable[[AuditEvent], None] | None = None,
                 poll_interval: float = 0.25, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(state_db)
        self.timeout = timeout
        self._emit = emit
        self._poll = poll_interval
        self._clock = clock
        self._targets: dict[str, Callable[[str], None]] = {}
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        conn = connect(self.path)
        try:
            conn.executescript(SCHEMA)
        finally:
            conn.close()

    name = "chat"

    def add_target(self, key: str, send: Callable[[str], None]) -> None:
        """Register a chat (an owner's or admin's DM) that receives approval requests."""
        with self._lock:
            self._targets[key] = send

    def remove_target(self, key: str) -> None:
        with self._lock:
            self._targets.pop(key, None)

    # --- asking ------------------------------------------------------------------------------

    def request(self, request: ApprovalRequest) -> ApprovalAnswer:
        digest = request_digest(request)
        now = self._clock()
        ext_id = request.request_id or None
        conn = connect(self.path)
        try:
            row = None
            if ext_id is not None:
                row = conn.execute(
                    "SELECT id, digest, state, scope, approver FROM channel_approvals WHERE ext_id = ?"
                    " ORDER BY created DESC LIMIT 1", (ext_id,)).fetchone()
            if row is not None:
                req_id = str(row[0])
                if row[1] != digest:
                    return ApprovalAnswer(False, reason="approval id is bound to a different request")
                if row[2] != "pending":
                    return self._answer_from(row[2], row[3], row[4])
            else:
                req_id = "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH))
                with _immediate(conn):
                    conn.execute(
                        "INSERT INTO channel_approvals (id, ext_id, digest, summary, state, created, expires)"
                        " VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                        (req_id, ext_id, digest, self._summary(request), now, now + self.timeout),
                    )
        finally:
            conn.close()
        with self._lock:
            targets = list(self._targets.values())
            event = self._events.setdefault(req_id, threading.Event())
        delivered = 0
        text = (f"Approval needed [{req_id}]: {self._summary(request)}\n"
                f"Reply /approve {req_id} [once|session|always] or /deny {req_id}")
        for send in targets:
            try:
                send(text)
                delivered += 1
            except Exception:  # noqa: BLE001 - another target may still work
                continue
        if not delivered:
            self._expire(req_id)
            return ApprovalAnswer(False, reason="no approval chat is reachable")
        return self._wait(req_id, event)

    def _summary(self, request: ApprovalRequest) -> str:
        reasons = "; ".join(f"{d.rule}" for d in request.flagged) or "flagged"
        args = json.dumps(thaw(request.call.args), sort_keys=True, default=str)
        if len(args) > 300:
            args = args[:300] + "…"
        return f"tool {request.call.name} {args} ({reasons})"

    def _wait(self, req_id: str, event: threading.Event) -> ApprovalAnswer:
        try:
            while True:
                conn = connect(self.path)
                try:
                    row = conn.execute("SELECT state, scope, approver, expires FROM channel_approvals WHERE id = ?",
                                       (req_id,)).fetchone()
                finally:
                    conn.close()
                if row is None:
                    return ApprovalAnswer(False, reason="approval request vanished")
                if row[0] != "pending":
                    return self._answer_from(row[0], row[1], row[2])
                if self._clock() >= row[3]:
                    self._expire(req_id)
                    return ApprovalAnswer(False, reason="no answer before the deadline (timeout is a denial)")
                event.wait(self._poll)
        finally:
            with self._lock:
                self._events.pop(req_id, None)

    def _expire(self, req_id: str) -> None:
        conn = connect(self.path)
        try:
            conn.execute("UPDATE channel_approvals SET state = 'expired', decided = ? WHERE id = ? AND state = 'pending'",
                         (self._clock(), req_id))
        finally:
            conn.close()

    @staticmethod
    def _answer_from(state: str, scope: str | None, approver: str | None) -> ApprovalAnswer:
        if state == "approved":
            return ApprovalAnswer(True, approver=approver or "", scope=scope or "once")
        return ApprovalAnswer(False, approver=approver or "", reason=f"request {state}")

    # --- answering ---------------------------------------------------------------------------

    def answer(self, request_id: str, *, approved: bool, actor: str, actor_role: Role | None,
               scope: str = "once") -> tuple[bool, str, str]:
        """Settle a pending request. Returns (ok, rule, reason); audits refusals and answers."""
        result = self._answer(request_id, approved=approved, actor=actor, actor_role=actor_role, scope=scope)
        if self._emit is not None:
            ok, rule, reason = result
            self._emit(AuditEvent(
                category="audit.approval", code="chat_answer" if ok else "chat_answer_refused", rule=rule,
                verdict=("allow" if approved else "deny") if ok else "deny",
                severity="info" if ok else "warning",
                data={"request": request_id, "actor": actor, "approved": approved, "scope": scope, "reason": reason},
            ))
        return result

    def _answer(self, request_id: str, *, approved: bool, actor: str, actor_role: Role | None,
                scope: str) -> tuple[bool, str, str]:
        if actor_role is None or actor_role < Role.ADMIN:
            return False, "rbac.forbidden", "answering approvals needs admin"
        req_id = normalize_id(request_id)
        if req_id is None:
            return False, "approval.unknown", "no such pending approval"
        if approved and scope not in SCOPES:
            return False, "approval.bad_scope", "scope must be once, session or always"
        now = self._clock()
        conn = connect(self.path)
        try:
            with _immediate(conn):
                updated = conn.execute(
                    "UPDATE channel_approvals SET state = ?, scope = ?, approver = ?, decided = ?"
                    " WHERE id = ? AND state = 'pending' AND expires > ?",
                    ("approved" if approved else "denied", scope if approved else None, actor, now, req_id, now),
                ).rowcount
        finally:
            conn.close()
        if updated != 1:
            return False, "approval.unknown", "no such pending approval (unknown, answered or expired)"
        with self._lock:
            event = self._events.get(req_id)
        if event is not None:
            event.set()
        return True, "approval.answered", "approved" if approved else "denied"

    def pending(self) -> list[dict[str, Any]]:
        now = self._clock()
        conn = connect(self.path)
        try:
            rows = conn.execute(
                "SELECT id, summary, created, expires FROM channel_approvals WHERE state = 'pending' AND expires > ?",
                (now,),
            ).fetchall()
        finally:
            conn.close()
        return [{"id": i, "summary": s, "created": c, "expires": e} for i, s, c, e in rows]
