"""The audit canary: prove the audit store is writing *and* redacting, on disk.

A fresh fake credential (Anthropic key shape, random body) is emitted through the engine as a
``system.startup`` event with code ``harden.canary`` and a non-secret nonce. After a flush:

* **writing** — a row with that nonce is read back from ``observability.db``;
* **redacting** — neither the canary nor the last 48 characters of its random body occur in
  the raw bytes of ``observability.db``, ``-wal`` or ``-shm`` (so the FTS index, freed pages
  and the WAL are covered, not just the ``events`` table as SQLite presents it), nor in any
  column of the row read back.

The body is lowercase letters and digits, so the FTS tokenizer (which splits on ``-`` and
folds case) stores it unchanged, and a 48-character tail survives its prefix compression.
Invariant: the canary is never printed, never returned and never written anywhere else.
Not covered: sinks (JSONL) — they receive the same redacted row, after commit.
"""

from __future__ import annotations

import os
import sqlite3
import string
from collections.abc import Iterable
from pathlib import Path
from random import SystemRandom
from typing import Any

import attrs

from ethos_core.types import AuditEvent

CANARY_CODE = "harden.canary"
_ALPHABET = string.ascii_lowercase + string.digits
TAIL = 48
CHUNK = 1 << 20


@attrs.frozen
class CanaryOutcome:
    written: bool
    written_detail: str
    leaked_in: tuple[str, ...]  # file names (or "events row") where the canary was found
    redact_detail: str


def make_canary() -> tuple[str, str]:
    """(fake credential, nonce). The credential matches the redaction engine's anthropic shape."""
    # os.urandom-backed; not the ``secrets`` module, which a tests/secrets package can shadow.
    rng = SystemRandom()
    body = "".join(rng.choice(_ALPHABET) for _ in range(80))
    return f"sk-ant-api03-{body}", f"harden-{os.urandom(6).hex()}"


def needles(canary: str) -> list[bytes]:
    body = canary.rsplit("-", 1)[-1]
    return [canary.encode("utf-8"), body[-TAIL:].encode("utf-8")]


def file_contains(path: Path, patterns: Iterable[bytes]) -> bool:
    """Streamed substring search (chunks overlap so a match across a boundary is found)."""
    pats = [p for p in patterns if p]
    if not pats:
        return False
    overlap = max(len(p) for p in pats) - 1
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return False
    with f:
        tail = b""
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                return False
            window = tail + chunk
            if any(p in window for p in pats):
                return True
            tail = window[-overlap:] if overlap else b""


def store_files(db: Path) -> list[Path]:
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def run_canary(engine: Any) -> CanaryOutcome:
    """Emit the canary through ``engine`` (stage ⑬ then ⑮), flush, then look for it."""
    canary, nonce = make_canary()
    store = engine.runtime.services.get("audit")
    if store is None:
        return CanaryOutcome(False, "no audit store is attached to the engine", (), "nothing was written")
    db = Path(getattr(store, "path", engine.runtime.home.observability_db))
    try:
        engine.emit(AuditEvent(category="system.startup", code=CANARY_CODE, severity="info",
                               data={"canary": canary, "nonce": nonce,
                                     "purpose": "ethos harden check: this fake key must be redacted"}))
        flush = getattr(store, "flush", None)
        if callable(flush):
            flush()
    except Exception as exc:  # noqa: BLE001 - any failure to write is the finding
        return CanaryOutcome(False, f"writing the canary event failed: {type(exc).__name__}: {exc}", (),
                             "the canary could not be written, so redaction is unproven")
    rows = _rows_with(db, nonce)
    if isinstance(rows, str):
        return CanaryOutcome(False, rows, (), "the canary row could not be read back, so redaction is unproven")
    if not rows:
        return CanaryOutcome(False, f"the canary event (nonce {nonce}) is not in {db}", (),
                             "the canary row is missing, so redaction is unproven")
    leaked: list[str] = []
    pats = needles(canary)
    if any(any(p.decode() in str(v) for p in pats) for row in rows for v in row):
        leaked.append("events row")
    for path in store_files(db):
        if file_contains(path, pats):
            leaked.append(path.name)
    written = f"canary event {nonce} committed to {db.name}"
    if leaked:
        return CanaryOutcome(True, written, tuple(leaked), "the fake key reached disk unredacted in: " + ", ".join(leaked))
    return CanaryOutcome(True, written, (), f"the fake key is absent from {', '.join(p.name for p in store_files(db))}")


def _rows_with(db: Path, nonce: str) -> list[tuple[Any, ...]] | str:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        return f"cannot open {db} read-only: {exc}"
    try:
        rows = conn.execute("SELECT * FROM events WHERE code = ? AND instr(data, ?) > 0", (CANARY_CODE, nonce)).fetchall()
    except sqlite3.Error as exc:
        return f"cannot read the events of {db}: {exc}"
    finally:
        conn.close()
    return list(rows)
