"""Behaviour of the audit store: schema, write path, snapshots, sinks, health, event shapes."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ethos_core.audit import AuditStore, JsonlSink, sinks_from_config
from ethos_core.audit.events import (
    CATEGORIES,
    redaction_summary_event,
    shape_tool_call_data,
    startup_event,
    tool_call_event,
)
from ethos_core.audit.store import probe
from ethos_core.config.model import SinkConfig
from ethos_core.errors import AuditWriteError
from ethos_core.types import AuditEvent, ObservabilityMode, RedactionSpan


def _rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_schema_is_strict_wal_and_has_fts(store: AuditStore) -> None:
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0]: r[1] for r in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")}
        for name in ("events", "policy_snapshots", "chain", "pruned_events", "schema_version"):
            assert tables[name].rstrip().endswith("STRICT"), name
        assert "fts5" in tables["events_fts"].lower()
        with pytest.raises(sqlite3.IntegrityError):  # STRICT: no silent type coercion
            conn.execute("INSERT INTO events (ts, category, turn) VALUES ('t', 'c', 'not-an-int')")
    finally:
        conn.close()


def test_hardening_checklist_queries_work_as_written(store: AuditStore) -> None:
    store.write(AuditEvent("system.startup", data={"version": "1"}))
    store.write(AuditEvent("audit.block", rule="ssrf.metadata", data={"url": "http://169.254.169.254/"}))
    store.write(AuditEvent("audit.block", rule="hardline.rm_root", data={"command": "rm -rf /"}))
    store.flush()
    counts = dict(_rows(store.path, "SELECT category, COUNT(*) FROM events GROUP BY category;"))
    assert counts == {"audit.block": 2, "system.startup": 1}
    latest = _rows(store.path, "SELECT data FROM events ORDER BY rowid DESC LIMIT 5;")
    assert json.loads(latest[0][0]) == {"command": "rm -rf /"}
    assert len(latest) == 3


def test_every_column_round_trips(store: AuditStore) -> None:
    store.write(
        AuditEvent(
            "audit.block",
            code="deny",
            severity="warning",
            personality="eng",
            session="s1",
            turn=3,
            stage="network_reach",
            rule="ssrf.private",
            verdict="deny",
            source="ethos.builtin.network_reach",
            data={"url": "http://10.0.0.1/", "nested": {"list": [1, 2.5, True, None]}},
            ts=1_700_000_000.25,
        )
    )
    store.flush()
    row = _rows(
        store.path,
        "SELECT ts, category, code, severity, personality, session, turn, stage, rule, verdict, source, data FROM events",
    )[0]
    assert row[:11] == (
        "2023-11-14T22:13:20.250000Z",
        "audit.block",
        "deny",
        "warning",
        "eng",
        "s1",
        3,
        "network_reach",
        "ssrf.private",
        "deny",
        "ethos.builtin.network_reach",
    )
    assert json.loads(row[11]) == {"nested": {"list": [1, 2.5, True, None]}, "url": "http://10.0.0.1/"}


def test_policy_snapshot_stored_once_and_joined(store: AuditStore) -> None:
    policy = {"networkReach": [{"host": "api.github.com", "ports": [443]}]}
    first = store.register_policy("eng", policy)
    assert store.register_policy("eng", dict(policy)) == first
    store.write(AuditEvent("audit.tool_call", personality="eng", data={"url": "https://api.github.com/"}))
    store.register_policy("eng", {"networkReach": []})
    store.write(AuditEvent("audit.tool_call", personality="eng", data={"url": "https://example.com/"}))
    store.write(AuditEvent("audit.tool_call", personality="other"))
    store.flush()
    rows = _rows(
        store.path,
        "SELECT e.data, s.body FROM events e LEFT JOIN policy_snapshots s ON s.id = e.snapshot_id ORDER BY e.id",
    )
    assert json.loads(rows[0][1]) == policy
    assert json.loads(rows[1][1]) == {"networkReach": []}
    assert rows[2][1] is None
    assert _rows(store.path, "SELECT COUNT(*) FROM policy_snapshots")[0][0] == 2
    assert len(first) == 64


def test_eight_concurrent_writers_lose_nothing(store: AuditStore) -> None:
    per_thread, threads = 500, 8

    def produce(k: int) -> None:
        for i in range(per_thread):
            store.write(AuditEvent("audit.tool_call", session=f"t{k}", turn=i))

    workers = [threading.Thread(target=produce, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    store.flush()
    counts = dict(_rows(store.path, "SELECT session, COUNT(DISTINCT turn) FROM events GROUP BY session"))
    assert counts == {f"t{k}": per_thread for k in range(threads)}
    assert store.health()["events_written"] == per_thread * threads
    assert store.verify().ok


def test_prepare_on_caller_redacts_on_the_writing_thread_in_order(tmp_path: Path) -> None:
    """The engine's mode: no preparer thread; every string is redacted inside ``write`` on the
    caller's thread (nothing waits unredacted in a queue) and rows keep the write order."""
    threads: set[int] = set()

    def redact_many(texts: list[str]) -> list[str]:
        threads.add(threading.get_ident())
        return [t.replace("hunter2", "[REDACTED:secret]") for t in texts]

    store = AuditStore(tmp_path / "observability.db", redact_many=redact_many, prepare_on_caller=True)
    try:
        names = {t.name for t in threading.enumerate()}
        assert "ethos-audit-writer" in names and "ethos-audit-preparer" not in names
        for i in range(50):
            store.write(AuditEvent("audit.tool_call", turn=i, data={"args": {"note": f"pw hunter2 {i}"}}))
            assert threads == {threading.get_ident()}  # redacted before write() returned
        store.flush()
    finally:
        store.close()
    rows = _rows(store.path, "SELECT turn, data FROM events ORDER BY id")
    assert [turn for turn, _ in rows] == list(range(50))
    assert all("hunter2" not in data and "[REDACTED" in data for _, data in rows)
    assert store.verify().ok


