"""Bypass attempts against the audit substrate: getting a secret onto disk, hiding or forging
rows, or making a write vanish. One named test per bypass class."""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ethos_core.audit import AuditStore
from ethos_core.audit import query as q
from ethos_core.audit.events import shape_tool_call_data
from ethos_core.errors import AuditWriteError
from ethos_core.types import AuditEvent

SECRET = "sk-ant-ADVERSARIAL0secret0value0123456789"
QUOTED_SECRET = 'pa"ss\\wo\nrd-\u00e9\u4e2d-9f8e7d6c5b'
UNKNOWN = "zz-value-the-redactor-never-saw-41a7"


def redactor(text: str) -> str:
    return text.replace(SECRET, "[REDACTED:secret]").replace(QUOTED_SECRET, "[REDACTED:secret]")


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Callable[..., AuditStore]]:
    stores: list[AuditStore] = []

    def factory(**kw: Any) -> AuditStore:
        kw.setdefault("redact", redactor)
        store = AuditStore(kw.pop("path", tmp_path / "observability.db"), **kw)
        stores.append(store)
        return store

    yield factory
    for store in stores:
        try:
            store.close(timeout=0.5)
        except AuditWriteError:
            pass


def _disk(path: Path) -> bytes:
    return b"".join(Path(str(path) + s).read_bytes() for s in ("", "-wal") if Path(str(path) + s).exists())


def _write_and_read(make_store: Callable[..., AuditStore], event: AuditEvent) -> bytes:
    store = make_store()
    store.write(event)
    store.flush()
    blob = _disk(store.path)
    store.close()
    return blob + _disk(store.path)


# --- secrets reaching disk ----------------------------------------------------------------


def test_secret_as_a_dict_key(make_store: Callable[..., AuditStore]) -> None:
    blob = _write_and_read(make_store, AuditEvent("audit.block", data={SECRET: {SECRET: [SECRET]}}))
    assert SECRET.encode() not in blob


def test_secret_with_json_special_characters(make_store: Callable[..., AuditStore]) -> None:
    # Redaction runs on the raw string, before JSON escaping could hide the value from it.
    blob = _write_and_read(make_store, AuditEvent("audit.block", rule=QUOTED_SECRET, data={"v": QUOTED_SECRET}))
    for form in (QUOTED_SECRET.encode(), QUOTED_SECRET.encode("unicode_escape"), b"pa\\\"ss\\\\wo\\nrd"):
        assert form not in blob


@pytest.mark.parametrize(
    "key",
    ["password", "PASSWORD", "x-api-key", "X_Api_Key", "apiKey", "aws_secret_access_key", "Authorization",
     "set-cookie", "github_token", "client.secret", "pass\u200bword", "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44",
     "api\u00adkey", "private_key"],
)
def test_secret_naming_key_variants(make_store: Callable[..., AuditStore], key: str) -> None:
    blob = _write_and_read(make_store, AuditEvent("audit.tool_call", data={"args": {key: UNKNOWN}}))
    assert UNKNOWN.encode() not in blob


def test_secret_key_with_container_value(make_store: Callable[..., AuditStore]) -> None:
    blob = _write_and_read(make_store, AuditEvent("audit.tool_call", data={"credentials": {"a": [UNKNOWN, {"b": 7}]}}))
    assert UNKNOWN.encode() not in blob


def test_deep_nesting_is_cut_not_crashed(make_store: Callable[..., AuditStore]) -> None:
    nested: Any = UNKNOWN
    for _ in range(200):
        nested = {"k": nested}
    blob = _write_and_read(make_store, AuditEvent("audit.block", data={"deep": nested}))
    assert UNKNOWN.encode() not in blob and b"[TRUNCATED:depth]" in blob


def test_redactor_that_raises_fails_closed(make_store: Callable[..., AuditStore]) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("regex engine exploded")

    store = make_store(redact=broken)
    store.write(AuditEvent("audit.block", rule=UNKNOWN, data={"v": UNKNOWN, UNKNOWN: 1}))
    store.close()
    blob = _disk(store.path)
    assert UNKNOWN.encode() not in blob and b"[REDACTED:redaction_error]" in blob


