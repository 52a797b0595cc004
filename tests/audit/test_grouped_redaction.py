"""The preparer thread: events captured by ``write`` and redacted in groups (one stage-⑬ call for
many events) are stored exactly as the per-event path stores them, and fail closed the same way."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ethos_core.audit import AuditStore
from ethos_core.audit import store as store_module
from ethos_core.audit.scrub import REDACTION_ERROR, redact_groups
from ethos_core.types import AuditEvent
from tests.audit.helpers import SECRETS, known_redactor, known_redactor_many
from tests.audit.test_batch_redaction import TRICKY, _mark_many, _random_value


def _events(seed: int, count: int) -> list[AuditEvent]:
    rnd = random.Random(seed)
    events = []
    for i in range(count):
        data = TRICKY[i % len(TRICKY)] if i % 3 == 0 else {"v": _random_value(rnd), "n": i}
        events.append(
            AuditEvent(
                "audit.tool_call",
                code=rnd.choice(["", "x", "c " + SECRETS[0]]),
                session=rnd.choice([None, "s", SECRETS[1]]),
                rule=rnd.choice([None, "r", SECRETS[2]]),
                turn=rnd.choice([None, i]),
                ts=rnd.choice([1_700_000_000.5 + i, 1_700_000_000.0, 0.0]),
                data=data,
            )
        )
    return events


def _grouped_rows(store: AuditStore, events: list[AuditEvent]) -> list[Any]:
    return store._finish_items([store._capture(e) for e in events])  # type: ignore[arg-type]


@pytest.mark.parametrize("many", [known_redactor_many, _mark_many])
def test_grouped_rows_equal_per_event_rows(tmp_path: Path, many: Callable[[list[str]], list[str]]) -> None:
    store = AuditStore(tmp_path / "a.db", redact_many=many)
    try:
        events = _events(5, 300)
        assert _grouped_rows(store, events) == [store._prepare(e) for e in events]
    finally:
        store.close()


def test_groups_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []

    def many(texts: list[str]) -> list[str]:
        sizes.append(len(texts))
        return known_redactor_many(texts)

    store = AuditStore(tmp_path / "a.db", redact_many=many)
    try:
        events = [AuditEvent("audit.tool_call", data={"k": "v"}) for _ in range(200)]
        rows = _grouped_rows(store, events)
        assert len(rows) == 200
        assert sizes == [2 * store_module._GROUP_EVENTS] * 3 + [2 * (200 - 3 * store_module._GROUP_EVENTS)]
        sizes.clear()
        big = "b" * (store_module._GROUP_CHARS // 2)
        _grouped_rows(store, [AuditEvent("audit.tool_call", data={"k": big}) for _ in range(4)])
        assert sizes == [4, 4]  # two events reach the character bound
    finally:
        store.close()


@pytest.mark.parametrize(
    "broken",
    [
        lambda texts: (_ for _ in ()).throw(RuntimeError("boom")),
        lambda texts: texts[:-1],
        lambda texts: [None] * len(texts),
        lambda texts: tuple(known_redactor(t) for t in texts)[:1] + (b"raw",) * (len(texts) - 1),
    ],
)
def test_broken_redactor_fails_closed_per_event(tmp_path: Path, broken: Callable[[list[str]], Any]) -> None:
    store = AuditStore(tmp_path / "a.db", redact_many=broken)
    try:
        events = [AuditEvent("audit.block", rule=SECRETS[0], data={"v": SECRETS[1], SECRETS[2]: [SECRETS[3]]})] * 5
        rows = _grouped_rows(store, events)
        assert rows == [store._prepare(e) for e in events]
        text = repr(rows)
        assert REDACTION_ERROR in text
        for secret in SECRETS:
            assert secret not in text
    finally:
        store.close()


def test_a_failing_group_is_retried_event_by_event() -> None:
    def many(texts: list[str]) -> list[str]:
        if "poison" in texts:
            raise RuntimeError("boom")
        return [t.upper() for t in texts]

    answers = redact_groups([["a", "b"], ["poison"], [], ["c"]], many)
    assert answers == [["A", "B"], [REDACTION_ERROR], [], ["C"]]


def test_events_that_cannot_wait_are_redacted_in_write(tmp_path: Path) -> None:
    seen: list[str] = []

    class Sneaky:
        def __str__(self) -> str:
            seen.append(threading.current_thread().name)
            return "obj " + SECRETS[1]

    store = AuditStore(tmp_path / "a.db", redact=known_redactor)
    try:
        store.write(AuditEvent("audit.tool_call", data={"obj": Sneaky()}))
        assert seen == [threading.current_thread().name]  # stringified by the caller's thread
        store.flush()
    finally:
        store.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("a.db*"))
    assert SECRETS[1].encode() not in blob and b"obj [REDACTED:secret]" in blob


def test_preparer_failure_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ethos_core.errors import AuditWriteError

    store = AuditStore(tmp_path / "a.db", redact_many=known_redactor_many)
    monkeypatch.setattr(store, "_finish_items", lambda items: 1 / 0)
    store.write(AuditEvent("audit.tool_call", data={"k": "v"}))
    with pytest.raises(AuditWriteError, match="preparer failed"):
        store.flush(timeout=5)
    with pytest.raises(AuditWriteError):
        store.write(AuditEvent("audit.tool_call"))
    assert store.health()["ok"] is False
    with pytest.raises(AuditWriteError, match="unwritten"):
        store.close(timeout=5)