def test_commit_delay_gathers_a_burst_and_flush_or_close_commits_at_once(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "observability.db", redact=str, prepare_on_caller=True, commit_delay=1.0)
    try:
        for i in range(3):
            store.write(AuditEvent("audit.tool_call", turn=i))
        # Within the delay the burst is still gathering: nothing was committed yet.
        assert _rows(store.path, "SELECT COUNT(*) FROM events")[0][0] == 0
        assert store.health()["pending"] == 3
        started = time.monotonic()
        store.flush()  # wakes the gathering writer instead of waiting out the delay
        assert time.monotonic() - started < 0.9
        assert [r[0] for r in _rows(store.path, "SELECT turn FROM events ORDER BY id")] == [0, 1, 2]
        store.write(AuditEvent("audit.tool_call", turn=3))
        started = time.monotonic()
    finally:
        store.close()
    assert time.monotonic() - started < 0.9  # close commits the gathering burst at once
    assert _rows(store.path, "SELECT COUNT(*) FROM events")[0][0] == 4
    assert store.verify().ok


def test_commit_delay_ends_when_the_queue_is_full(tmp_path: Path) -> None:
    """A producer waiting for room ends the gathering: back-pressure never waits out the delay."""
    store = AuditStore(tmp_path / "observability.db", redact=str, prepare_on_caller=True, commit_delay=1.0,
                       queue_size=2, put_timeout=30.0)
    try:
        started = time.monotonic()
        for i in range(40):
            store.write(AuditEvent("audit.tool_call", turn=i))
        assert time.monotonic() - started < 10  # 40 events at one delay per 2 would take 20 s
        store.flush()
    finally:
        store.close()
    assert [r[0] for r in _rows(store.path, "SELECT turn FROM events ORDER BY id")] == list(range(40))


