"""docs/hardening.md, followed to the letter on a home made by ``ethos init``, passes every check;
and every check id is documented (and every documented id exists)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ethos_core.harden import CHECKS
from tests.harden.helpers import check, harden_json, invoke

DOCS = Path(__file__).resolve().parents[2] / "docs"
HARDENING = DOCS / "hardening.md"
BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)
TARGET = re.compile(r"^# \$ETHOS_HOME/(\S+)$")


def walkthrough_files() -> dict[str, str]:
    """The complete files of the walk-through: YAML blocks whose first line names their path."""
    files = {}
    for m in BLOCK.finditer(HARDENING.read_text(encoding="utf-8")):
        first = m.group(1).splitlines()[0]
        target = TARGET.match(first)
        if target:
            files[target.group(1)] = m.group(1)
    return files


def test_walkthrough_has_the_three_files() -> None:
    assert set(walkthrough_files()) == {"config.yaml", "personalities/default/config.yaml",
                                        "personalities/default/toolset.yaml"}


def test_init_home_configured_per_docs_passes(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for rel, text in walkthrough_files().items():
        (home / rel).write_text(text, encoding="utf-8")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:docs-walkthrough-value")
    # The commands of the last step, in order.
    code, out = invoke(home, "--fix")
    assert code == 0, out
    code, report = harden_json(home)
    assert code == 0 and report["ok"] is True, [c for c in report["checks"] if c["status"] != "pass"]
    skipped = {c["id"] for c in report["checks"] if c["status"] == "skip"}
    assert skipped == {"harden.container_user", "harden.container_rootfs", "harden.container_tmp",
                       "harden.container_volume", "harden.secrets_age"}  # env secrets record no age
    assert check(report, "harden.audit_redacting")["status"] == "pass"
    assert check(report, "harden.network_declared")["status"] == "pass"


def test_fresh_init_home_is_not_yet_hardened(home: Path) -> None:
    code, report = harden_json(home)
    assert code == 1 and check(report, "harden.fs_reach_declared")["status"] == "fail"


def test_every_check_is_documented_and_every_documented_id_exists() -> None:
    text = HARDENING.read_text(encoding="utf-8")
    event_codes = {"harden.canary", "harden.report"}  # audit event codes, not checks
    documented = set(re.findall(r"`(harden\.[a-z_]+)`", text)) - event_codes
    ids = {c.id for c in CHECKS}
    assert documented == ids
    for c in CHECKS:
        assert re.search(rf"\| `{re.escape(c.id)}` \| {c.severity} \|", text), f"{c.id}: table row with severity"


def test_deploy_doc_has_the_checklist_docker_run_line() -> None:
    text = (DOCS / "deploy.md").read_text(encoding="utf-8")
    for flag in ("--user 1000:1000", "--read-only", "--tmpfs /tmp", "-v /data/ethos:/home/ethos/.ethos",
                 '--health-cmd="ethos health"'):
        assert flag in text
    assert "deploy/systemd/ethos-watchdog.sh" in text and "ethos harden check" in text