def test_redactor_returning_non_string_fails_closed(make_store: Callable[..., AuditStore]) -> None:
    store = make_store(redact=lambda text: None)
    store.write(AuditEvent("audit.block", data={"v": UNKNOWN}))
    store.close()
    assert UNKNOWN.encode() not in _disk(store.path)


def test_non_json_values_are_stringified_then_redacted(make_store: Callable[..., AuditStore]) -> None:
    class Sneaky:
        def __str__(self) -> str:
            return f"object holding {SECRET}"

    class Mode(enum.Enum):
        LEAK = SECRET

    event = AuditEvent(
        "audit.block",
        data={"obj": Sneaky(), "bytes": SECRET.encode(), "enum": Mode.LEAK, "exc": ValueError(SECRET), "path": Path(SECRET)},
    )
    assert SECRET.encode() not in _write_and_read(make_store, event)


def test_non_finite_numbers_cannot_corrupt_the_row(make_store: Callable[..., AuditStore]) -> None:
    store = make_store()
    store.write(AuditEvent("audit.block", data={"nan": math.nan, "inf": -math.inf}, ts=math.nan))
    store.write(AuditEvent("audit.block", ts=1e300))
    store.flush()
    conn = q.open_readonly(store.path)
    rows = q.query(conn)
    conn.close()
    assert rows[0]["data"]["event"] == {"nan": "nan", "inf": "-inf"} and rows[0]["data"]["invalid_ts"] == "nan"
    assert rows[1]["ts"].startswith(str(dt.datetime.now(dt.UTC).year))
    assert store.verify().ok


def test_megabyte_string_is_redacted_and_stored(make_store: Callable[..., AuditStore]) -> None:
    huge = ("a" * 524_288) + SECRET + ("b" * 524_288)
    store = make_store()
    store.write(AuditEvent("audit.tool_call", data={"result": huge}))
    store.close()
    blob = _disk(store.path)
    assert SECRET.encode() not in blob
    conn = q.open_readonly(store.path)
    assert len(q.query(conn)[0]["data"]["result"]) == len(huge) - len(SECRET) + len("[REDACTED:secret]")
    conn.close()


def test_policy_snapshot_cannot_carry_a_secret(make_store: Callable[..., AuditStore]) -> None:
    store = make_store()
    store.register_policy("eng", {"bots": [{"token": UNKNOWN}], "note": SECRET})
    store.close()
    blob = _disk(store.path)
    assert UNKNOWN.encode() not in blob and SECRET.encode() not in blob


def test_observability_none_drops_args_whatever_their_shape() -> None:
    data = shape_tool_call_data("none", "t", {"a": {"b": [UNKNOWN]}, UNKNOWN: 1}, "ok", 1.0, result=UNKNOWN, error=UNKNOWN)
    assert UNKNOWN not in repr(data)
    with pytest.raises(ValueError):
        shape_tool_call_data("verbose", "t", {}, "ok", 1.0)  # an unknown mode is not "full"


# --- hiding, forging and reordering rows ---------------------------------------------------


def _filled(make_store: Callable[..., AuditStore], n: int = 6) -> AuditStore:
    store = make_store()
    for i in range(n):
        store.write(AuditEvent("audit.block", turn=i))
    store.flush()
    return store


def _sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in statements:
        conn.execute(statement)
    conn.close()


def test_truncating_newest_events_is_detected(make_store: Callable[..., AuditStore]) -> None:
    store = _filled(make_store)
    _sql(store.path, "DELETE FROM events WHERE id = 6")
    assert store.verify().problem == "event id 6 deleted: the newest events are missing (head is id 6)"


def test_appending_a_forged_row_is_detected(make_store: Callable[..., AuditStore]) -> None:
    store = _filled(make_store)
    _sql(
        store.path,
        "INSERT INTO events (id, ts, category, data, prev_hash, row_hash) "
        "SELECT 7, ts, category, data, row_hash, row_hash FROM events WHERE id = 6",
    )
    result = store.verify()
    assert not result.ok and result.bad_id == 7


def test_swapping_rows_is_detected(make_store: Callable[..., AuditStore]) -> None:
    store = _filled(make_store)
    _sql(
        store.path,
        "UPDATE events SET id = 100 WHERE id = 2",
        "UPDATE events SET id = 2 WHERE id = 3",
        "UPDATE events SET id = 3 WHERE id = 100",
    )
    assert "out of order" in (store.verify().problem or "")


