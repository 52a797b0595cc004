"""Approval scopes: remembered human approvals (``once`` | ``session`` | ``always``) in state.db.

Invariants:
- A grant is bound to (tool, resolved executable, argument pattern, cwd); ``session`` grants
  also to the session id, ``always`` grants to the cwd they were given in. A lookup matches
  only when every binding matches and the grant is neither expired nor revoked.
- ``always`` never widens to a shell, an interpreter or a wrapper: approving ``bash``, ``sh``,
  ``python``, ``node``, ``sudo``, ``env``, ``xargs`` …, or a compound command (pipes, lists,
  substitutions, peeled wrappers), is stored as ``session`` at most.
- Every grant expires (defaults: once 1 h and consumed on first use, session 24 h,
  always 30 days).
- Grants only ever answer APPROVE-level flags. The engine must never consult them for a DENY
  (hardline, floors): :meth:`GrantStore.lookup` is called after stages ⑦–⑪ and only when the
  strictest verdict is APPROVE.

Engine wiring (Session.before_tool)::

    store = GrantStore(runtime.home.state_db)          # runtime.services["grants"]
    grant = store.lookup(call, session_id)              # before asking the approver
    if grant: proceed (audit.approval, approver="grant:<id>", scope=grant.scope)
    answer = approvals.ask(approver, request, timeout=300)
    if answer.approved and answer.scope != "once":
        store.grant(call, answer.scope, session=session_id, approver=answer.approver)
    if counter.record(turn, denied=not answer.approved): end the turn with STOP_MESSAGE

What it does not cover: who may approve (the approver decides) and the approval audit rows
(the engine writes ``audit.approval`` with who and scope for every decision).
"""

from __future__ import annotations

import fnmatch
import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import attrs

from ethos_core.shell import command_of
from ethos_core.shell.analyze import analyze
from ethos_core.shell.wrappers import SHELLS, basename, is_interpreter
from ethos_core.types import ToolCall, thaw

