"""One-time DM pairing codes, stored in ``state.db`` (tables ``pairing_*``).

Invariants:
- codes come from :mod:`secrets` (CSPRNG): 10 symbols of a 30-letter unambiguous alphabet
  (no 0/O, 1/I/L, U) = 49 bits; shown as ``XXXXX-XXXXX``; input is accepted case-insensitively
  with ``-`` and spaces ignored, and anything outside ASCII is refused (no look-alike digits);
- a code is bound to (platform, sender) and a per-code random nonce: only
  ``sha256(nonce, platform, sender, code)`` is stored, so the database never holds a usable code
  and a row whose sender was altered no longer verifies;
- TTL one hour; at most one pending code per sender per 10 minutes and 3 pending per platform;
- approval (owner/admin only; the caller checks roles) consumes the code atomically exactly once
  inside a ``BEGIN IMMEDIATE`` transaction: of N concurrent approvers exactly one wins;
- wrong code, wrong sender, replay and expiry fail and count; 5 failed approvals within 10
  minutes lock approvals for 24 hours (``pairing.locked``) until ``ethos pairing unlock``;
- every step emits ``channel.pairing`` (issued, approved, rejected, expired, locked, unlocked,
  revoked).
Not covered: a code leaked by the requester to a third party before approval; the owner
approving the wrong person's code. The code is only ever shown to the sender it is bound to.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from ethos_core.types import AuditEvent

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
CODE_TTL = 3600.0
SENDER_COOLDOWN = 600.0
MAX_PENDING_PER_PLATFORM = 3
FAIL_WINDOW = 600.0
FAIL_LIMIT = 5
LOCK_SECONDS = 24 * 3600.0
REPLAY_WINDOW = 24 * 3600.0
ALERT_WINDOW = 24 * 3600.0

Emit = Callable[[AuditEvent], None]

SCHEMA = """
CREATE TABLE IF NOT EXISTS pairing_codes (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    sender TEXT NOT NULL,
    chat TEXT NOT NULL,
    nonce TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    hint TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    decided REAL,
    decided_by TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS pairing_codes_state ON pairing_codes(platform, state);
CREATE TABLE IF NOT EXISTS pairing_approved (
    platform TEXT NOT NULL,
    sender TEXT NOT NULL,
    approved_at REAL NOT NULL,
    approved_by TEXT NOT NULL,
    PRIMARY KEY (platform, sender)
) STRICT;
CREATE TABLE IF NOT EXISTS pairing_failures (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS pairing_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    locked_until REAL NOT NULL,
    locked_at REAL NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS pairing_alerts (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    platform TEXT NOT NULL,
    subject TEXT NOT NULL,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL
) STRICT;
"""


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection in autocommit mode (we open transactions explicitly), WAL, long busy wait."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=60.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 60000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def format_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def normalize_code(text: str) -> str | None:
    """The canonical code for user input, or ``None`` when it cannot be a code."""
    if not text.isascii():
        return None
    cleaned = "".join(ch for ch in text if ch not in "- \t").upper()
    if len(cleaned) != CODE_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def _hash(nonce: str, platform: str, sender: str, code: str) -> str:
    material = "\x00".join((nonce, platform, sender, code)).encode()
    return hashlib.sha256(material).hexdigest()


@attrs.frozen
class IssueResult:
    """``code`` is set only when a new code was issued; ``rule`` says why not otherwise."""

    issued: bool
    rule: str
    code: str | None = None
    expires: float | None = None


@attrs.frozen
class ApproveResult:
    approved: bool
    rule: str
    reason: str
    platform: str | None = None
    sender: str | None = None


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class PairingStore:
    """Pairing state in ``state.db``. Safe to use from many threads and processes at once."""

    def __init__(self, path: str | Path, emit: Emit | None = None, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._emit = emit
        self._clock = clock
        conn = connect(self.path)
        try:
            ensure_schema(conn)
        finally:
            conn.close()

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = connect(self.path)
        try:
            yield conn
        finally:
            conn.close()

    def _event(self, code: str, rule: str, severity: str = "info", **data: Any) -> None:
        if self._emit is not None:
            self._emit(AuditEvent(category="channel.pairing", code=code, rule=rule, severity=severity, data=data))

    # --- sweeping --------------------------------------------------------------------------

    def _sweep(self, conn: sqlite3.Connection, now: float) -> list[tuple[str, str, str]]:
        rows = conn.execute(
            "SELECT id, platform, sender, hint FROM pairing_codes WHERE state = 'pending' AND expires <= ?", (now,)
        ).fetchall()
        for row_id, *_ in rows:
            conn.execute("UPDATE pairing_codes SET state = 'expired', decided = ? WHERE id = ?", (now, row_id))
        return [(platform, sender, hint) for _, platform, sender, hint in rows]

    def _emit_expired(self, expired: list[tuple[str, str, str]]) -> None:
        for platform, sender, hint in expired:
            self._event("expired", "pairing.expired", platform=platform, sender=sender, hint=hint)

    def sweep(self) -> int:
        with self._conn() as conn, _immediate(conn):
            expired = self._sweep(conn, self._clock())
        self._emit_expired(expired)
        return len(expired)

    # --- issuing ---------------------------------------------------------------------------

    def issue(self, platform: str, sender: str, chat: str) -> IssueResult:
        """Issue a code for an unknown DM sender, or refuse (``pairing.cooldown``/``pairing.capacity``)."""
        platform, sender, chat = str(platform), str(sender), str(chat)
        now = self._clock()
        with self._conn() as conn:
            with _immediate(conn):
                expired = self._sweep(conn, now)
                result, superseded = self._issue_locked(conn, platform, sender, chat, now)
        self._emit_expired(expired + superseded)
        if result.issued:
            self._event("issued", "pairing.issued", platform=platform, sender=sender, chat=chat,
                        hint=(result.code or "")[:2], expires=result.expires)
        return result

    def _issue_locked(
        self, conn: sqlite3.Connection, platform: str, sender: str, chat: str, now: float
    ) -> tuple[IssueResult, list[tuple[str, str, str]]]:
        if conn.execute(
            "SELECT 1 FROM pairing_approved WHERE platform = ? AND sender = ?", (platform, sender)
        ).fetchone():
            return IssueResult(False, "pairing.already_approved"), []
        mine = conn.execute(
            "SELECT id, created, hint FROM pairing_codes WHERE platform = ? AND sender = ? AND state = 'pending'",
            (platform, sender),
        ).fetchall()
        if any(created > now - SENDER_COOLDOWN for _, created, _ in mine):
            return IssueResult(False, "pairing.cooldown"), []
        superseded = []
        for row_id, _, hint in mine:  # older than the cooldown: the new code replaces it
            conn.execute("UPDATE pairing_codes SET state = 'expired', decided = ? WHERE id = ?", (now, row_id))
            superseded.append((platform, sender, hint))
        (pending,) = conn.execute(
            "SELECT count(*) FROM pairing_codes WHERE platform = ? AND state = 'pending'", (platform,)
        ).fetchone()
        if pending >= MAX_PENDING_PER_PLATFORM:
            return IssueResult(False, "pairing.capacity"), superseded
        code = new_code()
        nonce = secrets.token_hex(16)
        expires = now + CODE_TTL
        conn.execute(
            "INSERT INTO pairing_codes (platform, sender, chat, nonce, code_hash, hint, state, created, expires)"
            " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            (platform, sender, chat, nonce, _hash(nonce, platform, sender, code), code[:2], now, expires),
        )
        return IssueResult(True, "pairing.issued", code=code, expires=expires), superseded

    # --- approving -------------------------------------------------------------------------

    def locked_until(self) -> float | None:
        with self._conn() as conn:
            row = conn.execute("SELECT locked_until FROM pairing_lock WHERE id = 1").fetchone()
        if row is None or row[0] <= self._clock():
            return None
        return float(row[0])

    def approve(self, code_text: str, approver: str, *, platform: str | None = None, sender: str | None = None) -> ApproveResult:
        """Consume ``code_text`` exactly once and admit its sender. The caller checked the role.

        ``platform``/``sender``, when given, must match the code's binding (``pairing.wrong_sender``).
        """
        now = self._clock()
        code = normalize_code(code_text)
        events: list[tuple[str, str, str, dict[str, Any]]] = []
        with self._conn() as conn:
            with _immediate(conn):
                expired = self._sweep(conn, now)
                result = self._approve_locked(conn, code, approver, platform, sender, now, events)
        self._emit_expired(expired)
        for code_name, rule, severity, data in events:
            self._event(code_name, rule, severity, **data)
        return result

    def _approve_locked(
        self,
        conn: sqlite3.Connection,
        code: str | None,
        approver: str,
        platform: str | None,
        sender: str | None,
        now: float,
        events: list[tuple[str, str, str, dict[str, Any]]],
    ) -> ApproveResult:
        lock = conn.execute("SELECT locked_until FROM pairing_lock WHERE id = 1").fetchone()
        if lock is not None and lock[0] > now:
            events.append(("rejected", "pairing.locked", "warning", {"approver": approver, "reason": "locked"}))
            return ApproveResult(False, "pairing.locked", "approvals are locked after repeated failures; run: ethos pairing unlock")
        match = None
        if code is not None:
            rows = conn.execute(
                "SELECT id, platform, sender, nonce, code_hash, state, expires FROM pairing_codes WHERE created > ?",
                (now - REPLAY_WINDOW,),
            ).fetchall()
            for row in rows:
                row_id, row_platform, row_sender, nonce, code_hash, state, expires = row
                if hmac.compare_digest(_hash(nonce, row_platform, row_sender, code), code_hash):
                    match = row
                    break
        failure: tuple[str, str] | None = None
        if match is None:
            failure = ("pairing.bad_code", "no such pairing code")
        else:
            row_id, row_platform, row_sender, _, _, state, _ = match
            if state == "approved":
                failure = ("pairing.replay", "this code was already used")
            elif state != "pending":
                failure = ("pairing.expired", f"this code is {state}")
            elif (platform is not None and str(platform) != row_platform) or (
                sender is not None and str(sender) != row_sender
            ):
                failure = ("pairing.wrong_sender", "this code belongs to a different sender")
        if failure is not None:
            return self._fail(conn, approver, failure, now, events)
        assert match is not None
        row_id, row_platform, row_sender = match[0], match[1], match[2]
        updated = conn.execute(
            "UPDATE pairing_codes SET state = 'approved', decided = ?, decided_by = ? WHERE id = ? AND state = 'pending'",
            (now, approver, row_id),
        ).rowcount
        if updated != 1:  # cannot happen under BEGIN IMMEDIATE; fail closed anyway
            return self._fail(conn, approver, ("pairing.replay", "this code was already used"), now, events)
        conn.execute(
            "INSERT OR REPLACE INTO pairing_approved (platform, sender, approved_at, approved_by) VALUES (?, ?, ?, ?)",
            (row_platform, row_sender, now, approver),
        )
        events.append(("approved", "pairing.approved", "info",
                       {"platform": row_platform, "sender": row_sender, "approver": approver}))
        return ApproveResult(True, "pairing.approved", "sender paired", row_platform, row_sender)

    def _fail(
        self,
        conn: sqlite3.Connection,
        approver: str,
        failure: tuple[str, str],
        now: float,
        events: list[tuple[str, str, str, dict[str, Any]]],
    ) -> ApproveResult:
        rule, reason = failure
        conn.execute("DELETE FROM pairing_failures WHERE ts <= ?", (now - FAIL_WINDOW,))
        conn.execute("INSERT INTO pairing_failures (ts, actor, reason) VALUES (?, ?, ?)", (now, approver, rule))
        events.append(("rejected", rule, "warning", {"approver": approver, "reason": reason}))
        (recent,) = conn.execute("SELECT count(*) FROM pairing_failures WHERE ts > ?", (now - FAIL_WINDOW,)).fetchone()
        if recent >= FAIL_LIMIT:
            conn.execute(
                "INSERT OR REPLACE INTO pairing_lock (id, locked_until, locked_at) VALUES (1, ?, ?)",
                (now + LOCK_SECONDS, now),
            )
            conn.execute(
                "INSERT INTO pairing_alerts (ts, platform, subject, kind, count) VALUES (?, '*', ?, 'pairing.locked', ?)",
                (now, approver, recent),
            )
            events.append(("locked", "pairing.locked", "critical",
                           {"failures": recent, "locked_until": now + LOCK_SECONDS}))
        return ApproveResult(False, rule, reason)

    def unlock(self, actor: str = "cli") -> bool:
        with self._conn() as conn, _immediate(conn):
            was = conn.execute("DELETE FROM pairing_lock").rowcount > 0
            conn.execute("DELETE FROM pairing_failures")
        self._event("unlocked", "pairing.unlocked", actor=actor, was_locked=was)
        return was

    # --- approved senders ------------------------------------------------------------------

    def is_approved(self, platform: str, sender: str) -> bool:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT 1 FROM pairing_approved WHERE platform = ? AND sender = ?", (str(platform), str(sender))
            ).fetchone()
        return row is not None

    def approved_senders(self, platform: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT platform, sender, approved_at, approved_by FROM pairing_approved"
        args: tuple[str, ...] = ()
        if platform is not None:
            query += " WHERE platform = ?"
            args = (platform,)
        with self._conn() as conn:
            rows = conn.execute(query + " ORDER BY approved_at", args).fetchall()
        return [{"platform": p, "sender": s, "approved_at": a, "approved_by": b} for p, s, a, b in rows]

    def pending(self) -> list[dict[str, Any]]:
        now = self._clock()
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT platform, sender, chat, hint, created, expires FROM pairing_codes"
                " WHERE state = 'pending' AND expires > ? ORDER BY created",
                (now,),
            ).fetchall()
        return [
            {"platform": p, "sender": s, "chat": c, "hint": h + "…", "created": cr, "expires": ex}
            for p, s, c, h, cr, ex in rows
        ]

    def revoke(self, target: str, actor: str = "cli", platform: str | None = None) -> list[dict[str, str]]:
        """Revoke a pending code (when ``target`` is one) or an approved sender. Returns what went."""
        now = self._clock()
        revoked: list[dict[str, str]] = []
        code = normalize_code(target)
        with self._conn() as conn, _immediate(conn):
            if code is not None:
                for row_id, row_platform, row_sender, nonce, code_hash in conn.execute(
                    "SELECT id, platform, sender, nonce, code_hash FROM pairing_codes WHERE state = 'pending'"
                ).fetchall():
                    if hmac.compare_digest(_hash(nonce, row_platform, row_sender, code), code_hash):
                        conn.execute(
                            "UPDATE pairing_codes SET state = 'revoked', decided = ?, decided_by = ? WHERE id = ?",
                            (now, actor, row_id),
                        )
                        revoked.append({"kind": "code", "platform": row_platform, "sender": row_sender})
            if not revoked:
                query = "SELECT platform, sender FROM pairing_approved WHERE sender = ?"
                args: tuple[str, ...] = (str(target),)
                if platform is not None:
                    query += " AND platform = ?"
                    args += (platform,)
                for row_platform, row_sender in conn.execute(query, args).fetchall():
                    conn.execute(
                        "DELETE FROM pairing_approved WHERE platform = ? AND sender = ?", (row_platform, row_sender)
                    )
                    revoked.append({"kind": "sender", "platform": row_platform, "sender": row_sender})
        for item in revoked:
            self._event("revoked", "pairing.revoked", actor=actor, **item)
        return revoked

    # --- alerts ----------------------------------------------------------------------------

    def record_alert(self, platform: str, subject: str, kind: str, count: int) -> None:
        with self._conn() as conn, _immediate(conn):
            conn.execute(
                "INSERT INTO pairing_alerts (ts, platform, subject, kind, count) VALUES (?, ?, ?, ?, ?)",
                (self._clock(), platform, subject, kind, count),
            )


def pairing_health(state_db: str | Path, now: float | None = None) -> dict[str, Any]:
    """What ``ethos health`` shows about pairing and channel abuse. Never creates the database."""
    now = time.time() if now is None else now
    out: dict[str, Any] = {
        "ok": True,
        "status": "ok",
        "locked": False,
        "locked_until": None,
        "failed_approvals_10m": 0,
        "pending_codes": 0,
        "approved_senders": 0,
        "alerts_24h": 0,
        "recent_alerts": [],
    }
    path = Path(state_db)
    if not path.exists():
        return out
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "pairing_codes" not in names:
            return out
        lock = conn.execute("SELECT locked_until FROM pairing_lock WHERE id = 1").fetchone()
        if lock is not None and lock[0] > now:
            out["locked"] = True
            out["locked_until"] = lock[0]
        out["failed_approvals_10m"] = conn.execute(
            "SELECT count(*) FROM pairing_failures WHERE ts > ?", (now - FAIL_WINDOW,)
        ).fetchone()[0]
        out["pending_codes"] = conn.execute(
            "SELECT count(*) FROM pairing_codes WHERE state = 'pending' AND expires > ?", (now,)
        ).fetchone()[0]
        out["approved_senders"] = conn.execute("SELECT count(*) FROM pairing_approved").fetchone()[0]
        alerts = conn.execute(
            "SELECT ts, platform, subject, kind, count FROM pairing_alerts WHERE ts > ? ORDER BY ts DESC LIMIT 20",
            (now - ALERT_WINDOW,),
        ).fetchall()
        out["alerts_24h"] = len(alerts)
        out["recent_alerts"] = [
            {"ts": ts, "platform": p, "subject": s, "kind": k, "count": c} for ts, p, s, k, c in alerts
        ]
    finally:
        conn.close()
    if out["locked"]:
        out["status"] = "locked"
        out["ok"] = False
        out["reason"] = "pairing approvals are locked after repeated failed approvals; run: ethos pairing unlock"
    elif out["alerts_24h"]:
        out["status"] = "alert"
        out["ok"] = False
        first = out["recent_alerts"][0]
        out["reason"] = (f"{out['alerts_24h']} channel alert(s) in the last 24 h "
                         f"(latest: {first['kind']} from {first['platform']}:{first['subject']})")
    return out
