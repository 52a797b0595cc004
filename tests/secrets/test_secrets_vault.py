"""The encrypted vault: round trip, file modes, wrong passphrase, tampering, unsafe modes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ethos_core.secrets.vault import Vault, VaultError, VaultResolver, vault_path

PASS = "correct horse battery staple"


def _vault(root: Path, passphrase: str = PASS) -> Vault:
    return Vault(root / "secrets", passphrase=passphrase, key_source="passphrase", scrypt_n=2**10)


def test_round_trip_and_modes(tmp_path: Path) -> None:
    vault = _vault(tmp_path)
    vault.set("github", "ghp_value_1234567890", now=1000.0)
    assert vault.get("github") == "ghp_value_1234567890"
    assert vault.set_at("github") == 1000.0
    assert stat.S_IMODE(vault.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(vault.directory.stat().st_mode) == 0o700
    raw = vault.path.read_text()
    assert "ghp_value_1234567890" not in raw and json.loads(raw)["kdf"] == "scrypt"
    assert vault.refs() == ["github"]
    assert vault.get("missing") is None


def test_wrong_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    _vault(tmp_path).set("db", "s3cret-value-xyz")
    with pytest.raises(VaultError, match="wrong passphrase") as info:
        _vault(tmp_path, "not the passphrase").get("db")
    assert "s3cret" not in str(info.value)
    with pytest.raises(VaultError, match="wrong passphrase"):
        _vault(tmp_path, "not the passphrase").set("other", "value-123456")
    assert _vault(tmp_path).refs() == ["db"]


def test_locked_without_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ETHOS_VAULT_PASSPHRASE", raising=False)
    _vault(tmp_path).set("db", "s3cret-value-xyz")
    locked = Vault(tmp_path / "secrets", key_source="passphrase")
    with pytest.raises(VaultError, match="ETHOS_VAULT_PASSPHRASE"):
        locked.get("db")
    assert locked.refs() == ["db"]  # listing needs no key


def test_env_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETHOS_VAULT_PASSPHRASE", PASS)
    _vault(tmp_path).set("db", "s3cret-value-xyz")
    assert Vault(tmp_path / "secrets", key_source="passphrase").get("db") == "s3cret-value-xyz"


def test_ciphertext_moved_to_another_ref_fails(tmp_path: Path) -> None:
    vault = _vault(tmp_path)
    vault.set("a", "value-a-123456")
    vault.set("b", "value-b-123456")
    data = json.loads(vault.path.read_text())
    data["entries"]["b"]["ct"], data["entries"]["b"]["nonce"] = data["entries"]["a"]["ct"], data["entries"]["a"]["nonce"]
    vault.path.write_text(json.dumps(data))
    with pytest.raises(VaultError, match="does not decrypt"):
        _vault(tmp_path).get("b")


@pytest.mark.parametrize("target", ["file", "dir"])
def test_group_readable_vault_is_refused(tmp_path: Path, target: str) -> None:
    vault = _vault(tmp_path)
    vault.set("a", "value-a-123456")
    (vault.path if target == "file" else vault.directory).chmod(0o640 if target == "file" else 0o750)
    with pytest.raises(VaultError, match="group or others"):
        _vault(tmp_path).get("a")


def test_remove_and_resolver(tmp_path: Path) -> None:
    vault = _vault(tmp_path)
    vault.set("a", "value-a-123456")
    vault.set("b", "value-b-123456")
    assert vault.remove("a") is True and vault.remove("a") is False
    resolver = VaultResolver(_vault(tmp_path))
    assert resolver.name == "vault"
    assert resolver.resolve("b") == "value-b-123456" and resolver.resolve("a") is None
    assert vault_path(tmp_path, None) == tmp_path / "secrets" / "vault.json"


def test_corrupt_vault_is_refused(tmp_path: Path) -> None:
    vault = _vault(tmp_path)
    vault.set("a", "value-a-123456")
    vault.path.write_text("{not json")
    with pytest.raises(VaultError, match="not readable"):
        vault.refs()
