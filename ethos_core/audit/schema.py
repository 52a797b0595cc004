"""The schema of ``observability.db`` and its forward-only migrations.

Invariant: a database is only ever moved forward, one numbered migration at a time, each in
its own transaction that also records the version in ``schema_version``; a database newer than
this code is refused (never "downgraded" or half-understood). Every table is STRICT; the file
is opened in WAL mode with a busy timeout.

Does not cover: concurrent migration by two processes of different ethos versions beyond what
SQLite's write lock serialises (the second one sees the new version and does nothing).

History (each entry is a migration, tested from every earlier version):

1. ``events`` and ``policy_snapshots`` (the incident tables).
2. ``events_fts``: FTS5 over category, code, rule and data, kept in step by triggers.
3. Tamper evidence: ``prev_hash``/``row_hash`` per event, the ``chain`` state row (prune anchor
   and head) and ``pruned_events`` tombstones; existing rows are chained in id order.
4. A bounded searchable text: ``search`` becomes a stored column written by the store (every key
   and string value of ``data``, each cut to :data:`SEARCH_CHARS_PER_STRING` characters) instead
   of the first 1,024 characters of the JSON; existing rows get it from their stored ``data``.
   Indexing cost per event no longer grows with bodies (FTS5 tokenising was the writer's
   largest cost). ``search`` is not part of the hash chain (it is derived from ``data``).
"""

from __future__ import annotations

import json
import operator
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from ethos_core.audit.chain import GENESIS, row_hash

Migration = Callable[[sqlite3.Connection], None]

# Column order of ``events`` (after all migrations); hashed fields are EVENT_FIELDS.
EVENT_FIELDS: tuple[str, ...] = (
    "id",
    "ts",
    "category",
    "code",
    "severity",
    "personality",
    "session",
    "turn",
    "stage",
    "rule",
    "verdict",
    "source",
    "snapshot_id",
    "data",
)


def _v1_core(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE policy_snapshots (
            id TEXT PRIMARY KEY,
            personality TEXT NOT NULL,
            body TEXT NOT NULL CHECK (json_valid(body)),
            created TEXT NOT NULL
        ) STRICT"""
    )
    conn.execute(
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            category TEXT NOT NULL,
            code TEXT NOT NULL DEFAULT '',
            severity TEXT NOT NULL DEFAULT 'info',
            personality TEXT,
            session TEXT,
            turn INTEGER,
            stage TEXT,
            rule TEXT,
            verdict TEXT,
            source TEXT,
            snapshot_id TEXT REFERENCES policy_snapshots(id),
            data TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data))
        ) STRICT"""
    )
    conn.execute("CREATE INDEX events_ts ON events(ts)")
    conn.execute("CREATE INDEX events_category_ts ON events(category, ts)")
    conn.execute("CREATE INDEX events_personality_ts ON events(personality, ts)")


# Schema v2/v3 indexed the first SEARCH_CHARS characters of each event's data JSON (plus
# category, code and rule). v4 replaces that with search_text() below.
SEARCH_CHARS = 1024


def _v2_fts(conn: sqlite3.Connection) -> None:
    conn.execute(
        f"ALTER TABLE events ADD COLUMN search TEXT GENERATED ALWAYS AS (substr(data, 1, {SEARCH_CHARS})) VIRTUAL"
    )
    conn.execute(
        "CREATE VIRTUAL TABLE events_fts USING fts5("
        "category, code, rule, search, content='events', content_rowid='id')"
    )
    # Inserts are indexed by the writer in bulk (INSERT … SELECT per batch, several times faster
    # than a per-row trigger); deletes and updates from anywhere keep the index consistent.
    conn.execute(
        """CREATE TRIGGER events_fts_ad AFTER DELETE ON events BEGIN
            INSERT INTO events_fts(events_fts, rowid, category, code, rule, search)
            VALUES ('delete', old.id, old.category, old.code, old.rule, old.search);
        END"""
    )
    conn.execute(
        """CREATE TRIGGER events_fts_au AFTER UPDATE ON events BEGIN
            INSERT INTO events_fts(events_fts, rowid, category, code, rule, search)
            VALUES ('delete', old.id, old.category, old.code, old.rule, old.search);
            INSERT INTO events_fts(rowid, category, code, rule, search)
            VALUES (new.id, new.category, new.code, new.rule, new.search);
        END"""
    )
    conn.execute("INSERT INTO events_fts(events_fts) VALUES ('rebuild')")


