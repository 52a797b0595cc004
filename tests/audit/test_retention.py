"""Retention: durations, glob specificity, exact boundaries, dry runs, snapshot pruning, warnings."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable

import pytest

from ethos_core.audit import AuditStore, retention_warnings
from ethos_core.audit.retention import parse_duration, retention_for, validate_retention
from ethos_core.types import AuditEvent

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
MICRO = dt.timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("36h", dt.timedelta(hours=36)), ("90d", dt.timedelta(days=90)), ("2w", dt.timedelta(weeks=2)), ("forever", None),
     (" 7d ", dt.timedelta(days=7)), ("FOREVER", None)],
)
def test_durations(text: str, expected: dt.timedelta | None) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["90", "90 days", "0d", "-1d", "1m", "1y", "", "9999999d", "1.5d"])
def test_bad_durations_are_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_most_specific_glob_wins_then_longest() -> None:
    rules = validate_retention({"audit.*": "90d", "audit.tool_call": "7d", "*": "30d", "a*": "forever"})
    assert retention_for("audit.tool_call", rules) == ("audit.tool_call", dt.timedelta(days=7))
    assert retention_for("audit.block", rules) == ("audit.*", dt.timedelta(days=90))
    assert retention_for("channel.deny", rules) == ("*", dt.timedelta(days=30))
    assert retention_for("x.y", validate_retention({})) == (None, None)
    tie = validate_retention({"audit.t*": "7d", "audit.*l": "30d"})
    assert retention_for("audit.tool_call", tie)[1] == dt.timedelta(days=30)


def _ids(store: AuditStore) -> list[int]:
    conn = sqlite3.connect(store.path)
    try:
        return [r[0] for r in conn.execute("SELECT turn FROM events ORDER BY id")]
    finally:
        conn.close()


def test_boundary_is_kept_one_microsecond_older_is_pruned(make_store: Callable[..., AuditStore]) -> None:
    store = make_store(retention={"audit.*": "90d"})
    cutoff = NOW - dt.timedelta(days=90)
    for turn, ts in enumerate([cutoff - MICRO, cutoff, cutoff + MICRO]):
        store.write(AuditEvent("audit.block", turn=turn, ts=ts.timestamp()))
    store.flush()
    report = store.prune(now=NOW)
    assert report.deleted == {"audit.block": 1}
    assert _ids(store) == [1, 2]


def test_unmatched_categories_are_kept_forever(make_store: Callable[..., AuditStore]) -> None:
    store = make_store(retention={"install.*": "1h"})
    store.write(AuditEvent("system.startup", turn=0, ts=(NOW - dt.timedelta(days=3650)).timestamp()))
    store.write(AuditEvent("install.scan", turn=1, ts=(NOW - dt.timedelta(hours=2)).timestamp()))
    store.flush()
    assert store.prune(now=NOW).deleted == {"install.scan": 1}
    assert _ids(store) == [0]


def test_dry_run_counts_exactly_and_changes_nothing(make_store: Callable[..., AuditStore]) -> None:
    store = make_store(retention={"channel.*": "1d"})
    for turn in range(5):
        store.write(AuditEvent("channel.deny", turn=turn, ts=(NOW - dt.timedelta(days=turn)).timestamp()))
    store.flush()
    dry = store.prune(now=NOW, dry_run=True)
    assert dry.dry_run and dry.deleted == {"channel.deny": 3}
    assert _ids(store) == [0, 1, 2, 3, 4]
    assert store.prune(now=NOW).deleted == {"channel.deny": 3}
    assert _ids(store) == [0, 1]


def test_unreferenced_snapshots_are_pruned_latest_kept(make_store: Callable[..., AuditStore]) -> None:
    store = make_store(retention={"audit.*": "1d"})
    store.register_policy("eng", {"v": 1})
    store.write(AuditEvent("audit.block", personality="eng", ts=(NOW - dt.timedelta(days=5)).timestamp()))
    store.register_policy("eng", {"v": 2})
    store.write(AuditEvent("audit.block", personality="eng", ts=NOW.timestamp()))
    store.register_policy("eng", {"v": 3})  # newest, nothing references it yet
    store.flush()
    report = store.prune(now=NOW)
    assert report.snapshots_deleted == 1
    conn = sqlite3.connect(store.path)
    bodies = sorted(r[0] for r in conn.execute("SELECT body FROM policy_snapshots"))
    conn.close()
    assert bodies == ['{"v":2}', '{"v":3}']


def test_search_index_follows_pruning(make_store: Callable[..., AuditStore]) -> None:
    from ethos_core.audit import query as q

    store = make_store(retention={"audit.*": "1d"})
    store.write(AuditEvent("audit.block", data={"host": "oldhost"}, ts=(NOW - dt.timedelta(days=5)).timestamp()))
    store.write(AuditEvent("audit.block", data={"host": "newhost"}, ts=NOW.timestamp()))
    store.flush()
    store.prune(now=NOW)
    conn = q.open_readonly(store.path)
    try:
        assert q.search(conn, "oldhost") == []
        assert len(q.search(conn, "newhost")) == 1
    finally:
        conn.close()
    rw = sqlite3.connect(store.path)
    rw.execute("INSERT INTO events_fts(events_fts) VALUES ('integrity-check')")  # raises if inconsistent
    rw.close()


def test_warnings_for_short_audit_and_channel_retention() -> None:
    warnings = retention_warnings({"audit.*": "30d", "channel.deny": "90d", "channel.*": "2w", "install.*": "1d"})
    text = "\n".join(warnings)
    assert "audit.tool_call" in text and "'audit.*'" in text
    assert "channel.allow" in text and "channel.deny" not in text
    assert "install" not in text
    assert retention_warnings({"audit.*": "90d", "channel.*": "forever"}) == []
    assert retention_warnings({}) == []
