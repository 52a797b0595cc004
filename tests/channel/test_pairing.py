"""Pairing codes: issuing limits, approval, replay, expiry, lockout, the consume race, health."""

from __future__ import annotations

import math
import multiprocessing
import threading
from pathlib import Path

import pytest

from ethos_core.channel import pairing as pm
from ethos_core.channel.pairing import PairingStore, normalize_code, pairing_health
from ethos_core.types import AuditEvent


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def events() -> list[AuditEvent]:
    return []


@pytest.fixture
def store(tmp_path: Path, clock: Clock, events: list[AuditEvent]) -> PairingStore:
    return PairingStore(tmp_path / "state.db", emit=events.append, clock=clock)


def codes(events: list[AuditEvent]) -> list[str]:
    return [e.code for e in events if e.category == "channel.pairing"]


def test_code_entropy_and_alphabet() -> None:
    assert CODE_BITS() >= 40
    assert not set("01OILU") & set(pm.ALPHABET)
    code = pm.new_code()
    assert len(code) == pm.CODE_LENGTH and set(code) <= set(pm.ALPHABET)
    assert normalize_code(pm.format_code(code).lower()) == code


def CODE_BITS() -> float:
    return pm.CODE_LENGTH * math.log2(len(pm.ALPHABET))


def test_issue_and_approve(store: PairingStore, events: list[AuditEvent]) -> None:
    issued = store.issue("telegram", "42", "42")
    assert issued.issued and issued.code
    assert not store.is_approved("telegram", "42")
    result = store.approve(pm.format_code(issued.code), approver="owner")
    assert result.approved and result.sender == "42" and result.platform == "telegram"
    assert store.is_approved("telegram", "42")
    assert codes(events) == ["issued", "approved"]


def test_database_never_holds_the_code(store: PairingStore, tmp_path: Path) -> None:
    issued = store.issue("telegram", "42", "42")
    assert issued.code is not None
    raw = (tmp_path / "state.db").read_bytes()
    for path in tmp_path.glob("state.db*"):
        raw += path.read_bytes()
    assert issued.code.encode() not in raw


def test_replay_fails(store: PairingStore) -> None:
    code = store.issue("telegram", "42", "42").code
    assert code is not None
    assert store.approve(code, "owner").approved
    again = store.approve(code, "owner")
    assert not again.approved and again.rule == "pairing.replay"


def test_expiry(store: PairingStore, clock: Clock, events: list[AuditEvent]) -> None:
    code = store.issue("telegram", "42", "42").code
    assert code is not None
    clock.now += pm.CODE_TTL + 1
    result = store.approve(code, "owner")
    assert not result.approved and result.rule == "pairing.expired"
    assert "expired" in codes(events)
    assert not store.is_approved("telegram", "42")


def test_wrong_sender_binding(store: PairingStore) -> None:
    code = store.issue("telegram", "42", "42").code
    assert code is not None
    result = store.approve(code, "owner", sender="43")
    assert not result.approved and result.rule == "pairing.wrong_sender"
    wrong_platform = store.approve(code, "owner", platform="slack")
    assert wrong_platform.rule == "pairing.wrong_sender"
    assert store.approve(code, "owner", sender="42", platform="telegram").approved


def test_code_for_one_sender_is_not_valid_for_another(store: PairingStore, tmp_path: Path) -> None:
    code = store.issue("telegram", "42", "42").code
    assert code is not None
    # Tamper: move the pending row to another sender; the hash binding no longer verifies.
    conn = pm.connect(tmp_path / "state.db")
    conn.execute("UPDATE pairing_codes SET sender = '666'")
    conn.close()
    result = store.approve(code, "owner")
    assert not result.approved and not store.is_approved("telegram", "666")


def test_one_pending_per_sender_per_cooldown(store: PairingStore, clock: Clock) -> None:
    first = store.issue("telegram", "42", "42")
    assert first.issued
    assert store.issue("telegram", "42", "42").rule == "pairing.cooldown"
    clock.now += pm.SENDER_COOLDOWN + 1
    second = store.issue("telegram", "42", "42")
    assert second.issued
    assert first.code is not None
    assert store.approve(first.code, "owner").rule == "pairing.expired"  # superseded