FTS_INDEX_SQL = (
    "INSERT INTO events_fts(rowid, category, code, rule, search) "
    "SELECT id, category, code, rule, search FROM events WHERE id > ? AND id <= ?"
)


def _v3_chain(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE events ADD COLUMN prev_hash TEXT")
    conn.execute("ALTER TABLE events ADD COLUMN row_hash TEXT")
    conn.execute(
        """CREATE TABLE chain (
            k INTEGER PRIMARY KEY CHECK (k = 1),
            anchor_id INTEGER NOT NULL,
            anchor_hash TEXT NOT NULL,
            head_id INTEGER NOT NULL,
            head_hash TEXT NOT NULL
        ) STRICT"""
    )
    conn.execute(
        """CREATE TABLE pruned_events (
            id INTEGER PRIMARY KEY,
            prev_hash TEXT NOT NULL,
            row_hash TEXT NOT NULL,
            category TEXT NOT NULL,
            ts TEXT NOT NULL,
            pruned_at TEXT NOT NULL
        ) STRICT"""
    )
    # The update trigger below deletes index entries: make the index match the rows first.
    conn.execute("INSERT INTO events_fts(events_fts) VALUES ('rebuild')")
    # Chain the rows written before tamper evidence existed, in id order.
    cols = ", ".join(EVENT_FIELDS)
    rows = conn.execute(f"SELECT {cols} FROM events ORDER BY id").fetchall()
    prev, last_id = GENESIS, 0
    for row in rows:
        digest = row_hash(prev, row)
        conn.execute("UPDATE events SET prev_hash = ?, row_hash = ? WHERE id = ?", (prev, digest, row[0]))
        prev, last_id = digest, row[0]
    # Ids below the first surviving row are treated as pruned before the chain existed.
    first = rows[0][0] if rows else 1
    conn.execute(
        "INSERT INTO chain (k, anchor_id, anchor_hash, head_id, head_hash) VALUES (1, ?, ?, ?, ?)",
        (first - 1, GENESIS, last_id if rows else 0, prev),
    )


# The searchable text of an event (schema v4): every key and string value of ``data``, in
# order, each cut to its first SEARCH_CHARS_PER_STRING characters, at most SEARCH_MAX_CHARS in
# all. Tool names, outcomes, rule ids, hosts, most paths and short reasons are indexed whole;
# long strings (URLs with long paths, commands, bodies, tracebacks) by their first 64
# characters only — reach the rest with SQL (``data LIKE``, ``json_extract``). Numbers are not
# indexed. FTS5 tokenising is the writer's largest cost, so what is indexed is what an
# investigator searches for, not every body.
SEARCH_CHARS_PER_STRING = 64
SEARCH_MAX_CHARS = 2048


_HEAD = operator.itemgetter(slice(None, SEARCH_CHARS_PER_STRING))  # s[:cap]; a short s is returned as is


def search_text(strings: Iterable[str]) -> str:
    """The ``search`` column for the (already redacted) strings of one event's ``data``."""
    text = " ".join(map(_HEAD, strings))
    return text[:SEARCH_MAX_CHARS] if len(text) > SEARCH_MAX_CHARS else text


def _json_strings(value: object, out: list[str]) -> list[str]:
    if isinstance(value, str):
        if value:
            out.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key:
                out.append(key)
            _json_strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _json_strings(item, out)
    return out


def search_text_of_data(data: str | None) -> str:
    """:func:`search_text` of a stored ``data`` JSON text (rows written before v4, edited rows)."""
    try:
        parsed = json.loads(data) if data else {}
    except (TypeError, ValueError, RecursionError):
        return ""
    return search_text(_json_strings(parsed, []))


_FTS_TRIGGERS = (
    """CREATE TRIGGER events_fts_ad AFTER DELETE ON events BEGIN
        INSERT INTO events_fts(events_fts, rowid, category, code, rule, search)
        VALUES ('delete', old.id, old.category, old.code, old.rule, old.search);
    END""",
    """CREATE TRIGGER events_fts_au AFTER UPDATE ON events BEGIN
        INSERT INTO events_fts(events_fts, rowid, category, code, rule, search)
        VALUES ('delete', old.id, old.category, old.code, old.rule, old.search);
        INSERT INTO events_fts(rowid, category, code, rule, search)
        VALUES (new.id, new.category, new.code, new.rule, new.search);
    END""",
)


def _v4_search_text(conn: sqlite3.Connection) -> None:
    conn.execute("DROP TRIGGER IF EXISTS events_fts_ad")
    conn.execute("DROP TRIGGER IF EXISTS events_fts_au")
    conn.execute("DROP TABLE events_fts")
    conn.execute("ALTER TABLE events DROP COLUMN search")
    conn.execute("ALTER TABLE events ADD COLUMN search TEXT NOT NULL DEFAULT ''")
    conn.create_function("ethos_search_text", 1, search_text_of_data, deterministic=True)
    try:
        conn.execute("UPDATE events SET search = ethos_search_text(data)")
    finally:
        conn.create_function("ethos_search_text", 1, None)
    conn.execute(
        "CREATE VIRTUAL TABLE events_fts USING fts5("
        "category, code, rule, search, content='events', content_rowid='id')"
    )
    for trigger in _FTS_TRIGGERS:
        conn.execute(trigger)
    conn.execute("INSERT INTO events_fts(events_fts) VALUES ('rebuild')")


MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "events and policy snapshots", _v1_core),
    (2, "FTS5 index over event text", _v2_fts),
    (3, "hash chain, prune anchor and tombstones", _v3_chain),
    (4, "bounded searchable text per event", _v4_search_text),
)

