"""Fail closed: a store that cannot be written refuses writes, reports it and loses nothing acknowledged."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ethos_core.audit import AuditStore
from ethos_core.audit.schema import SCHEMA_VERSION
from ethos_core.errors import AuditWriteError
from ethos_core.types import AuditEvent


def _count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def _wait_failed(store: AuditStore, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while store.health()["last_error"] is None:
        assert time.monotonic() < deadline, "store never reported the failure"
        time.sleep(0.01)


def test_full_disk_refuses_writes_and_reports(make_store: Callable[..., AuditStore]) -> None:
    # max_page_count caps the file like a full disk: SQLITE_FULL on the batch that does not fit.
    store = make_store(pragmas={"max_page_count": 64}, retry_interval=0.05)
    big = "y" * 4000
    with pytest.raises(AuditWriteError, match="full"):
        for i in range(200):
            store.write(AuditEvent("audit.tool_call", turn=i, data={"body": big}))
            store.flush()
    health = store.health()
    assert health["ok"] is False and "full" in health["last_error"]
    with pytest.raises(AuditWriteError):
        store.write(AuditEvent("audit.tool_call"))
    assert store.verify().ok  # the rolled-back batch left nothing half-written


def test_read_only_database_refuses_to_open_when_it_needs_creating(tmp_path: Path) -> None:
    # Running as root defeats chmod, so read-only storage is simulated with query_only.
    with pytest.raises(AuditWriteError, match="cannot open.*readonly"):
        AuditStore(tmp_path / "observability.db", redact=str, pragmas={"query_only": 1})


def test_read_only_database_refuses_writes(make_store: Callable[..., AuditStore]) -> None:
    make_store().close()
    store = make_store(pragmas={"query_only": 1}, retry_interval=0.05)
    store.write(AuditEvent("audit.tool_call"))
    with pytest.raises(AuditWriteError, match="readonly"):
        store.flush()
    assert "readonly" in store.health()["last_error"]
    with pytest.raises(AuditWriteError):
        store.write(AuditEvent("audit.tool_call"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_directory_refuses_to_open(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(AuditWriteError, match="cannot open"):
            AuditStore(ro / "observability.db", redact=str)
    finally:
        ro.chmod(0o700)


def test_unopenable_path_refuses_to_open(tmp_path: Path) -> None:
    (tmp_path / "observability.db").mkdir()
    with pytest.raises(AuditWriteError, match="cannot open"):
        AuditStore(tmp_path / "observability.db", redact=str)


def test_removed_file_fails_closed_instead_of_writing_to_unlinked_inode(make_store: Callable[..., AuditStore]) -> None:
    store = make_store()
    store.write(AuditEvent("audit.tool_call"))
    store.flush()
    for suffix in ("", "-wal", "-shm"):
        Path(str(store.path) + suffix).unlink(missing_ok=True)
    store.write(AuditEvent("audit.tool_call"))
    with pytest.raises(AuditWriteError, match="removed"):
        store.flush()
    health = store.health()
    assert health["fatal"] is True and health["ok"] is False
    with pytest.raises(AuditWriteError, match="removed"):
        store.write(AuditEvent("audit.tool_call"))


def test_replaced_file_fails_closed(make_store: Callable[..., AuditStore], tmp_path: Path) -> None:
    store = make_store()
    store.flush()
    other = tmp_path / "other.db"
    other.write_bytes(b"")
    os.replace(other, store.path)
    store.write(AuditEvent("audit.tool_call"))
    with pytest.raises(AuditWriteError, match="replaced"):
        store.flush()


def test_locked_past_timeout_fails_then_recovers_without_loss(make_store: Callable[..., AuditStore]) -> None:
    store = make_store(busy_timeout=0.1, retry_interval=0.05)
    store.write(AuditEvent("audit.tool_call", turn=0))
    store.flush()
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    store.write(AuditEvent("audit.tool_call", turn=1))  # accepted before the failure is known
    _wait_failed(store)
    assert "locked" in store.health()["last_error"]
    with pytest.raises(AuditWriteError, match="locked"):
        store.write(AuditEvent("audit.tool_call", turn=2))
    with pytest.raises(AuditWriteError):
        store.flush(timeout=1)
    blocker.execute("ROLLBACK")
    blocker.close()
    deadline = time.monotonic() + 10
    while store.health()["last_error"] is not None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    store.flush()
    assert _count(store.path) == 2  # the event queued before the failure was retried, not dropped
    store.write(AuditEvent("audit.tool_call", turn=3))
    store.flush()
    assert _count(store.path) == 3
    assert store.verify().ok


def test_queue_full_past_put_timeout_raises(make_store: Callable[..., AuditStore]) -> None:
    store = make_store(queue_size=1, put_timeout=0.2, busy_timeout=5.0)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the writer waits on the lock (5 s busy timeout)
    try:
        with pytest.raises(AuditWriteError, match="stayed full"):
            for i in range(10):
                store.write(AuditEvent("audit.tool_call", turn=i))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.flush()
    assert _count(store.path) >= 1


def test_schema_newer_than_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "observability.db"
    AuditStore(path, redact=str).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'future', 'now')", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(AuditWriteError, match="newer"):
        AuditStore(path, redact=str)


def test_builtin_audit_stage_raises_audit_write_error(make_store: Callable[..., AuditStore], tmp_path: Path) -> None:
    from ethos_core.builtin.audit import make_plugin
    from ethos_core.runtime import HomePaths, Runtime

    make_store().close()
    store = make_store(pragmas={"query_only": 1}, retry_interval=0.05)
    runtime = Runtime(home=HomePaths(tmp_path))
    runtime.services["audit"] = store
    plugin = make_plugin(runtime)
    plugin.ethos_audit(AuditEvent("audit.tool_call"))  # type: ignore[attr-defined]
    _wait_failed(store)
    with pytest.raises(AuditWriteError):
        plugin.ethos_audit(AuditEvent("audit.tool_call"))  # type: ignore[attr-defined]


def test_pipeline_audit_fails_closed(make_store: Callable[..., AuditStore], tmp_path: Path) -> None:
    from ethos_core.manager import build_plugin_manager
    from ethos_core.pipeline import Pipeline
    from ethos_core.runtime import HomePaths, Runtime

    make_store().close()
    store = make_store(pragmas={"query_only": 1}, retry_interval=0.05)
    runtime = Runtime(home=HomePaths(tmp_path))
    runtime.services["audit"] = store
    pipeline = Pipeline(build_plugin_manager(runtime, autoload=False))
    pipeline.audit(AuditEvent("audit.tool_call"))
    _wait_failed(store)
    with pytest.raises(AuditWriteError):
        pipeline.audit(AuditEvent("audit.tool_call"))


def test_flush_from_another_thread_acknowledges_everything_before_it(make_store: Callable[..., AuditStore]) -> None:
    store = make_store(batch_size=7)
    done = threading.Event()

    def produce() -> None:
        for i in range(500):
            store.write(AuditEvent("audit.tool_call", turn=i))
        done.set()

    t = threading.Thread(target=produce)
    t.start()
    done.wait()
    store.flush()
    assert _count(store.path) == 500
    t.join()