def test_three_pending_per_platform(store: PairingStore) -> None:
    for sender in ("1", "2", "3"):
        assert store.issue("telegram", sender, sender).issued
    assert store.issue("telegram", "4", "4").rule == "pairing.capacity"
    assert store.issue("slack", "4", "4").issued  # per platform


def test_lockout_after_five_failures(store: PairingStore, clock: Clock, events: list[AuditEvent], tmp_path: Path) -> None:
    code = store.issue("telegram", "42", "42").code
    assert code is not None
    for _ in range(pm.FAIL_LIMIT):
        assert not store.approve("ZZZZZ-ZZZZZ", "owner").approved
    assert store.locked_until() is not None
    locked = store.approve(code, "owner")
    assert not locked.approved and locked.rule == "pairing.locked"
    assert "locked" in codes(events)
    health = pairing_health(tmp_path / "state.db", now=clock.now)
    assert health["locked"] and health["ok"] is False and "unlock" in health["reason"]
    clock.now += 1200
    assert store.locked_until() is not None  # still locked after the failure window
    store.unlock()
    assert store.approve(code, "owner").approved
    assert pairing_health(tmp_path / "state.db", now=clock.now)["locked"] is False


def test_failures_outside_window_do_not_lock(store: PairingStore, clock: Clock) -> None:
    for _ in range(pm.FAIL_LIMIT - 1):
        store.approve("ZZZZZ-ZZZZZ", "owner")
    clock.now += pm.FAIL_WINDOW + 1
    store.approve("ZZZZZ-ZZZZZ", "owner")
    assert store.locked_until() is None


def test_revoke_code_and_sender(store: PairingStore) -> None:
    code = store.issue("telegram", "42", "42").code
    assert code is not None
    assert store.revoke(code) == [{"kind": "code", "platform": "telegram", "sender": "42"}]
    assert not store.approve(code, "owner").approved
    code2 = store.issue("telegram", "43", "43").code
    assert code2 is not None and store.approve(code2, "owner").approved
    assert store.revoke("43")[0]["kind"] == "sender"
    assert not store.is_approved("telegram", "43")


def test_codes_survive_restart(tmp_path: Path, clock: Clock) -> None:
    code = PairingStore(tmp_path / "state.db", clock=clock).issue("telegram", "42", "42").code
    assert code is not None
    reopened = PairingStore(tmp_path / "state.db", clock=clock)
    assert len(reopened.pending()) == 1
    assert reopened.approve(code, "owner").approved


def test_consume_race_threads(tmp_path: Path) -> None:
    store = PairingStore(tmp_path / "state.db")
    code = store.issue("telegram", "42", "42").code
    assert code is not None
    barrier = threading.Barrier(100)
    results: list[bool] = []
    lock = threading.Lock()

    def consume() -> None:
        mine = PairingStore(tmp_path / "state.db")
        barrier.wait()
        ok = mine.approve(code, "owner").approved
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=consume) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 100 and results.count(True) == 1


def _consume_in_process(path: str, code: str, barrier: object, queue: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    queue.put(PairingStore(path).approve(code, "owner").approved)  # type: ignore[attr-defined]


def test_consume_race_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    code = PairingStore(path).issue("telegram", "42", "42").code
    assert code is not None
    mp = multiprocessing.get_context("fork")
    barrier = mp.Barrier(6)
    queue = mp.Queue()
    procs = [mp.Process(target=_consume_in_process, args=(path, code, barrier, queue)) for _ in range(6)]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert outcomes.count(True) == 1 and len(outcomes) == 6


def test_health_without_database(tmp_path: Path) -> None:
    health = pairing_health(tmp_path / "missing.db")
    assert health["ok"] is True and not (tmp_path / "missing.db").exists()


def test_alerts_show_in_health(store: PairingStore, tmp_path: Path, clock: Clock) -> None:
    store.record_alert("telegram", "6666", "channel.alert.repeated_denials", 10)
    health = pairing_health(tmp_path / "state.db", now=clock.now + 1)
    assert health["status"] == "alert" and health["alerts_24h"] == 1 and health["ok"] is False