def test_moving_the_prune_anchor_is_detected(make_store: Callable[..., AuditStore]) -> None:
    store = _filled(make_store)
    _sql(store.path, "DELETE FROM events WHERE id <= 2", "UPDATE chain SET anchor_id = 2")
    result = store.verify()
    assert not result.ok and result.bad_id == 3


def test_fake_tombstone_cannot_hide_a_deletion(make_store: Callable[..., AuditStore]) -> None:
    store = _filled(make_store)
    _sql(
        store.path,
        "INSERT INTO pruned_events SELECT id, 'x', 'y', category, ts, 'now' FROM events WHERE id = 3",
        "DELETE FROM events WHERE id = 3",
    )
    assert not store.verify().ok


def test_search_text_cannot_inject_fts_syntax(make_store: Callable[..., AuditStore]) -> None:
    store = _filled(make_store)
    conn = q.open_readonly(store.path)
    try:
        for text in ['"', "*", "NEAR(", "a OR b", "category:audit", "^x", "-", "\x00", "(" * 1000]:
            assert isinstance(q.search(conn, text), list)
        assert q.query(conn, category="[") == []
    finally:
        conn.close()


# --- races and lost writes ------------------------------------------------------------------


def test_writes_racing_prune_keep_the_chain_valid(make_store: Callable[..., AuditStore]) -> None:
    store = make_store(retention={"audit.*": "1h"}, batch_size=16)
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).timestamp()
    stop = threading.Event()

    def produce(k: int) -> None:
        i = 0
        while not stop.is_set() and i < 400:
            store.write(AuditEvent("audit.block", session=str(k), turn=i, ts=old - (i % 2)))
            i += 1

    workers = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
    for w in workers:
        w.start()
    pruned = 0
    for _ in range(5):
        pruned += store.prune().total
    for w in workers:
        w.join()
    store.flush()
    pruned += store.prune().total
    assert pruned == 1600
    assert store.verify().ok


def test_failure_mid_stream_never_loses_an_acknowledged_event(make_store: Callable[..., AuditStore]) -> None:
    store = make_store(busy_timeout=0.05, retry_interval=0.02, batch_size=8)
    acknowledged: list[int] = []
    refused = 0
    blocker = sqlite3.connect(store.path, isolation_level=None)
    for i in range(300):
        if i == 100:
            blocker.execute("BEGIN EXCLUSIVE")
        if i == 200:
            blocker.execute("ROLLBACK")
        try:
            store.write(AuditEvent("audit.block", turn=i))
            store.flush(timeout=1)
        except AuditWriteError:
            refused += 1
            continue
        acknowledged.append(i)
    blocker.close()
    for _ in range(200):  # the store recovers once the lock is gone
        try:
            store.flush(timeout=1)
            break
        except AuditWriteError:
            threading.Event().wait(0.02)
    conn = sqlite3.connect(store.path)
    stored = {r[0] for r in conn.execute("SELECT turn FROM events")}
    conn.close()
    assert refused > 0
    assert set(acknowledged) <= stored
    assert store.verify().ok


def test_category_and_code_cannot_smuggle_control_text(make_store: Callable[..., AuditStore]) -> None:
    store = make_store()
    store.write(AuditEvent("audit.block'; DROP TABLE events; --", code=f"x\n{SECRET}"))
    store.flush()
    conn = q.open_readonly(store.path)
    rows = q.query(conn)
    conn.close()
    assert rows[0]["category"] == "audit.block'; DROP TABLE events; --"
    assert not re.search(re.escape(SECRET), rows[0]["code"])


def test_vocabulary_shortcut_only_for_exact_constants(make_store: Callable[..., AuditStore]) -> None:
    # Known category/stage/verdict strings skip the redactor; anything merely close to them does not.
    event = AuditEvent(
        f"audit.block {SECRET}", severity=f"info{SECRET}", stage=f"redact\n{SECRET}", verdict=f"deny {SECRET}"
    )
    assert SECRET.encode() not in _write_and_read(make_store, event)
