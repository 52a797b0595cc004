"""``ethos secrets list|set|rm|check`` and ``find_secret_refs``; values never printed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ethos_core.cli.main import cli
from ethos_core.secrets.refs import find_secret_refs
from ethos_core.secrets.vault import Vault

PASS = "correct horse battery staple"
CONFIG = """\
# ${secrets:commented_out}
secrets:
  env:
    prefix: ETHOS_TEST_
bots:
  - platform: telegram
    personality: default
    token: ${secrets:telegram_token}
"""


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    (root / "personalities" / "default").mkdir(parents=True)
    (root / "config.yaml").write_text(CONFIG)
    (root / "personalities" / "default" / "config.yaml").write_text("prompt: use ${secrets:github}\n")
    monkeypatch.setenv("ETHOS_VAULT_PASSPHRASE", PASS)
    monkeypatch.setenv("ETHOS_TEST_TELEGRAM_TOKEN", "123456789:AAsecretsecretsecret")
    return root


def _run(home: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), "secrets", *args], input=stdin)
    return result.exit_code, result.output


def test_find_secret_refs(home: Path) -> None:
    refs = find_secret_refs(home)
    assert [(r, f.name, line) for r, f, line in refs] == [("telegram_token", "config.yaml", 8), ("github", "config.yaml", 1)]


def test_set_list_check_rm(home: Path) -> None:
    code, out = _run(home, "set", "github", stdin="ghp_vaultvalue1234567\n")
    assert code == 0, out
    vault = Vault(home / "secrets")
    assert vault.get("github") == "ghp_vaultvalue1234567"

    code, out = _run(home, "list", "--json")
    assert code == 0, out
    assert "ghp_vaultvalue" not in out and "AAsecret" not in out
    rows = {r["ref"]: r for r in json.loads(out)["secrets"]}
    assert rows["github"]["provider"] == "vault" and rows["github"]["status"] == "resolved"
    assert rows["telegram_token"]["provider"] == "env" and rows["telegram_token"]["status"] == "resolved"
    assert "commented_out" not in rows

    code, out = _run(home, "check", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["ok"] is True
    by_ref = {r["ref"]: r for r in data["secrets"]}
    assert by_ref["github"]["age_days"] == 0.0 and by_ref["telegram_token"]["age_days"] is None

    code, out = _run(home, "rm", "github")
    assert code == 0 and vault.refs() == []
    code, out = _run(home, "list")
    assert "missing" in out and "github" in out


def test_check_warns_past_90_days(home: Path) -> None:
    Vault(home / "secrets").set("github", "ghp_old_value_123456", now=time.time() - 100 * 86400)
    code, out = _run(home, "check")
    assert code == 1 and "WARN" in out and "older than 90 days" in out and "ghp_old" not in out


def test_list_reports_locked_vault_without_value(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Vault(home / "secrets").set("github", "ghp_locked_value_1234")
    monkeypatch.delenv("ETHOS_VAULT_PASSPHRASE")
    code, out = _run(home, "list", "--json")
    rows = {r["ref"]: r for r in json.loads(out)["secrets"]}
    assert rows["github"]["status"] == "locked" and "ghp_locked" not in out


def test_wrong_passphrase_on_set(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Vault(home / "secrets").set("github", "ghp_value_123456789")
    monkeypatch.setenv("ETHOS_VAULT_PASSPHRASE", "wrong")
    code, out = _run(home, "set", "other", stdin="another-value-123\n")
    assert code == 1 and "wrong passphrase" in out and "another-value" not in out


def test_resolvers_registered_as_lifecycle_plugins(home: Path) -> None:
    from ethos_core.config.model import GlobalConfig, SecretsConfig, VaultSecretsConfig
    from ethos_core.manager import build_plugin_manager
    from ethos_core.runtime import HomePaths, Runtime

    runtime = Runtime(home=HomePaths(home), config=GlobalConfig(secrets=SecretsConfig(vault=VaultSecretsConfig())))
    pm = build_plugin_manager(runtime, autoload=False)
    names = [getattr(r, "name", "") for group in pm.hook.ethos_secret_resolvers() for r in group]
    assert "vault" in names and "env" in names
