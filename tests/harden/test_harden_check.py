"""``ethos harden check`` on a deliberately weak home: each weakness fails its own check id;
plus the report format, exit codes, ``--fix`` and the engine-backed checks."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from ethos_core.harden import CHECKS, run_checks
from ethos_core.harden.canary import CANARY_CODE
from ethos_core.harden.checks import MAX_SECRET_AGE_DAYS
from ethos_core.markers import hookimpl
from ethos_core.types import ToolSpec
from tests.harden.helpers import HOST, check, harden_json, init_home, invoke, statuses

FAKE_KEY = "sk-ant-api03-" + "Zx9" * 20  # a literal credential in config (fake)

WEAK_CONFIG = f"""\
channel_filter:
  slack:
    allowedSenders: ["U01ABC123"]
    contextVisibility: all
observability:
  retention:
    "audit.*": "30d"
    "channel.*": "90d"
providers:
  claude:
    type: anthropic
    apiKey: {FAKE_KEY}
bots:
  - platform: telegram
    personality: ghost
    token: ${{secrets:telegram-bot-token}}
  - platform: slack
    personality: default
"""

WEAK_PERSONALITY = """\
name: default
fs_reach:
  read:
    - ~/.ssh
  write:
    - ~/projects/app
safety:
  injectionDefense: "off"
  observability: full
  networkReach:
    - host: "*"
      ports: [443]
