"""Retention of audit events: ``observability.retention`` maps category globs to durations.

Invariant: an event is removed only when a retention rule matching its category says so and
its timestamp is strictly older than ``now - duration`` (an event exactly at the boundary is
kept); categories no rule matches are kept forever. Every removal is recorded in the chain
(anchor or tombstone, see :mod:`ethos_core.audit.chain`) in the same transaction, so the
remaining rows still verify. Policy snapshots no event references any more are removed too,
except the newest snapshot of each personality (still in use).

When several globs match, the most specific wins: an exact name beats any glob, then the glob
with more literal characters; on a tie the longer retention wins.

Does not cover: space reclamation (run ``VACUUM`` yourself; pruning only frees pages).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

_DURATION = re.compile(r"^\s*(\d{1,6})\s*([hdw])\s*$")
_UNITS = {"h": dt.timedelta(hours=1), "d": dt.timedelta(days=1), "w": dt.timedelta(weeks=1)}
FOREVER = "forever"
MIN_AUDIT_RETENTION = dt.timedelta(days=90)
# Categories the hardening checklist wants kept for at least 90 days.
LONG_RETENTION_PREFIXES = ("audit.", "channel.")


def parse_duration(value: str) -> dt.timedelta | None:
    """``"36h"``/``"90d"``/``"12w"`` → timedelta; ``"forever"`` → None. Anything else raises ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"retention must be a string like '90d' or 'forever', got {value!r}")
    if value.strip().lower() == FOREVER:
        return None
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"retention {value!r} is not Nh, Nd, Nw or 'forever'")
    amount = int(match.group(1))
    if amount <= 0:
        raise ValueError(f"retention {value!r} must be positive (use 'forever' to keep everything)")
    return amount * _UNITS[match.group(2)]


def validate_retention(retention: Mapping[str, str]) -> dict[str, dt.timedelta | None]:
    """Parse every rule; raises ValueError naming the first bad glob."""
    parsed: dict[str, dt.timedelta | None] = {}
    for glob, value in retention.items():
        try:
            parsed[str(glob)] = parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"observability.retention[{glob!r}]: {exc}") from None
    return parsed


def _specificity(glob: str) -> int:
    return sum(1 for ch in glob if ch not in "*?[]")


def _longer(a: dt.timedelta | None, b: dt.timedelta | None) -> bool:
    if a is None:
        return b is not None
    return b is not None and a > b


def retention_for(category: str, rules: Mapping[str, dt.timedelta | None]) -> tuple[str | None, dt.timedelta | None]:
    """(winning glob or None, duration or None=forever) for ``category``."""
    if category in rules:
        return category, rules[category]
    best: str | None = None
    for glob in rules:
        if not fnmatch.fnmatchcase(category, glob):
            continue
        if best is None:
            best = glob
            continue
        s_new, s_best = _specificity(glob), _specificity(best)
        if s_new > s_best or (s_new == s_best and _longer(rules[glob], rules[best])):
            best = glob
    return (best, rules[best]) if best is not None else (None, None)


def retention_warnings(retention: Mapping[str, str], categories: Iterable[str] | None = None) -> list[str]:
    """Warnings for ``config validate --strict``: audit.* / channel.* kept less than 90 days."""
    from ethos_core.audit.events import CATEGORIES

    rules = validate_retention(retention)
    out: list[str] = []
    for category in sorted(categories if categories is not None else CATEGORIES):
        if not category.startswith(LONG_RETENTION_PREFIXES):
            continue
        glob, keep = retention_for(category, rules)
        if keep is not None and keep < MIN_AUDIT_RETENTION:
            out.append(
                f"observability.retention[{glob!r}] keeps {category} events {keep.days} days; "
                "production deployments should keep audit.* and channel.* at least 90 days"
            )
    return out


def iso(ts: dt.datetime) -> str:
    """The on-disk timestamp format: UTC, microseconds, ``Z``; sorts as text."""
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@attrs.frozen
class PruneReport:
    dry_run: bool
    deleted: Mapping[str, int]
    snapshots_deleted: int
    anchor_id: int
    cutoffs: Mapping[str, str]

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "deleted": dict(self.deleted),
            "total": self.total,
            "snapshots_deleted": self.snapshots_deleted,
            "anchor_id": self.anchor_id,
            "cutoffs": dict(self.cutoffs),
        }


def prune(
    conn: sqlite3.Connection,
    retention: Mapping[str, str],
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> PruneReport:
    """Delete expired events (recording them in the chain) and unreferenced snapshots.

    Runs in one ``BEGIN IMMEDIATE`` transaction on ``conn`` (autocommit mode); ``dry_run``
    performs the same work and rolls it back, so its counts are exact.
    """
    rules = validate_retention(retention)
    now = now or dt.datetime.now(dt.UTC)
    pruned_at = iso(now)
    conn.execute("BEGIN IMMEDIATE")
    try:
        deleted: dict[str, int] = {}
        cutoffs: dict[str, str] = {}
        categories = [str(r[0]) for r in conn.execute("SELECT DISTINCT category FROM events")]
        for category in sorted(categories):
            _glob, keep = retention_for(category, rules)
            if keep is None:
                continue
            cutoff = iso(now - keep)
            cutoffs[category] = cutoff
            conn.execute(
                "INSERT INTO pruned_events (id, prev_hash, row_hash, category, ts, pruned_at) "
                "SELECT id, prev_hash, row_hash, category, ts, ? FROM events WHERE category = ? AND ts < ?",
                (pruned_at, category, cutoff),
            )
            count = conn.execute("DELETE FROM events WHERE category = ? AND ts < ?", (category, cutoff)).rowcount
            if count:
                deleted[category] = count
        anchor_id = _compact(conn)
        snapshots = conn.execute(
            """DELETE FROM policy_snapshots
               WHERE id NOT IN (SELECT snapshot_id FROM events WHERE snapshot_id IS NOT NULL)
                 AND id NOT IN (
                   SELECT s.id FROM policy_snapshots s
                   WHERE s.created = (SELECT MAX(created) FROM policy_snapshots t WHERE t.personality = s.personality))"""
        ).rowcount
        conn.execute("ROLLBACK" if dry_run else "COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return PruneReport(dry_run, deleted, snapshots, anchor_id, cutoffs)


def _compact(conn: sqlite3.Connection) -> int:
    """Fold tombstones below the oldest live event into the anchor; returns the anchor id."""
    state = conn.execute("SELECT anchor_id, head_id FROM chain WHERE k = 1").fetchone()
    if state is None:
        raise sqlite3.DatabaseError("chain state row missing; run `ethos audit verify`")
    first_live = conn.execute("SELECT MIN(id) FROM events").fetchone()[0]
    limit = int(first_live) if first_live is not None else int(state[1]) + 1
    last = conn.execute(
        "SELECT id, row_hash FROM pruned_events WHERE id < ? ORDER BY id DESC LIMIT 1", (limit,)
    ).fetchone()
    if last is None:
        return int(state[0])
    conn.execute("UPDATE chain SET anchor_id = ?, anchor_hash = ? WHERE k = 1", (int(last[0]), str(last[1])))
    conn.execute("DELETE FROM pruned_events WHERE id < ?", (limit,))
    return int(last[0])