@pytest.mark.parametrize("delay", [-0.1, 1.5, "0.1"])
def test_commit_delay_is_bounded(tmp_path: Path, delay: Any) -> None:
    with pytest.raises(ValueError, match="commit_delay"):
        AuditStore(tmp_path / "observability.db", redact=str, commit_delay=delay)


def test_back_pressure_blocks_instead_of_dropping(make_store: Callable[..., AuditStore]) -> None:
    store = make_store(queue_size=2, batch_size=1)
    for i in range(300):
        store.write(AuditEvent("audit.tool_call", turn=i))
    store.flush()
    turns = [r[0] for r in _rows(store.path, "SELECT turn FROM events ORDER BY id")]
    assert turns == list(range(300))


def test_close_writes_everything_then_refuses(make_store: Callable[..., AuditStore]) -> None:
    store = make_store()
    for i in range(100):
        store.write(AuditEvent("audit.tool_call", turn=i))
    store.close()
    assert _rows(store.path, "SELECT COUNT(*) FROM events")[0][0] == 100
    with pytest.raises(AuditWriteError, match="closed"):
        store.write(AuditEvent("audit.tool_call"))
    assert store.health()["ok"] is False


def test_two_stores_on_one_file_keep_one_linear_chain(tmp_path: Path, make_store: Callable[..., AuditStore]) -> None:
    a = make_store(tmp_path / "shared.db")
    b = make_store(tmp_path / "shared.db")
    for i in range(200):
        (a if i % 2 else b).write(AuditEvent("audit.tool_call", turn=i))
    a.flush()
    b.flush()
    assert _rows(tmp_path / "shared.db", "SELECT COUNT(*) FROM events")[0][0] == 200
    assert a.verify().ok


def test_health_reports_state(store: AuditStore) -> None:
    store.write(AuditEvent("system.startup"))
    store.flush()
    health = store.health()
    assert health["ok"] and health["writable"]
    assert health["last_error"] is None
    assert health["events_written"] == 1
    assert health["schema_version"] == 4
    assert health["queue_depth"] == 0


def test_probe_reports_writable_file(store: AuditStore, tmp_path: Path) -> None:
    assert probe(store.path)["writable"] is True
    (tmp_path / "dir.db").mkdir()
    bad = probe(tmp_path / "dir.db")
    assert bad["ok"] is False and bad["last_error"]


def test_jsonl_sink_receives_redacted_committed_rows(tmp_path: Path, make_store: Callable[..., AuditStore]) -> None:
    out = tmp_path / "ship" / "audit.jsonl"
    store = make_store(sinks=sinks_from_config([SinkConfig(type="jsonl", path=str(out))]))
    store.write(AuditEvent("audit.block", rule="r1", data={"key": "hunter2-correct-horse-battery"}))
    store.close()
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 1
    assert lines[0]["rule"] == "r1" and lines[0]["id"] == 1
    assert "hunter2" not in out.read_text()
    assert len(lines[0]["row_hash"]) == 64


def test_jsonl_sink_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    JsonlSink("-").send({"id": 1, "category": "system.startup"})
    assert json.loads(capsys.readouterr().out) == {"id": 1, "category": "system.startup"}


def test_failing_sink_never_blocks_local_write(make_store: Callable[..., AuditStore]) -> None:
    class Broken:
        name = "broken"

        def send(self, event: Any) -> None:
            raise ConnectionError("collector down")

    store = make_store(sinks=[Broken()])
    for i in range(20):
        store.write(AuditEvent("audit.tool_call", turn=i))
    store.flush()
    store._sinks.close()  # drain the sink thread so the counters are final
    health = store.health()
    assert health["ok"] is True
    assert health["events_written"] == 20
    assert health["sink_failures"] == 20
    assert health["sinks"][0]["last_error"] == "ConnectionError: collector down"


def test_unknown_sink_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sink type"):
        sinks_from_config([{"type": "syslog"}])


