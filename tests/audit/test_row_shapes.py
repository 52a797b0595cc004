"""The writer's two ways to bind a row (every column, or the hashed head as one JSON text that
SQLite takes apart) store exactly the values that were hashed, whatever the text holds."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ethos_core.audit import AuditStore
from ethos_core.audit import store as store_module
from ethos_core.audit.schema import EVENT_FIELDS
from ethos_core.types import AuditEvent

TEXTS = [
    "plain",
    "ключ значение ✓",
    "emoji 🦀 and 𝔘",
    'quote " inside',
    "back\\slash",
    "nul \x00 byte",
    "ctrl \x01\x1f\n\t",
    "del \x7f char",
    "line sep \u2028 \u2029",
    "[1,2]",
    "null",
    "",
]


def _events() -> list[AuditEvent]:
    return [
        AuditEvent(
            "audit.tool_call",
            code=text,
            session=text or None,
            rule=f"r-{text}",
            personality="p",
            turn=i,
            source=text,
            data={"k": text},
            ts=1_700_000_000.125 + i,
        )
        for i, text in enumerate(TEXTS)
    ]


def _stored(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT {', '.join(EVENT_FIELDS)} FROM events ORDER BY id").fetchall()
    finally:
        conn.close()


class _Collect:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def send(self, row: dict[str, Any]) -> None:
        self.rows.append(row)


@pytest.mark.parametrize("together", [True, False])
def test_every_text_round_trips_and_verifies(make_store: Callable[..., AuditStore], together: bool) -> None:
    sink = _Collect()
    store = make_store(sinks=[sink])
    for event in _events():
        store.write(event)
        if not together:
            store.flush()  # one row per batch: each text takes its own shape
    store.flush()
    store._sinks.close()
    rows = _stored(store.path)
    assert [r[3] for r in rows] == TEXTS  # code: never redacted by the test redactors
    assert [r[6] for r in rows] == [t or None for t in TEXTS]
    assert [r[11] for r in rows] == TEXTS
    assert [r[7] for r in rows] == list(range(len(TEXTS)))
    assert store.verify().ok
    assert [tuple(r[f] for f in EVENT_FIELDS) for r in sink.rows] == rows


@pytest.mark.skipif(not store_module._HAS_JSON_ARROW, reason="SQLite before 3.38 binds every column")
def test_compact_rows_are_the_full_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same events stored through each shape give identical rows (and chains)."""
    plain = [e for e in _events() if all(ch >= " " and ch not in '"\\\x7f' for ch in e.code)]
    assert len(plain) >= 4
    results = []
    for compact in (True, False):
        monkeypatch.setattr(store_module, "_HAS_JSON_ARROW", compact)
        path = tmp_path / f"{compact}.db"
        store = AuditStore(path, redact=str)
        for event in plain:
            store.write(event)
        store.close()
        results.append(_stored(path))
    assert results[0] == results[1]
