"""Forward-only migrations, tested from every earlier schema version with data in it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ethos_core.audit import AuditStore
from ethos_core.audit import query as q
from ethos_core.audit.chain import GENESIS, row_hash
from ethos_core.audit.schema import EVENT_FIELDS, MIGRATIONS, SCHEMA_VERSION, connect, current_version, migrate
from ethos_core.types import AuditEvent


def _as_the_v3_writer_did(conn: sqlite3.Connection) -> None:
    """Chain the rows and index them (FTS over the v2/v3 generated ``search``), as a v3 writer would."""
    conn.execute("INSERT INTO events_fts(events_fts) VALUES ('rebuild')")  # before the update trigger runs
    cols = ", ".join(EVENT_FIELDS)
    prev = GENESIS
    last = 0
    for row in conn.execute(f"SELECT {cols} FROM events ORDER BY id").fetchall():
        digest = row_hash(prev, row)
        conn.execute("UPDATE events SET prev_hash = ?, row_hash = ? WHERE id = ?", (prev, digest, row[0]))
        prev, last = digest, row[0]
    conn.execute("UPDATE chain SET anchor_id = 0, head_id = ?, head_hash = ? WHERE k = 1", (last, prev))


def _old_database(path: Path, version: int) -> None:
    conn = connect(path)
    try:
        assert migrate(conn, target=version) == version
        if version >= 1:
            conn.execute(
                "INSERT INTO policy_snapshots (id, personality, body, created) VALUES ('s1', 'eng', '{}', 'then')"
            )
            for i in range(1, 4):
                conn.execute(
                    "INSERT INTO events (id, ts, category, code, personality, snapshot_id, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (i, f"2024-01-0{i}T00:00:00.000000Z", "audit.block", "deny", "eng", "s1", f'{{"host":"legacy{i}"}}'),
                )
        if version >= 3:
            _as_the_v3_writer_did(conn)
    finally:
        conn.close()


@pytest.mark.parametrize("version", [m[0] for m in MIGRATIONS[:-1]] + [0])
def test_upgrade_from_every_earlier_version(tmp_path: Path, version: int) -> None:
    path = tmp_path / "observability.db"
    _old_database(path, version)
    store = AuditStore(path, redact=str)
    try:
        assert store.schema_version == SCHEMA_VERSION
        store.write(AuditEvent("audit.block", data={"host": "fresh"}))
        store.flush()
        result = store.verify()
        assert result.ok
        assert result.checked == (4 if version >= 1 else 1)
    finally:
        store.close()
    conn = q.open_readonly(path)
    try:
        assert current_version(conn) == SCHEMA_VERSION
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        if version >= 1:
            assert [e["id"] for e in q.search(conn, "legacy2")] == [2]
            joined = conn.execute(
                "SELECT s.personality FROM events e JOIN policy_snapshots s ON s.id = e.snapshot_id WHERE e.id = 1"
            ).fetchone()
            assert joined == ("eng",)
        assert len(q.search(conn, "fresh")) == 1
    finally:
        conn.close()


def test_reopening_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "observability.db"
    for _ in range(3):
        AuditStore(path, redact=str).close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_migration_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "observability.db"
    _old_database(path, 2)
    conn = connect(path)
    conn.execute("CREATE TABLE chain (x INTEGER) STRICT")  # v3 will collide with this
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn)
    assert current_version(conn) == 2
    cols = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
    assert "row_hash" not in cols  # the failed step rolled back entirely
    conn.close()