SCOPES = ("once", "session", "always")
DEFAULT_TTL = {"once": 3600.0, "session": 24 * 3600.0, "always": 30 * 24 * 3600.0}
NEVER_ALWAYS = SHELLS | frozenset({
    "eval", "exec", "source", ".", "env", "sudo", "doas", "su", "pkexec", "xargs", "busybox", "toybox", "command",
    "builtin", "nohup", "nice", "timeout", "stdbuf", "time", "watch", "find", "ssh", "awk", "gawk", "perl", "ruby",
    "node", "nodejs", "php", "lua", "deno", "bun", "osascript", "script", "flock", "setsid", "chroot", "sg",
    "runuser", "sh-script", "npx", "uvx", "pipx", "make", "docker", "kubectl",
})
STOP_MESSAGE = (
    "Three actions in a row were denied in this turn. Stop trying variants of the denied action; "
    "explain to the user what you wanted to do and why, and wait for their instructions."
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approval_grants (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    tool TEXT NOT NULL,
    executable TEXT NOT NULL,
    arg_pattern TEXT NOT NULL,
    cwd TEXT,
    session TEXT,
    personality TEXT NOT NULL DEFAULT '',
    approver TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    expires REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    requested_scope TEXT NOT NULL DEFAULT ''
) STRICT
"""


@attrs.frozen
class Grant:
    id: str
    scope: str
    tool: str
    executable: str
    arg_pattern: str
    cwd: str | None
    session: str | None
    personality: str
    approver: str
    created: float
    expires: float
    revoked: bool = False
    requested_scope: str = ""

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class CallKey:
    """What a grant binds to for one call."""

    tool: str
    executable: str
    args: str
    cwd: str | None
    widenable: bool  # may be stored as ``always``


def call_key(call: ToolCall) -> CallKey:
    """(tool, resolved executable, canonical arguments, cwd) of ``call``."""
    command = command_of(call)
    if command is None:
        args = json.dumps(thaw(call.args), sort_keys=True, separators=(",", ":"), default=str)
        return CallKey(call.name, call.name, args, call.cwd, True)
    analysis = analyze(command, call.cwd)
    top = [c for c in analysis.commands if not c.via]
    if analysis.error or len(top) != 1 or not top[0].argv or len(analysis.commands) != 1:
        return CallKey(call.name, "sh-script", command, call.cwd, False)
    argv = top[0].argv
    executable = basename(argv[0])
    widenable = executable not in NEVER_ALWAYS and not is_interpreter(executable) and not analysis.signals
    import shlex

    return CallKey(call.name, executable, shlex.join(argv[1:]), call.cwd, widenable)


def effective_scope(call: ToolCall, scope: str) -> str:
    """``scope`` narrowed so that ``always`` never covers a shell, interpreter or compound command."""
    if scope not in SCOPES:
        raise ValueError(f"unknown approval scope {scope!r}; expected once, session or always")
    if scope == "always" and not call_key(call).widenable:
        return "session"
    return scope


class GrantStore:
    """Approval grants in the ``approval_grants`` table of state.db (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def grant(
        self,
        call: ToolCall,
        scope: str,
        *,
        session: str,
        personality: str = "",
        approver: str = "",
        ttl: float | None = None,
        now: float | None = None,
    ) -> Grant:
        """Remember an approval; returns the stored grant (its scope may be narrower than asked)."""
        effective = effective_scope(call, scope)
        key = call_key(call)
        created = time.time() if now is None else now
        grant = Grant(
            id=uuid.uuid4().hex[:12],
            scope=effective,
            tool=key.tool,
            executable=key.executable,
            arg_pattern=key.args,
            cwd=key.cwd,
            session=session if effective != "always" else None,
            personality=personality,
            approver=approver,
            created=created,
            expires=created + (DEFAULT_TTL[effective] if ttl is None else ttl),
            requested_scope=scope,
        )
        with self._connect() as db:
            db.execute(
                "INSERT INTO approval_grants (id, scope, tool, executable, arg_pattern, cwd, session, personality,"
                " approver, created, expires, revoked, requested_scope) VALUES (?,?,?,?,?,?,?,?,?,?,?,0,?)",
                (grant.id, grant.scope, grant.tool, grant.executable, grant.arg_pattern, grant.cwd, grant.session,
                 grant.personality, grant.approver, grant.created, grant.expires, grant.requested_scope),
            )
        return grant

    def lookup(self, call: ToolCall, session: str, personality: str = "", now: float | None = None) -> Grant | None:
        """A live grant covering ``call`` in ``session``; a ``once`` grant is consumed."""
        key = call_key(call)
        moment = time.time() if now is None else now
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM approval_grants WHERE tool = ? AND executable = ? AND revoked = 0 AND expires > ?"
                " AND personality = ? ORDER BY created",
                (key.tool, key.executable, moment, personality),
            ).fetchall()
            for row in rows:
                grant = _row(row)
                if grant.cwd != key.cwd:
                    continue
                if grant.scope in ("once", "session") and grant.session != session:
                    continue
                if grant.arg_pattern != key.args and not (
                    key.widenable and fnmatch.fnmatchcase(key.args, grant.arg_pattern)
                ):
                    continue
                if grant.scope == "once":
                    db.execute("UPDATE approval_grants SET revoked = 1 WHERE id = ?", (grant.id,))
                return grant
        return None

    def list(self, include_inactive: bool = False, now: float | None = None) -> list[Grant]:
        moment = time.time() if now is None else now
        with self._connect() as db:
            if include_inactive:
                rows = db.execute("SELECT * FROM approval_grants ORDER BY created").fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM approval_grants WHERE revoked = 0 AND expires > ? ORDER BY created", (moment,)
                ).fetchall()
        return [_row(r) for r in rows]

    def revoke(self, grant_id: str) -> bool:
        with self._connect() as db:
            cur = db.execute("UPDATE approval_grants SET revoked = 1 WHERE id = ? AND revoked = 0", (grant_id,))
            return cur.rowcount > 0

    def revoke_session(self, session: str) -> int:
        with self._connect() as db:
            cur = db.execute("UPDATE approval_grants SET revoked = 1 WHERE session = ? AND scope != 'always'",
                             (session,))
            return cur.rowcount


def _row(row: sqlite3.Row) -> Grant:
    return Grant(
        id=row["id"], scope=row["scope"], tool=row["tool"], executable=row["executable"],
        arg_pattern=row["arg_pattern"], cwd=row["cwd"], session=row["session"], personality=row["personality"],
        approver=row["approver"], created=row["created"], expires=row["expires"], revoked=bool(row["revoked"]),
        requested_scope=row["requested_scope"],
    )


class DenialCounter:
    """Counts consecutive denials within one turn; the third in a row ends the turn.

    ``record(turn, denied)`` returns True when the engine must end the turn and tell the model
    :data:`STOP_MESSAGE`. An allowed call or a new turn resets the count.
    """

    def __init__(self, limit: int = 3) -> None:
        self.limit = limit
        self.turn: int | None = None
        self.count = 0

    def record(self, turn: int, denied: bool) -> bool:
        if turn != self.turn:
            self.turn = turn
            self.count = 0
        self.count = self.count + 1 if denied else 0
        return self.count >= self.limit

    @property
    def message(self) -> str:
        return STOP_MESSAGE