def test_builtin_sinks_hook_reads_config(tmp_path: Path) -> None:
    from ethos_core.audit.sinks import make_plugin
    from ethos_core.config.model import GlobalConfig, ObservabilityConfig
    from ethos_core.runtime import HomePaths, Runtime

    cfg = GlobalConfig(observability=ObservabilityConfig(sinks=(SinkConfig(type="jsonl", path="-"),)))
    plugin = make_plugin(Runtime(home=HomePaths(tmp_path), config=cfg))
    sinks = plugin.ethos_audit_sinks()  # type: ignore[attr-defined]
    assert [type(s).__name__ for s in sinks] == ["JsonlSink"]


def test_redact_is_mandatory(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="redact"):
        AuditStore(tmp_path / "x.db", redact=None)  # type: ignore[arg-type]


def test_bad_retention_is_refused_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="audit"):
        AuditStore(tmp_path / "x.db", redact=str, retention={"audit.*": "90 days"})


# --- event shapes -------------------------------------------------------------------------


def test_categories_are_exactly_design_section_7() -> None:
    assert CATEGORIES == {
        "audit.tool_call",
        "audit.approval",
        "audit.block",
        "audit.watcher",
        "audit.injection_flag",
        "audit.redacted",
        "channel.allow",
        "channel.deny",
        "channel.pairing",
        "install.scan",
        "system.startup",
    }


def test_observability_none_keeps_no_args_or_bodies() -> None:
    data = shape_tool_call_data("none", "shell", {"command": "cat secret.txt"}, "error", 12.5, result="body", error="boom")
    assert data == {"tool": "shell", "outcome": "error", "duration_ms": 12.5, "arg_names": 1}


def test_observability_redacted_cuts_long_bodies_full_keeps_them() -> None:
    long = "x" * 5000
    red = shape_tool_call_data(ObservabilityMode.REDACTED, "read", {"path": long}, "ok", 1, result=long)
    assert len(red["args"]["path"]) < 2200 and "TRUNCATED" in red["result"]
    full = shape_tool_call_data(ObservabilityMode.FULL, "read", {"path": long}, "ok", 1, result=long)
    assert full["args"]["path"] == long and full["result"] == long


def test_tool_call_event_shape_and_full_mode_is_still_redacted(store: AuditStore) -> None:
    event = tool_call_event(
        "full", "http", {"url": "https://x/?k=AKIAPLANTED0SECRET01"}, "ok", 3.0, personality="eng", call_id="c1"
    )
    assert event.category == "audit.tool_call" and event.code == "tool_call.ok"
    store.write(event)
    store.flush()
    data = json.loads(_rows(store.path, "SELECT data FROM events")[0][0])
    assert data["args"]["url"] == "https://x/?k=[REDACTED:secret]"
    assert data["call_id"] == "c1"


def test_redaction_summary_has_labels_and_counts_only() -> None:
    spans = [RedactionSpan(0, 5, "openai"), RedactionSpan(9, 20, "openai"), RedactionSpan(30, 40, "secret:db")]
    event = redaction_summary_event(spans, where="tool_result", tool="shell", personality="eng")
    assert event is not None and event.category == "audit.redacted"
    assert dict(event.data) == {
        "where": "tool_result",
        "counts": {"openai": 2, "secret:db": 1},
        "total": 3,
        "tool": "shell",
    }
    assert redaction_summary_event([], where="log") is None


def test_startup_event_shape() -> None:
    event = startup_event(version="0.1.0", personalities=["b", "a"], plugins=["p"], bots=["telegram:x"])
    assert event.category == "system.startup"
    assert event.data["personalities"] == ("a", "b")
    assert event.data["version"] == "0.1.0"


