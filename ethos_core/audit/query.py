"""Read side of ``observability.db`` for ``ethos audit``: filters, FTS search, stats, export.

Invariant: these functions only read (the connection is opened ``mode=ro``); rows come back
exactly as stored (already redacted), with ``data`` parsed from its JSON text.

Does not cover: writing or pruning (see store.py and retention.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ethos_core.audit.retention import iso, parse_duration
from ethos_core.audit.schema import EVENT_FIELDS, connect

COLUMNS = EVENT_FIELDS + ("prev_hash", "row_hash")
_SELECT = f"SELECT {', '.join('e.' + c for c in COLUMNS)} FROM events e"


def open_readonly(path: str | Path) -> sqlite3.Connection:
    if not Path(path).exists():
        raise FileNotFoundError(f"no audit database at {path}")
    return connect(path, readonly=True)


def row_to_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(COLUMNS, row, strict=True))
    try:
        out["data"] = json.loads(out["data"]) if out["data"] else {}
    except (TypeError, ValueError):
        pass  # an edited row; keep the text as stored so verify/export show it
    return out


def parse_when(value: str, now: dt.datetime | None = None) -> str:
    """``--since/--until``: ISO date/time (UTC if naive) or a duration ago (``36h``, ``7d``, ``2w``)."""
    now = now or dt.datetime.now(dt.UTC)
    text = value.strip()
    if re.fullmatch(r"\d{1,6}\s*[hdw]", text):
        delta = parse_duration(text)
        assert delta is not None
        return iso(now - delta)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is neither an ISO date/time nor a duration like 24h, 7d, 2w") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return iso(when)


def _filters(
    category: str | None,
    since: str | None,
    until: str | None,
    personality: str | None,
    session: str | None = None,
    rule: str | None = None,
    after_id: int | None = None,
) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if category:
        where.append("e.category GLOB ?")
        params.append(category)
    if since:
        where.append("e.ts >= ?")
        params.append(parse_when(since))
    if until:
        where.append("e.ts < ?")
        params.append(parse_when(until))
    if personality:
        where.append("e.personality = ?")
        params.append(personality)
    if session:
        where.append("e.session = ?")
        params.append(session)
    if rule:
        where.append("e.rule = ?")
        params.append(rule)
    if after_id is not None:
        where.append("e.id > ?")
        params.append(after_id)
    return (" WHERE " + " AND ".join(where)) if where else "", params


def query(
    conn: sqlite3.Connection,
    *,
    category: str | None = None,
    since: str | None = None,
    until: str | None = None,
    personality: str | None = None,
    session: str | None = None,
    rule: str | None = None,
    limit: int | None = 100,
    newest_first: bool = False,
    after_id: int | None = None,
) -> list[dict[str, Any]]:
    clause, params = _filters(category, since, until, personality, session, rule, after_id)
    sql = f"{_SELECT}{clause} ORDER BY e.id {'DESC' if newest_first else 'ASC'}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return [row_to_dict(r) for r in conn.execute(sql, params)]


def fts_query(text: str) -> str:
    """Plain words → an FTS5 query of quoted terms (AND); no FTS syntax reaches the parser."""
    # Control characters (NUL ends the FTS5 string early) become separators.
    cleaned = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    terms = [t for t in re.split(r"\s+", cleaned.strip()) if t]
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms)


def search(conn: sqlite3.Connection, text: str, *, limit: int = 50, raw: bool = False) -> list[dict[str, Any]]:
    """Events whose indexed text matches ``text`` (FTS5), newest first."""
    match = text if raw else fts_query(text)
    if not match:
        return []
    sql = f"{_SELECT} JOIN events_fts f ON f.rowid = e.id WHERE events_fts MATCH ? ORDER BY e.id DESC LIMIT ?"
    return [row_to_dict(r) for r in conn.execute(sql, (match, int(limit)))]


def stats(conn: sqlite3.Connection, path: str | Path) -> dict[str, Any]:
    by_category = {
        str(c): int(n) for c, n in conn.execute("SELECT category, COUNT(*) FROM events GROUP BY category ORDER BY category")
    }
    first, last, total = conn.execute("SELECT MIN(ts), MAX(ts), COUNT(*) FROM events").fetchone()
    chain = conn.execute("SELECT anchor_id, head_id FROM chain WHERE k = 1").fetchone()
    version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    p = Path(path)
    size = sum(f.stat().st_size for f in (p, p.with_name(p.name + "-wal")) if f.exists())
    return {
        "path": str(p),
        "events": int(total),
        "by_category": by_category,
        "first": first,
        "last": last,
        "snapshots": int(conn.execute("SELECT COUNT(*) FROM policy_snapshots").fetchone()[0]),
        "pruned_tombstones": int(conn.execute("SELECT COUNT(*) FROM pruned_events").fetchone()[0]),
        "anchor_id": None if chain is None else int(chain[0]),
        "head_id": None if chain is None else int(chain[1]),
        "schema_version": int(version or 0),
        "bytes": size,
    }


def export_jsonl(conn: sqlite3.Connection, **filters: Any) -> Iterator[str]:
    """Every matching event as one JSON line, oldest first, with its hashes."""
    clause, params = _filters(
        filters.get("category"), filters.get("since"), filters.get("until"), filters.get("personality")
    )
    for row in conn.execute(f"{_SELECT}{clause} ORDER BY e.id", params):
        yield json.dumps(row_to_dict(row), ensure_ascii=False, separators=(",", ":"))


def snapshot(conn: sqlite3.Connection, snapshot_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT id, personality, body, created FROM policy_snapshots WHERE id = ?", (snapshot_id,)).fetchone()
    if row is None:
        return None
    return {"id": row[0], "personality": row[1], "policy": json.loads(row[2]), "created": row[3]}
