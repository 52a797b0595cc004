"""``ethos skill scan|install|list|revoke``, the trust matrix, the lockfile and their audit events."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ethos_core.cli.main import cli
from ethos_core.skills.findings import Finding, ScanReport
from ethos_core.skills.lock import LockError, LockRecord, SkillsLock
from ethos_core.skills.scanner import scan
from ethos_core.skills.trust import COMMUNITY, TRUSTED, UNTRUSTED, classify_tier, decide
from tests.conftest import make_home
from tests.skills.helpers import GOOD_CODE, build_wheel

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "plugins" / "ethos-example-skill"
RED_CODE = GOOD_CODE + "\nimport pickle\nSTATE = pickle.loads(b\"\")\n"


def _events(home: Path, code: str | None = None) -> list[dict[str, Any]]:
    with sqlite3.connect(home / "observability.db") as conn:
        rows = conn.execute("SELECT code, rule, severity, data FROM events WHERE category = 'install.scan' ORDER BY id").fetchall()
    out = [{"code": c, "rule": r, "severity": s, "data": json.loads(d)} for c, r, s, d in rows]
    return [e for e in out if code is None or e["code"] == code]


def _run(home: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--home", str(home), "skill", *args], catch_exceptions=False)


def test_scan_clean_directory_table_json_sarif_and_audit(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    table = _run(home, "scan", str(EXAMPLE))
    assert table.exit_code == 0 and "CLEAN" in table.output
    as_json = _run(home, "scan", str(EXAMPLE), "--json")
    data = json.loads(as_json.output)
    assert data["verdict"] == "clean" and data["manifest"]["tools"][0]["name"] == "text_stats"
    sarif = json.loads(_run(home, "scan", str(EXAMPLE), "--sarif").output)
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []
    assert len(_events(home, "skill.scan")) == 3


def test_scan_red_wheel_exit_status_sarif_locations(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    wheel = build_wheel(tmp_path, files={"demo_skill/__init__.py": RED_CODE})
    out = _run(home, "scan", str(wheel), "--sarif")
    assert out.exit_code == 1
    result = json.loads(out.output)["runs"][0]["results"][0]
    assert result["ruleId"] == "code.deserialize" and result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == RED_CODE.splitlines().index("STATE = pickle.loads(b\"\")") + 1
    event = _events(home, "skill.scan")[-1]
    assert event["rule"] == "code.deserialize" and event["data"]["verdict"] == "red"


def test_scan_without_home_says_it_was_not_audited(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "none"), "skill", "scan", str(EXAMPLE), "--json"])
    assert result.exit_code == 0 and "not audited" in result.output


def test_install_refused_then_override_is_audited_and_locked(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    wheel = build_wheel(tmp_path, files={"demo_skill/__init__.py": RED_CODE})
    target = tmp_path / "site"
    refused = _run(home, "install", str(wheel), "--target", str(target), "--json")
    assert refused.exit_code == 1
    body = json.loads(refused.output)
    assert body["installed"] is False and body["blocking"] == ["code.deserialize"]
    assert not target.exists() and not (home / "skills.lock").exists()
    assert _events(home, "skill.install_refused")
    # ALL is not enough for an untrusted artifact: each red rule must be named
    assert _run(home, "install", str(wheel), "--target", str(target), "--accept", "ALL").exit_code == 1
    ok = _run(home, "install", str(wheel), "--target", str(target), "--accept", "code.deserialize", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["accepted"] == ["code.deserialize"]
    override = _events(home, "skill.override")[-1]
    assert override["data"]["accepted"] == ["code.deserialize"] and override["data"]["by"] and override["data"]["at"]
    lock = home / "skills.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    record = json.loads(lock.read_text())["skills"]["demo-skill"]
    assert record["tier"] == "untrusted" and record["accepted"][0]["rule"] == "code.deserialize"
    assert "demo_skill/__init__.py" in record["files"] and record["scan"]["verdict"] == "red"
    listing = json.loads(_run(home, "list", "--json").output)["skills"]
    assert listing[0]["status"] == "ok"
    (target / "demo_skill" / "__init__.py").write_text("x = 1\n")
    assert json.loads(_run(home, "list", "--json").output)["skills"][0]["status"].startswith("lock.file_changed")
    revoked = _run(home, "revoke", "demo-skill")
    assert revoked.exit_code == 0 and json.loads(lock.read_text())["skills"] == {}
    assert _events(home, "skill.revoked")
    assert _run(home, "revoke", "demo-skill").exit_code == 1


def test_install_refuses_sdists_and_directories(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    assert "needs a wheel" in _run(home, "install", str(EXAMPLE)).output
    sdist = tmp_path / "x-1.0.tar.gz"
    sdist.write_bytes(b"")
    assert "needs a wheel" in _run(home, "install", str(sdist)).output


def test_install_from_a_local_index_is_community(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    links = tmp_path / "links"
    links.mkdir()
    build_wheel(links)
    result = _run(home, "install", "demo-skill", "--find-links", str(links), "--target", str(tmp_path / "site"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tier"] == COMMUNITY


# --- trust matrix ------------------------------------------------------------------------------


def _report(*rules: str) -> ScanReport:
    return ScanReport("t", "wheel", "demo", "1", tuple(Finding(r, "p", 1, "") for r in rules))


def test_tiers() -> None:
    assert classify_tier("x", from_index=False, index_url=None, trusted_indexes=["https://i"]) == UNTRUSTED
    assert classify_tier("x", from_index=True, index_url="https://i/", trusted_indexes=["https://i"]) == TRUSTED
    assert classify_tier("acme-tool", from_index=True, index_url=None, trusted_publishers=["acme-*"]) == TRUSTED
    assert classify_tier("other", from_index=True, index_url=None, trusted_publishers=["acme-*"]) == COMMUNITY


@pytest.mark.parametrize(("tier", "rules", "accept", "allowed"), [
    (TRUSTED, ("code.deserialize",), ("ALL",), True),
    (COMMUNITY, ("code.deserialize",), ("ALL",), False),
    (COMMUNITY, ("code.deserialize",), ("code.deserialize",), True),
    (COMMUNITY, ("code.deserialize", "code.socket"), ("code.deserialize",), False),
    (COMMUNITY, ("install.pth_path",), (), True),
    (UNTRUSTED, ("install.pth_path",), (), False),
    (UNTRUSTED, ("install.pth_path",), ("install.pth_path",), True),
    (TRUSTED, ("archive.symlink",), ("archive.symlink", "ALL"), False),
    (TRUSTED, (), (), True),
    ("builtin", (), (), False),
])
def test_install_policy_matrix(tier: str, rules: tuple[str, ...], accept: tuple[str, ...], allowed: bool) -> None:
    assert decide(_report(*rules), tier, accept).allowed is allowed


def test_lock_is_atomic_0600_and_corruption_fails_closed(tmp_path: Path) -> None:
    lock = SkillsLock(tmp_path / "skills.lock")
    lock.put(LockRecord(distribution="A_b", version="1", tier="untrusted", files={"a.py": "0" * 64}))
    assert stat.S_IMODE(lock.path.stat().st_mode) == 0o600
    assert lock.get("a-b") is not None and not list(tmp_path.glob(".skills.lock.*"))
    lock.path.write_text("{not json")
    with pytest.raises(LockError):
        lock.load()


def test_example_wheel_scan_is_clean_and_fast_enough_to_matter(tmp_path: Path) -> None:
    report = scan(EXAMPLE, installed=set())
    assert report.verdict == "clean" and report.manifest is not None