def test_audit_sinks_hook_through_the_plugin_manager(tmp_path: Path) -> None:
    from ethos_core.config.model import GlobalConfig, ObservabilityConfig
    from ethos_core.manager import build_plugin_manager
    from ethos_core.pipeline import Pipeline
    from ethos_core.runtime import HomePaths, Runtime

    class ExtraSink:
        name = "extra"

        def send(self, event: Any) -> None:
            pass

    class SinkPlugin:
        from ethos_core.markers import hookimpl

        @hookimpl
        def ethos_audit_sinks(self) -> list[object]:
            return [ExtraSink()]

    cfg = GlobalConfig(observability=ObservabilityConfig(sinks=(SinkConfig(type="jsonl", path=str(tmp_path / "a.jsonl")),)))
    runtime = Runtime(home=HomePaths(tmp_path), config=cfg)
    pipeline = Pipeline(build_plugin_manager(runtime, [SinkPlugin()], autoload=False))
    sinks = [sink for _, sink in pipeline.collect("ethos_audit_sinks")]
    assert sorted(type(s).__name__ for s in sinks) == ["ExtraSink", "JsonlSink"]


def test_for_runtime_uses_home_retention_and_configured_sinks(tmp_path: Path) -> None:
    from ethos_core.config.model import GlobalConfig, ObservabilityConfig
    from ethos_core.runtime import HomePaths, Runtime

    out = tmp_path / "ship.jsonl"
    cfg = GlobalConfig(
        observability=ObservabilityConfig(retention={"audit.*": "90d"}, sinks=(SinkConfig(type="jsonl", path=str(out)),))
    )
    store = AuditStore.for_runtime(Runtime(home=HomePaths(tmp_path), config=cfg), redact=str)
    try:
        assert store.path == tmp_path / "observability.db"
        assert store.retention == {"audit.*": "90d"}
        store.write(AuditEvent("system.startup"))
        store.flush()
        assert store.health()["error"] is None
    finally:
        store.close()
    assert json.loads(out.read_text())["category"] == "system.startup"


def test_search_indexes_every_short_string_and_the_head_of_long_ones(store: AuditStore) -> None:
    from ethos_core.audit import query as q
    from ethos_core.audit.schema import SEARCH_CHARS_PER_STRING

    body = "intro " + "filler " * 500 + "deepword"
    store.write(AuditEvent("audit.tool_call", rule="ssrf.metadata", data={"result": body, "host": "late-host.example"}))
    store.write(AuditEvent("audit.block", data={"password": "maskedvalue", "reason": "blocked the exact phrase here"}))
    store.flush()
    conn = q.open_readonly(store.path)
    try:
        # A short string after a long body is found (v2/v3 indexed only the JSON's first 1,024 chars).
        assert [e["data"]["host"] for e in q.search(conn, "late-host.example")] == ["late-host.example"]
        assert len(q.search(conn, "intro")) == 1 and len(q.search(conn, "ssrf.metadata")) == 1
        assert q.search(conn, "deepword") == []  # past SEARCH_CHARS_PER_STRING of its string
        assert len(body) > SEARCH_CHARS_PER_STRING
        assert len(q.search(conn, "password")) == 1  # keys are searchable …
        assert q.search(conn, "maskedvalue") == []  # … values under secret keys are not stored
        assert len(q.search(conn, '"the exact phrase"', raw=True)) == 1  # phrases still work (detail=full)
        assert q.search(conn, '"exact the phrase"', raw=True) == []
    finally:
        conn.close()
    rw = sqlite3.connect(store.path)
    try:
        rw.execute("INSERT INTO events_fts(events_fts) VALUES ('integrity-check')")
    finally:
        rw.close()


def test_remembered_chain_head_is_re_read_after_another_process_wrote(
    tmp_path: Path, make_store: Callable[..., AuditStore]
) -> None:
    a = make_store(tmp_path / "shared.db")
    b = make_store(tmp_path / "shared.db")
    for round_ in range(3):
        for store in (a, b):  # each commit follows one by the other store: its head is stale
            store.write(AuditEvent("audit.tool_call", turn=round_))
            store.flush()
    assert a.health()["ok"] and b.health()["ok"]
    assert _rows(tmp_path / "shared.db", "SELECT COUNT(*), MAX(id) FROM events")[0] == (6, 6)
    assert a.verify().ok
