"""``ethos audit``: tail, query, search, stats, export, verify, prune (all with --json where they report)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ethos_core.audit import AuditStore
from ethos_core.cli.audit import audit_group
from ethos_core.types import AuditEvent

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    root.mkdir()
    store = AuditStore(root / "observability.db", redact=str)
    store.register_policy("eng", {"networkReach": [{"host": "api.github.com"}]})
    plan = [
        ("system.startup", None, None, 200),
        ("audit.block", "eng", "ssrf.metadata", 100),
        ("channel.deny", None, "channel.not_allowlisted", 50),
        ("audit.tool_call", "eng", None, 1),
        ("audit.block", "ops", "hardline.rm_root", 0),
    ]
    for category, personality, rule, days in plan:
        store.write(
            AuditEvent(
                category,
                personality=personality,
                rule=rule,
                data={"host": f"host-{rule or category}", "days": days},
                ts=(NOW - dt.timedelta(days=days)).timestamp(),
            )
        )
    store.close()
    return root


def run(home: Path, *args: str) -> tuple[int, str]:
    from ethos_core.cli.main import cli

    result = CliRunner().invoke(cli, ["--home", str(home), "audit", *args])
    return result.exit_code, result.output


def test_group_is_registered_in_main() -> None:
    from ethos_core.cli.main import cli

    assert cli.commands["audit"] is audit_group


def test_query_filters(home: Path) -> None:
    code, out = run(home, "query", "--category", "audit.*", "--json")
    assert code == 0
    assert [e["category"] for e in json.loads(out)] == ["audit.block", "audit.tool_call", "audit.block"]
    _, out = run(home, "query", "--personality", "eng", "--since", "7d", "--json")
    assert [e["category"] for e in json.loads(out)] == ["audit.tool_call"]
    _, out = run(home, "query", "--until", "60d", "--json")
    assert [e["category"] for e in json.loads(out)] == ["system.startup", "audit.block"]
    since = (NOW - dt.timedelta(days=60)).date().isoformat()
    _, out = run(home, "query", "--since", since, "--category", "channel.*", "--json")
    assert len(json.loads(out)) == 1
    code, out = run(home, "query")
    assert code == 0 and "#2 " in out and "rule=ssrf.metadata" in out


def test_query_bad_time_is_usage_error(home: Path) -> None:
    code, out = run(home, "query", "--since", "yesterday-ish")
    assert code == 2 and "duration" in out


def test_search_uses_fts_and_quotes_user_text(home: Path) -> None:
    code, out = run(home, "search", "ssrf.metadata", "--json")
    assert code == 0
    assert [e["rule"] for e in json.loads(out)] == ["ssrf.metadata"]
    code, out = run(home, "search", 'host-hardline "OR ( *', "--json")  # FTS syntax is not interpreted
    assert code == 0 and json.loads(out) == []
    code, out = run(home, "search", "--raw", "host NOT ssrf", "--json")
    assert code == 0 and len(json.loads(out)) == 4
    code, _ = run(home, "search", "--raw", '"unbalanced')
    assert code == 2


def test_stats(home: Path) -> None:
    code, out = run(home, "stats", "--json")
    info = json.loads(out)
    assert code == 0 and info["events"] == 5 and info["by_category"]["audit.block"] == 2
    assert info["snapshots"] == 1 and info["head_id"] == 5
    code, out = run(home, "stats")
    assert code == 0 and "5 events" in out


def test_tail(home: Path) -> None:
    code, out = run(home, "tail", "-n", "2")
    assert code == 0 and out.count("\n") == 2 and "hardline.rm_root" in out
    code, out = run(home, "tail", "--category", "channel.*", "--json")
    assert [json.loads(x)["category"] for x in out.splitlines()] == ["channel.deny"]


def test_follow_prints_new_events(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    calls = {"n": 0}

    def fake_sleep(_: float) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            store = AuditStore(home / "observability.db", redact=str)
            store.write(AuditEvent("audit.watcher", rule="watcher.rate"))
            store.close()
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", fake_sleep)
    code, out = run(home, "tail", "-f", "-n", "0")
    assert code == 0 and "audit.watcher" in out and "watcher.rate" in out


def test_export_jsonl_round_trips_hashes(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    code, _ = run(home, "export", "--format", "jsonl", "-o", str(target))
    assert code == 0
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    assert [x["id"] for x in lines] == [1, 2, 3, 4, 5]
    assert all(len(x["row_hash"]) == 64 for x in lines)
    code, out = run(home, "export", "--category", "channel.*")
    assert code == 0 and len(out.splitlines()) == 1


def test_verify_ok_then_tampered(home: Path) -> None:
    code, out = run(home, "verify")
    assert code == 0 and "5 events verified" in out
    conn = sqlite3.connect(home / "observability.db")
    conn.execute("UPDATE events SET rule = 'nothing.to.see' WHERE id = 2")
    conn.commit()
    conn.close()
    code, out = run(home, "verify", "--json")
    assert code == 1
    assert json.loads(out)["bad_id"] == 2
    code, out = run(home, "verify")
    assert code == 1 and "event id 2 was edited" in out


def test_prune_dry_run_then_real_with_config(home: Path) -> None:
    (home / "config.yaml").write_text('observability:\n  retention:\n    "audit.*": "90d"\n    "channel.*": "30d"\n')
    code, out = run(home, "prune", "--dry-run", "--json")
    report = json.loads(out)
    assert code == 0 and report["dry_run"] and report["deleted"] == {"audit.block": 1, "channel.deny": 1}
    _, out = run(home, "stats", "--json")
    assert json.loads(out)["events"] == 5
    code, out = run(home, "prune")
    assert code == 0 and "removed 2 events" in out
    code, _ = run(home, "verify")
    assert code == 0


def test_prune_retention_override_and_bad_value(home: Path) -> None:
    code, out = run(home, "prune", "--retention", "system.*=1w", "--json")
    assert code == 0 and json.loads(out)["deleted"] == {"system.startup": 1}
    code, out = run(home, "prune", "--retention", "audit.*=ninety")
    assert code == 2
    code, out = run(home, "prune", "--retention", "nonsense")
    assert code == 2


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    code, out = run(tmp_path, "stats")
    assert code == 1 and "no audit database" in out
    code, out = run(tmp_path, "prune")
    assert code == 1 and "no audit database" in out


def test_reading_an_older_file_migrates_it_first(tmp_path: Path) -> None:
    from ethos_core.audit.schema import connect, migrate

    conn = connect(tmp_path / "observability.db")
    migrate(conn, target=1)
    conn.execute("INSERT INTO events (ts, category, data) VALUES ('2024-01-01T00:00:00.000000Z', 'audit.block', '{}')")
    conn.close()
    code, out = run(tmp_path, "verify")
    assert code == 0 and "1 events verified" in out
