"""Roles of channel senders and the commands each role may run.

Invariants:
- roles are ordered viewer < member < operator < admin < overlord; the platform ``owner`` is
  always overlord and cannot be changed; an admitted sender without a role is ``member``; an
  unknown role name counts as ``viewer`` (fail closed); a sender that is not admitted has no role;
- commands need a minimum role (:data:`COMMAND_ROLES`); an unknown ``/command`` needs ``admin``;
- a role change needs admin+, cannot touch the owner or oneself, and can neither grant nor
  change a role equal to or above the actor's own (no escalation to peers or above);
- every role change (and every refused one) is audited.
Not covered: who controls an account that holds a role.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from pathlib import Path

from ethos_core.channel.pairing import connect
from ethos_core.types import AuditEvent, ChannelPolicy


class Role(enum.IntEnum):
    VIEWER = 1
    MEMBER = 2
    OPERATOR = 3
    ADMIN = 4
    OVERLORD = 5

    @classmethod
    def parse(cls, name: str) -> Role | None:
        try:
            return cls[str(name).strip().upper()]
        except KeyError:
            return None

    def __str__(self) -> str:
        return self.name.lower()


COMMAND_ROLES: dict[str, Role] = {
    "/status": Role.MEMBER,
    "/help": Role.VIEWER,
    "/confirm": Role.VIEWER,
    "/rollback": Role.OPERATOR,
    "/approve": Role.ADMIN,
    "/deny": Role.ADMIN,
    "/pair": Role.ADMIN,
    "/revoke": Role.ADMIN,
    "/role": Role.ADMIN,
}
DESTRUCTIVE = frozenset({"/rollback", "/revoke", "/role"})
UNKNOWN_COMMAND_ROLE = Role.ADMIN

SCHEMA = """
CREATE TABLE IF NOT EXISTS channel_roles (
    platform TEXT NOT NULL,
    sender TEXT NOT NULL,
    role TEXT NOT NULL,
    changed_at REAL NOT NULL,
    changed_by TEXT NOT NULL,
    PRIMARY KEY (platform, sender)
) STRICT;
"""


class RoleStore:
    """Role changes made over chat, in ``state.db`` (``channel_roles``); they override config."""

    def __init__(self, path: str | Path, emit: Callable[[AuditEvent], None] | None = None) -> None:
        self.path = Path(path)
        self._emit = emit
        conn = connect(self.path)
        try:
            conn.executescript(SCHEMA)
        finally:
            conn.close()

    def get(self, platform: str, sender: str) -> Role | None:
        conn = connect(self.path)
        try:
            row = conn.execute(
                "SELECT role FROM channel_roles WHERE platform = ? AND sender = ?", (platform, str(sender))
            ).fetchone()
        finally:
            conn.close()
        if row is None:
            return None
        return Role.parse(row[0]) or Role.VIEWER

    def _set(self, platform: str, sender: str, role: Role, actor: str) -> None:
        conn = connect(self.path)
        try:
            conn.execute(
                "INSERT OR REPLACE INTO channel_roles (platform, sender, role, changed_at, changed_by) VALUES (?, ?, ?, ?, ?)",
                (platform, str(sender), str(role), time.time(), actor),
            )
        finally:
            conn.close()

    def change(self, policy: ChannelPolicy, actor: str, actor_role: Role | None, target: str, new_role: Role | None,
               target_role: Role | None) -> tuple[bool, str, str]:
        """Apply a role change if allowed. Returns (ok, rule, reason); audits both outcomes."""
        ok, rule, reason = check_role_change(policy, actor, actor_role, target, new_role, target_role)
        data = {"platform": policy.platform, "actor": actor, "target": str(target),
                "new_role": str(new_role) if new_role else None, "old_role": str(target_role) if target_role else None}
        if ok and new_role is not None:
            self._set(policy.platform, target, new_role, actor)
        if self._emit is not None:
            self._emit(AuditEvent(category="channel.allow" if ok else "channel.deny", code="role_change",
                                  rule=rule, verdict="allow" if ok else "deny",
                                  severity="warning", data=data))
        return ok, rule, reason


def role_of(sender: str, policy: ChannelPolicy, admitted: bool, store: RoleStore | None = None) -> Role | None:
    """The effective role of an admitted sender; ``None`` when not admitted."""
    sender = str(sender)
    if policy.owner is not None and sender == str(policy.owner):
        return Role.OVERLORD
    if not admitted:
        return None
    if store is not None:
        stored = store.get(policy.platform, sender)
        if stored is not None:
            return min(stored, Role.ADMIN)
    configured = policy.roles.get(sender)
    if configured is not None:
        return Role.parse(configured) or Role.VIEWER
    return Role.MEMBER


def required_role(command: str) -> Role:
    return COMMAND_ROLES.get(command.lower(), UNKNOWN_COMMAND_ROLE)


def may_run(role: Role | None, command: str) -> bool:
    return role is not None and role >= required_role(command)


def check_role_change(policy: ChannelPolicy, actor: str, actor_role: Role | None, target: str, new_role: Role | None,
                      target_role: Role | None) -> tuple[bool, str, str]:
    if actor_role is None or actor_role < Role.ADMIN:
        return False, "rbac.forbidden", "changing roles needs admin"
    if new_role is None:
        return False, "rbac.bad_role", "unknown role; use viewer, member, operator or admin"
    if str(target) == str(actor):
        return False, "rbac.self_change", "you cannot change your own role"
    if policy.owner is not None and str(target) == str(policy.owner):
        return False, "rbac.owner_immutable", "the owner's role cannot be changed"
    if new_role >= actor_role:
        return False, "rbac.escalation", f"you cannot grant {new_role} (your role is {actor_role})"
    if target_role is not None and target_role >= actor_role:
        return False, "rbac.escalation", "you cannot change the role of a peer or superior"
    return True, "rbac.role_changed", f"role set to {new_role}"
