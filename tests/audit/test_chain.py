"""Tamper evidence: verify names the first edited, deleted or reordered row; prune keeps it valid."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from ethos_core.audit import AuditStore
from ethos_core.audit.retention import iso
from ethos_core.types import AuditEvent

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


def _filled(make_store: Callable[..., AuditStore], n: int = 10, **kw: object) -> AuditStore:
    store = make_store(**kw)
    for i in range(1, n + 1):
        store.write(AuditEvent("audit.tool_call", turn=i, data={"i": i}))
    store.flush()
    return store


def _sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def test_intact_chain_verifies(make_store: Callable[..., AuditStore]) -> None:
    result = _filled(make_store).verify()
    assert result.ok and result.checked == 10 and result.head_id == 10 and result.problem is None


def test_empty_store_verifies(store: AuditStore) -> None:
    assert store.verify().ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET data = '{\"i\":999}' WHERE id = 4",
        "UPDATE events SET ts = '2000-01-01T00:00:00.000000Z' WHERE id = 4",
        "UPDATE events SET category = 'audit.block' WHERE id = 4",
        "UPDATE events SET rule = 'forged' WHERE id = 4",
        "UPDATE events SET turn = NULL WHERE id = 4",
    ],
)
def test_edit_is_named(make_store: Callable[..., AuditStore], statement: str) -> None:
    store = _filled(make_store)
    _sql(store.path, statement)
    result = store.verify()
    assert not result.ok and result.bad_id == 4
    assert result.problem == "event id 4 was edited: its content no longer matches its row_hash"


def test_edit_with_recomputed_row_hash_breaks_the_next_link(make_store: Callable[..., AuditStore]) -> None:
    from ethos_core.audit.chain import row_hash
    from ethos_core.audit.schema import EVENT_FIELDS

    store = _filled(make_store)
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("UPDATE events SET data = '{\"i\":0}' WHERE id = 4")
    row = conn.execute(f"SELECT {', '.join(EVENT_FIELDS)}, prev_hash FROM events WHERE id = 4").fetchone()
    conn.execute("UPDATE events SET row_hash = ? WHERE id = 4", (row_hash(row[-1], row[:-1]),))
    conn.close()
    result = store.verify()
    assert not result.ok and result.bad_id == 5
    assert "does not follow event id 4" in (result.problem or "")


def test_deleted_middle_row_is_named(make_store: Callable[..., AuditStore]) -> None:
    store = _filled(make_store)
    _sql(store.path, "DELETE FROM events WHERE id = 6")
    result = store.verify()
    assert not result.ok and result.bad_id == 6
    assert result.problem == "event id 6 deleted: the chain breaks before event id 7"


def test_deleted_range_is_named(make_store: Callable[..., AuditStore]) -> None:
    store = _filled(make_store)
    _sql(store.path, "DELETE FROM events WHERE id BETWEEN 3 AND 5")
    assert store.verify().problem == "event id 3 to 5 deleted: the chain breaks before event id 6"


def test_deleted_newest_rows_are_named(make_store: Callable[..., AuditStore]) -> None:
    store = _filled(make_store)
    _sql(store.path, "DELETE FROM events WHERE id >= 9")
    result = store.verify()
    assert not result.ok and result.bad_id == 9
    assert "event id 9 to 10 deleted" in (result.problem or "")


def test_deleted_first_row_is_named(make_store: Callable[..., AuditStore]) -> None:
    store = _filled(make_store)
    _sql(store.path, "DELETE FROM events WHERE id = 1")
    result = store.verify()
    assert not result.ok and result.bad_id == 1
    assert "event id 1 deleted" in (result.problem or "")


def test_reordered_rows_are_named(make_store: Callable[..., AuditStore]) -> None:
    store = _filled(make_store)
    _sql(
        store.path,
        "UPDATE events SET id = -1 WHERE id = 5",
        "UPDATE events SET id = 5 WHERE id = 6",
        "UPDATE events SET id = 6 WHERE id = -1",
    )
    result = store.verify()
    assert not result.ok and result.bad_id == 5
    assert result.problem == "event id 5 is out of order: it was written after event id 6"


def test_row_inserted_outside_the_writer_is_named(make_store: Callable[..., AuditStore]) -> None:
    store = _filled(make_store)
    _sql(store.path, "INSERT INTO events (id, ts, category, data) VALUES (11, '2030-01-01T00:00:00.000000Z', 'audit.block', '{}')")
    result = store.verify()
    assert not result.ok and result.bad_id == 11 and "no hash" in (result.problem or "")


def test_emptied_chain_state_is_detected(make_store: Callable[..., AuditStore]) -> None:
    store = _filled(make_store)
    _sql(store.path, "DELETE FROM chain")
    assert not store.verify().ok
    store.write(AuditEvent("audit.tool_call"))
    with pytest.raises(Exception, match="chain state"):
        store.flush(timeout=2)


def _aged(make_store: Callable[..., AuditStore], plan: list[tuple[str, dt.timedelta]], **kw: object) -> AuditStore:
    store = make_store(**kw)
    for category, age in plan:
        store.write(AuditEvent(category, ts=(NOW - age).timestamp()))
    store.flush()
    return store


def test_prune_of_oldest_moves_the_anchor_and_still_verifies(make_store: Callable[..., AuditStore]) -> None:
    day = dt.timedelta(days=1)
    store = _aged(make_store, [("audit.tool_call", 100 * day)] * 3 + [("audit.tool_call", day)] * 2,
                  retention={"audit.*": "90d"})
    report = store.prune(now=NOW)
    assert report.deleted == {"audit.tool_call": 3} and report.anchor_id == 3
    result = store.verify()
    assert result.ok and result.checked == 2 and result.anchor_id == 3
    store.write(AuditEvent("audit.tool_call", ts=NOW.timestamp()))
    store.flush()
    assert store.verify().ok


def test_prune_from_the_middle_leaves_tombstones_that_verify(make_store: Callable[..., AuditStore]) -> None:
    day = dt.timedelta(days=1)
    plan = [("audit.block", 200 * day), ("install.scan", 40 * day), ("audit.block", 30 * day), ("install.scan", 31 * day),
            ("audit.block", day)]
    store = _aged(make_store, plan, retention={"install.*": "30d", "audit.*": "forever"})
    report = store.prune(now=NOW)
    assert report.deleted == {"install.scan": 2}
    assert report.anchor_id == 0  # id 1 survives, so the middle ids become tombstones
    result = store.verify()
    assert result.ok and result.checked == 3
    conn = sqlite3.connect(store.path)
    assert [r[0] for r in conn.execute("SELECT id FROM pruned_events")] == [2, 4]
    conn.close()
    # Deleting a surviving row next to tombstones is still caught.
    _sql(store.path, "DELETE FROM events WHERE id = 3")
    assert not store.verify().ok


def test_forged_tombstone_is_detected(make_store: Callable[..., AuditStore]) -> None:
    day = dt.timedelta(days=1)
    plan = [("audit.block", 2 * day), ("install.scan", 40 * day), ("audit.block", day)]
    store = _aged(make_store, plan, retention={"install.*": "30d"})
    store.prune(now=NOW)
    _sql(store.path, "UPDATE pruned_events SET row_hash = 'f' || substr(row_hash, 2) WHERE id = 2")
    result = store.verify()
    assert not result.ok and result.bad_id == 3


def test_prune_everything_then_continue(make_store: Callable[..., AuditStore]) -> None:
    store = _aged(make_store, [("channel.deny", dt.timedelta(days=10))] * 4, retention={"channel.*": "1w"})
    assert store.prune(now=NOW).anchor_id == 4
    assert store.verify().ok
    store.write(AuditEvent("channel.deny", ts=NOW.timestamp()))
    store.flush()
    result = store.verify()
    assert result.ok and result.checked == 1 and result.head_id == 5


def test_timestamps_are_iso_utc_text(make_store: Callable[..., AuditStore]) -> None:
    store = _aged(make_store, [("audit.block", dt.timedelta(0))])
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT ts FROM events").fetchone()[0] == iso(NOW)
    conn.close()
