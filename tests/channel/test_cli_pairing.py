"""``ethos pairing list|approve|revoke|unlock`` against a real home."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ethos_core.channel.pairing import FAIL_LIMIT, PairingStore
from ethos_core.cli.main import cli


def run(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), "pairing", *args])
    return result.exit_code, result.output


def test_list_approve_revoke(ethos_home: Path) -> None:
    store = PairingStore(ethos_home / "state.db")
    code = store.issue("telegram", "42", "42").code
    assert code is not None
    status, out = run(ethos_home, "list", "--json")
    listed = json.loads(out)
    assert status == 0 and listed["pending"][0]["sender"] == "42" and code not in out
    status, out = run(ethos_home, "approve", code, "--sender", "43", "--json")
    assert status == 1 and json.loads(out)["rule"] == "pairing.wrong_sender"
    status, out = run(ethos_home, "approve", code, "--json")
    assert status == 0 and json.loads(out) == {"approved": True, "rule": "pairing.approved", "reason": "sender paired",
                                                "platform": "telegram", "sender": "42"}
    assert store.is_approved("telegram", "42")
    status, out = run(ethos_home, "approve", code, "--json")
    assert status == 1 and json.loads(out)["rule"] == "pairing.replay"
    status, out = run(ethos_home, "revoke", "42", "--json")
    assert status == 0 and json.loads(out)["revoked"][0]["sender"] == "42"
    assert not store.is_approved("telegram", "42")


def test_lock_shown_and_unlocked(ethos_home: Path) -> None:
    for _ in range(FAIL_LIMIT):
        run(ethos_home, "approve", "ZZZZZ-ZZZZZ")
    status, out = run(ethos_home, "list")
    assert status == 0 and "LOCKED" in out
    status, out = run(ethos_home, "unlock", "--json")
    assert status == 0 and json.loads(out)["was_locked"] is True
    assert json.loads(run(ethos_home, "list", "--json")[1])["health"]["locked"] is False
