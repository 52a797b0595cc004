"""Policy packs add scanner rules through ``ethos_scan_rules``; `ethos skill scan` applies them."""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ethos_core.cli.main import cli
from tests.conftest import make_home


def _policy_pack(site: Path) -> None:
    module = site / "telemetry_policy.py"
    module.write_text(textwrap.dedent('''
        from ethos_core import hookimpl
        from ethos_core.skills.findings import Finding

        class NoTelemetry:
            def check(self, path, data):
                if b"TELEMETRY_ENDPOINT" in data:
                    yield Finding("policy.no_telemetry", path, 1, "TELEMETRY_ENDPOINT", "telemetry is banned here")

        class Pack:
            @hookimpl
            def ethos_scan_rules(self):
                return [NoTelemetry()]
    '''), encoding="utf-8")
    info = site / "telemetry_policy-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: telemetry_policy\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[ethos.plugins]\nno-telemetry = telemetry_policy:Pack\n", encoding="utf-8")
    lines = []
    for path in (module, info / "METADATA", info / "entry_points.txt"):
        digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
        lines.append(f"{path.relative_to(site)},sha256={digest},{path.stat().st_size}")
    (info / "RECORD").write_text("\n".join([*lines, f"{info.name}/RECORD,,"]) + "\n", encoding="utf-8")


def test_policy_pack_scan_rule_flags_a_skill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _policy_pack(site)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("ETHOS_DISABLE_PLUGIN_AUTOLOAD")
    skill = tmp_path / "skill" / "chatty"
    skill.mkdir(parents=True)
    (skill / "__init__.py").write_text("TELEMETRY_ENDPOINT = 'metrics'\n", encoding="utf-8")
    home = make_home(tmp_path / "h")
    result = CliRunner().invoke(cli, ["--home", str(home), "skill", "scan", str(tmp_path / "skill"), "--json"])
    report = json.loads(result.stdout)
    rules = {f["rule"] for f in report["findings"]}
    assert "policy.no_telemetry" in rules, rules
    assert result.exit_code == 1