"""


@pytest.fixture
def weak_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    home = init_home(tmp_path / "weak")
    (home / "config.yaml").write_text(WEAK_CONFIG, encoding="utf-8")
    (home / "personalities" / "default" / "config.yaml").write_text(WEAK_PERSONALITY, encoding="utf-8")
    webby = home / "personalities" / "webby"
    webby.mkdir(mode=0o700)
    (webby / "config.yaml").write_text("name: webby\n", encoding="utf-8")
    (webby / "toolset.yaml").write_text("- web_fetch\n", encoding="utf-8")
    (home / "state.db").write_bytes(b"")
    os.chmod(home / "state.db", 0o644)
    os.chmod(home, 0o755)
    return home


WEAK_FAILURES = {
    "harden.secrets_plaintext": "config.yaml:12",
    "harden.secrets_resolve": "telegram-bot-token",
    "harden.fs_reach_declared": "personalities/webby",
    "harden.fs_reach_floor": "floor.ssh",
    "harden.network_declared": "web_fetch",
    "harden.network_wildcard": "personalities/default/config.yaml:11",
    "harden.channel_filter": "telegram",
    "harden.channel_visibility": "config.yaml:4",
    "harden.bot_bindings": "'ghost'",
    "harden.audit_retention": "'audit.*'",
    "harden.observability_full": "personalities/default/config.yaml:9",
    "harden.injection_defense": "personalities/default/config.yaml:8",
    "harden.home_mode": "0755",
    "harden.file_modes": "state.db",
    "harden.engine_start": "config.yaml:12",
}


def test_weak_home_fails_each_check_with_its_id(weak_home: Path) -> None:
    code, report = harden_json(weak_home)
    assert code == 1 and report["ok"] is False
    got = statuses(report)
    for check_id, evidence in WEAK_FAILURES.items():
        c = check(report, check_id)
        assert c["status"] == "fail", (check_id, c)
        assert any(evidence in f for f in c["findings"]) or evidence in c["message"], (check_id, c)
        assert c["fix"], check_id
    # The configuration loads apart from the literal key, so the engine is tried and refuses it.
    assert got["harden.config_valid"] == "pass"
    assert got["harden.audit_writing"] == got["harden.audit_redacting"] == got["harden.tool_tags"] == "skip"
    assert all(got[i] == "skip" for i in got if i.startswith("harden.container_"))


def test_weak_home_text_output_never_echoes_the_literal_key(weak_home: Path) -> None:
    code, out = invoke(weak_home)
    assert code == 1
    assert "FAIL" in out and "harden.secrets_plaintext" in out and "NOT hardened" in out
    assert FAKE_KEY not in out and "Zx9Zx9" not in out
    code, out = invoke(weak_home, "--json")
    assert FAKE_KEY not in out and "Zx9Zx9" not in out


def test_report_lists_every_check_once_in_order(home: Path) -> None:
    _, report = harden_json(home)
    assert [c["id"] for c in report["checks"]] == [c.id for c in CHECKS]
    for c in report["checks"]:
        assert set(c) >= {"id", "severity", "status", "message", "fix"}
        assert c["status"] in ("pass", "fail", "skip") and c["severity"] in ("critical", "high", "medium", "low")
    assert len({c.id for c in CHECKS}) == len(CHECKS)


def test_invalid_config_is_reported_with_file_and_line_not_a_crash(home: Path) -> None:
    (home / "config.yaml").write_text("observability:\n  retention: {}\nbogus_key: 1\n", encoding="utf-8")
    code, report = harden_json(home)
    assert code == 1
    c = check(report, "harden.config_valid")
    assert c["status"] == "fail" and any(f.startswith("config.yaml:3") and "bogus_key" in f for f in c["findings"])
    got = statuses(report)
    assert got["harden.engine_start"] == "skip" and got["harden.audit_writing"] == "skip"
    # The other files are still judged.
    assert got["harden.fs_reach_declared"] == "fail"


def test_unparseable_yaml_is_reported(home: Path) -> None:
    (home / "personalities" / "default" / "config.yaml").write_text("safety: [unclosed\n", encoding="utf-8")
    code, report = harden_json(home)
    assert code == 1
    c = check(report, "harden.config_valid")
    assert c["status"] == "fail" and any("personalities/default/config.yaml" in f for f in c["findings"])


def test_missing_home_is_a_usage_error(tmp_path: Path) -> None:
    code, out = invoke(tmp_path / "nowhere")
    assert code == 2


def test_fix_removes_group_and_other_bits_only(weak_home: Path) -> None:
    cfg = weak_home / "config.yaml"
    os.chmod(cfg, 0o664)
    outside = weak_home.parent / "outside.db"
    outside.write_bytes(b"")
    os.chmod(outside, 0o644)
    (weak_home / "observability.db-wal").symlink_to(outside)
    code, report = harden_json(weak_home, "--fix")
    assert code == 1  # the other weaknesses remain
    assert stat.S_IMODE(weak_home.stat().st_mode) == 0o700
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert stat.S_IMODE((weak_home / "state.db").stat().st_mode) == 0o600
    assert check(report, "harden.home_mode")["status"] == "pass" and check(report, "harden.home_mode")["fixed"]
    modes = check(report, "harden.file_modes")
    assert any("state.db: 0644 -> 0600" in f for f in modes["fixed"])
    # A symlink is reported, never followed: the file it points at keeps its mode.
    assert modes["status"] == "fail" and any("observability.db-wal: is a symlink" in f for f in modes["findings"])
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644


def test_fix_never_adds_permission_bits(home: Path) -> None:
    cfg = home / "config.yaml"
    os.chmod(cfg, 0o400)
    harden_json(home, "--fix")
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o400


def test_fresh_init_home_then_fix_passes_modes(home: Path) -> None:
    harden_json(home, "--fix")
    _, report = harden_json(home)
    assert check(report, "harden.home_mode")["status"] == "pass"
    assert check(report, "harden.file_modes")["status"] == "pass"


# --- engine-backed checks -------------------------------------------------------------------


def test_canary_is_written_and_redacted(home: Path) -> None:
    _, report = harden_json(home)
    assert check(report, "harden.audit_writing")["status"] == "pass"
    assert check(report, "harden.audit_redacting")["status"] == "pass"
    conn = sqlite3.connect(home / "observability.db")
    try:
        rows = conn.execute("SELECT data FROM events WHERE code = ?", (CANARY_CODE,)).fetchall()
        report_rows = conn.execute("SELECT data FROM events WHERE code = 'harden.report'").fetchall()
    finally:
        conn.close()
    assert len(rows) == 1 and "[REDACTED:anthropic]" in rows[0][0] and "sk-ant-api03" not in rows[0][0]
    assert len(report_rows) == 1 and "harden.fs_reach_declared" in report_rows[0][0]


class _LeakyStore:
    """An audit store that writes events unredacted: the canary must be caught on disk."""

    def __init__(self, path: Path, redact: bool = False, drop: bool = False) -> None:
        self.path = path
        self.redact = redact
        self.drop = drop
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, code TEXT, data TEXT)")

    def write(self, code: str, data: dict[str, Any]) -> None:
        import json

        if self.drop:
            return
        self.conn.execute("INSERT INTO events (code, data) VALUES (?, ?)", (code, json.dumps(data)))
        self.conn.commit()

    def flush(self) -> None:
        pass


class _FakeRuntime:
    def __init__(self, store: _LeakyStore, root: Path) -> None:
        from ethos_core.runtime import HomePaths

        self.services: dict[str, Any] = {"audit": store, "secret_resolvers": []}
        self.home = HomePaths(root)


class _FakeEngine:
    def __init__(self, root: Path, **kw: Any) -> None:
        self.store = _LeakyStore(root / "observability.db", **kw)
        self.runtime = _FakeRuntime(self.store, root)
        self.tools: list[Any] = []

    def emit(self, event: Any) -> None:
        self.store.write(event.code, dict(event.data))

    def close(self) -> None:
        self.store.conn.close()


def test_unredacted_store_fails_audit_redacting(home: Path) -> None:
    report = run_checks(home, system=HOST, engine_factory=lambda root: _FakeEngine(root))
    assert report.by_id("harden.audit_writing").status == "pass"
    red = report.by_id("harden.audit_redacting")
    assert red.status == "fail" and "events row" in red.findings and "observability.db-wal" in red.findings
    assert "sk-ant" not in red.message and not any("sk-ant" in f for f in red.findings)


def test_store_that_drops_events_fails_writing_and_redacting(home: Path) -> None:
    report = run_checks(home, system=HOST, engine_factory=lambda root: _FakeEngine(root, drop=True))
    assert report.by_id("harden.audit_writing").status == "fail"
    assert report.by_id("harden.audit_redacting").status == "fail"


def test_engine_that_does_not_start_fails_engine_start(home: Path) -> None:
    def boom(root: Path) -> Any:
        raise RuntimeError("resolver exploded")

    report = run_checks(home, system=HOST, engine_factory=boom)
    start = report.by_id("harden.engine_start")
    assert start.status == "fail" and "resolver exploded" in start.findings[0]
    assert report.by_id("harden.audit_writing").status == "skip"
    assert not report.ok


class _CustomTools:
    @hookimpl
    def ethos_register_tools(self, registry: Any) -> None:
        registry.add(ToolSpec(name="weather", description="fetch the weather", capabilities={"network"}), _handler)
        registry.add(ToolSpec(name="news", description="headlines", capabilities={"network", "untrusted_output"},
                              source="news-plugin"), _handler)
        registry.add(ToolSpec(name="clock", description="the time", capabilities=set(), source="clock-plugin"), _handler)


def _handler(call: Any, session: Any) -> str:
    return "sunny"


def test_custom_network_tool_without_untrusted_output_fails(home: Path) -> None:
    from ethos_core.engine import Engine

    report = run_checks(home, system=HOST, engine_factory=lambda root: Engine.from_home(root, plugins=[_CustomTools()]))
    tags = report.by_id("harden.tool_tags")
    assert tags.status == "fail"
    assert any("'weather'" in f for f in tags.findings)
    assert not any("'news'" in f or "'clock'" in f or "'web_fetch'" in f for f in tags.findings)


def test_builtin_tools_pass_tool_tags(home: Path) -> None:
    report = run_checks(home, system=HOST)
    assert report.by_id("harden.tool_tags").status == "pass"


# --- secrets --------------------------------------------------------------------------------


def _write_vault_home(home: Path, monkeypatch: pytest.MonkeyPatch, set_at: float) -> None:
    from ethos_core.secrets.vault import Vault

    monkeypatch.setenv("ETHOS_VAULT_PASSPHRASE", "correct horse battery staple")
    vault = Vault(home / "secrets", passphrase="correct horse battery staple", key_source="passphrase", scrypt_n=2**10)
    vault.set("telegram-bot-token", "123456:not-a-real-token-value", now=set_at)
    (home / "config.yaml").write_text(
        "secrets:\n  vault:\n    keySource: passphrase\n"
        "channel_filter:\n  telegram:\n    owner: \"1\"\n"
        "bots:\n  - platform: telegram\n    personality: default\n    token: ${secrets:telegram-bot-token}\n",
        encoding="utf-8")


def test_secret_older_than_90_days_fails_secrets_age(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    now = time.time()
    _write_vault_home(home, monkeypatch, set_at=now - (MAX_SECRET_AGE_DAYS + 5) * 86400)
    report = run_checks(home, system=HOST, now=now)
    assert report.by_id("harden.secrets_resolve").status == "pass"
    age = report.by_id("harden.secrets_age")
    assert age.status == "fail" and "telegram-bot-token" in age.findings[0]


def test_recent_secret_passes_secrets_age(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    now = time.time()
    _write_vault_home(home, monkeypatch, set_at=now - 3 * 86400)
    report = run_checks(home, system=HOST, now=now)
    assert report.by_id("harden.secrets_age").status == "pass"


def test_file_provider_age_comes_from_the_file(home: Path, tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text('{"tg": "123456:abc"}', encoding="utf-8")
    os.chmod(secrets_file, 0o600)
    old = secrets_file.stat().st_mtime - 200 * 86400
    os.utime(secrets_file, (old, old))
    (home / "config.yaml").write_text(f"secrets:\n  file:\n    path: {secrets_file}\nproviders:\n  p:\n    type: openai\n"
                                      "    apiKey: ${secrets:tg}\n", encoding="utf-8")
    report = run_checks(home, system=HOST)
    assert report.by_id("harden.secrets_resolve").status == "pass"
    assert report.by_id("harden.secrets_age").status == "fail"


def test_env_secret_has_no_age_and_is_skipped(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_API_KEY", "value-from-the-orchestrator")
    (home / "config.yaml").write_text("providers:\n  p:\n    type: openai\n    apiKey: ${secrets:my-api-key}\n",
                                      encoding="utf-8")
    report = run_checks(home, system=HOST)
    assert report.by_id("harden.secrets_resolve").status == "pass"
    assert report.by_id("harden.secrets_age").status == "skip"