SCHEMA_VERSION = MIGRATIONS[-1][0]


class SchemaTooNewError(sqlite3.DatabaseError):
    """The file was written by a newer ethos; it is refused rather than half-understood."""


def current_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply every migration above the file's version up to ``target``; returns the new version.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each step is its own
    ``BEGIN IMMEDIATE`` … ``COMMIT``, so a crash leaves the file at a whole version.
    """
    version = current_version(conn)
    if version == target == SCHEMA_VERSION:
        return version  # nothing to do: no write transaction (works on read-only files too)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied TEXT NOT NULL) STRICT"
        )
        version = current_version(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"observability.db schema version {version} is newer than this ethos understands "
            f"({SCHEMA_VERSION}); upgrade ethos instead of writing to it"
        )
    for number, description, step in MIGRATIONS:
        if number <= version or number > target:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-check under the write lock: another process may have migrated meanwhile.
            if current_version(conn) >= number:
                conn.execute("ROLLBACK")
                continue
            step(conn)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied) VALUES (?, ?, ?)",
                (number, description, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        version = number
    return version


DEFAULT_PRAGMAS: Mapping[str, str | int] = {
    "journal_mode": "WAL",
    # FULL: a committed batch survives power loss, not just a process crash (one fsync per batch).
    "synchronous": "FULL",
    "foreign_keys": 0,
}


def connect(
    path: Path | str,
    *,
    busy_timeout: float = 5.0,
    pragmas: Mapping[str, str | int] | None = None,
    readonly: bool = False,
) -> sqlite3.Connection:
    """Open ``path`` in autocommit mode with WAL, the busy timeout and any extra pragmas."""
    if readonly:
        conn = sqlite3.connect(
            f"file:{Path(path)}?mode=ro", uri=True, isolation_level=None, timeout=busy_timeout, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=busy_timeout, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        merged = dict(DEFAULT_PRAGMAS)
        merged.update(pragmas or {})
        if readonly:
            merged.pop("journal_mode", None)
        for name, value in merged.items():
            if not name.replace("_", "").isalnum():
                raise ValueError(f"bad pragma name {name!r}")
            if isinstance(value, str) and not value.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"bad pragma value {value!r}")
            conn.execute(f"PRAGMA {name} = {value}")
        if not readonly:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != str(merged.get("journal_mode", "wal")).lower():
                raise sqlite3.OperationalError(f"could not enable journal_mode={merged['journal_mode']} (got {mode})")
    except BaseException:
        conn.close()
        raise
    return conn
