"""The core CLI: init, config validate, personality show, health, check (single and batch)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ethos_core.cli.main import cli
from tests.conftest import make_home


def run(home: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "ethos" in result.output


def test_init_creates_0700_home_and_never_overwrites(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, out, _ = run(home, "init")
    assert code == 0
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    cfg = home / "config.yaml"
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    cfg.write_text("channel_filter: {}\n# mine\n", encoding="utf-8")
    code, out, _ = run(home, "init", "--json")
    assert code == 0
    report = json.loads(out)
    assert str(cfg) in report["kept"] and report["created"] == []
    assert "# mine" in cfg.read_text(encoding="utf-8")


def test_validate_clean_and_strict(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h")
    assert run(home, "config", "validate", "--strict")[0] == 0
    (home / "personalities/default/config.yaml").write_text(
        "safety:\n  networkReach:\n    - host: '*'\n      ports: [443]\n", encoding="utf-8")
    assert run(home, "config", "validate")[0] == 0
    code, out, _ = run(home, "config", "validate", "--strict", "--json")
    assert code == 1 and "bare '*'" in json.loads(out)["warnings"][0]


def test_validate_reports_line_and_key(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h", config="channel_filter: {}\nobservability:\n  retention:\n    audit.*: 90d\n  rentention: {}\n")
    code, _, err = run(home, "config", "validate")
    assert code == 1
    assert f"{home}/config.yaml:5:3: observability.rentention: unknown key" in err


def test_validate_strict_dangling_bot_and_short_retention(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h", config=(
        "bots:\n  - platform: telegram\n    token: ${secrets:tg}\n    personality: ghost\n"
        "observability:\n  retention:\n    \"audit.*\": \"30d\"\n"))
    code, out, _ = run(home, "config", "validate", "--strict", "--json")
    report = json.loads(out)
    assert code == 1
    assert any("ghost" in w for w in report["warnings"])
    assert any("audit.*" in w and "90 days" in w for w in report["warnings"])


def test_personality_show_without_toolset_says_no_tool(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h")
    (home / "personalities/default/toolset.yaml").unlink()
    code, out, _ = run(home, "personality", "show", "default")
    assert code == 0
    assert "no tool is reachable" in out
    for section in ("Toolset:", "Filesystem reach:", "Network reach:", "Approval mode:", "Injection defense:",
                    "Observability:", "Watcher:"):
        assert section in out
    code, out, _ = run(home, "personality", "show", "default", "--json")
    body = json.loads(out)
    assert body["toolset"] == [] and body["safety"]["approvalMode"] == "manual"
    assert run(home, "personality", "show", "nobody")[0] == 2


def test_health_ok_and_unhealthy(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h")
    code, out, _ = run(home, "health", "--json")
    assert code == 0, out
    assert json.loads(out)["ok"] is True
    missing = tmp_path / "nohome"
    code, out, _ = run(missing, "health")
    assert code == 1 and "does not exist" in out
    os.chmod(home, 0o755)
    code, out, _ = run(home, "health")
    assert code == 1 and "group/others" in out
    os.chmod(home, 0o700)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_health_unwritable_home(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h")
    os.chmod(home, 0o500)
    try:
        code, out, _ = run(home, "health")
    finally:
        os.chmod(home, 0o700)
    assert code == 1 and "not writable" in out


def test_check_exit_codes_and_json(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h")
    code, out, _ = run(home, "check", "url", "http://169.254.169.254/latest/meta-data/", "--json")
    assert code == 1
    body = json.loads(out)
    assert body["verdict"] == "deny" and body["stage"] == "network_reach" and body["rule"] and body["reason"]
    code, out, _ = run(home, "check", "path", "/etc/shadow", "--op", "read", "--json")
    assert code == 1 and json.loads(out)["stage"] == "fs_boundary"
    code, out, _ = run(home, "check", "command", "ls -la", "--json")
    assert code in (0, 3)
    assert json.loads(out)["verdict"] in ("allow", "approve")
    code, out, _ = run(home, "check", "text", "--json", input="hello there, see you at lunch")
    assert code == 0 and json.loads(out) == {"flagged": False, "signals": []}
    code, out, _ = run(home, "redact", "--json", input="plain text")
    assert code == 0 and json.loads(out) == {"text": "plain text"}
    assert run(home, "check", "path", "/tmp/x")[0] == 2  # missing --op is a usage error
    assert run(home, "check", "url", "http://x", "--resolve", "nonsense")[0] == 2


def test_check_batch_keeps_order_and_survives_bad_lines(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h")
    lines = [
        {"kind": "url", "url": "http://127.0.0.1/"},
        "not json",
        {"kind": "path", "path": "/etc/shadow", "op": "read"},
        {"kind": "nope"},
        {"kind": "command", "command": "rm -rf /"},
        {"kind": "text", "text": "hello", "source": "email"},
        {"kind": "redact", "text": "abc"},
        {"kind": "url", "url": "https://api.github.com/", "resolve": {"api.github.com": ["140.82.112.5"]}},
        {"kind": "path", "path": "/work/a.txt", "op": "write", "write": ["/work"]},
        {"kind": "url", "url": 5},
    ]
    payload = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    batch = tmp_path / "cases.jsonl"
    batch.write_text(payload, encoding="utf-8")
    code, out, _ = run(home, "check", "--batch", str(batch))
    assert code == 0
    answers = [json.loads(x) for x in out.splitlines()]
    assert len(answers) == len(lines)
    assert answers[0]["verdict"] == "deny"
    assert "error" in answers[1] and "error" in answers[3] and "error" in answers[9]
    assert answers[2]["verdict"] == "deny"
    assert answers[4]["verdict"] in ("deny", "approve")
    assert set(answers[5]) == {"flagged", "signals"}
    assert answers[6] == {"text": "abc"}
    code, out2, _ = run(home, "check", "--batch", "-", input=payload)
    assert out2 == out


def test_console_script_runs_in_a_subprocess(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h")
    proc = subprocess.run([sys.executable, "-c", "from ethos_core.cli.main import main; main()", "--home", str(home),
                           "check", "url", "http://[::ffff:169.254.169.254]/", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and json.loads(proc.stdout)["verdict"] == "deny"


def test_health_fails_when_a_policy_plugin_fails_to_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A policy pack that cannot load means missing narrowing: health must say so and exit 1."""
    import base64
    import hashlib

    site = tmp_path / "site"
    site.mkdir()
    (site / "broken_pack_mod.py").write_text("raise ImportError('policy pack is broken')\n", encoding="utf-8")
    info = site / "broken_pack-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken_pack\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[ethos.plugins]\nbroken = broken_pack_mod:Plugin\n", encoding="utf-8")
    lines = []
    for path in (site / "broken_pack_mod.py", info / "METADATA", info / "entry_points.txt"):
        digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
        lines.append(f"{path.relative_to(site)},sha256={digest},{path.stat().st_size}")
    (info / "RECORD").write_text("\n".join(lines + [f"{info.name}/RECORD,,"]) + "\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("ETHOS_DISABLE_PLUGIN_AUTOLOAD")
    home = make_home(tmp_path / "h")
    code, out, _ = run(home, "health", "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert any("broken" in p for p in report["problems"]), report["problems"]
