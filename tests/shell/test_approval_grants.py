"""Approval scopes in state.db, the ``ethos approvals`` CLI and the denial counter."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ethos_core.approval_grants import STOP_MESSAGE, DenialCounter, GrantStore, effective_scope
from ethos_core.cli.approvals import approvals_group
from ethos_core.types import ToolCall


def shell(command: str, cwd: str | None = "/work/p") -> ToolCall:
    return ToolCall("shell", {"command": command}, capabilities={"exec"}, cwd=cwd)


@pytest.fixture
def store(tmp_path: Path) -> GrantStore:
    return GrantStore(tmp_path / "state.db")


def test_session_grant_is_bound_to_session(store: GrantStore) -> None:
    grant = store.grant(shell("git push --force"), "session", session="s1", approver="owner")
    assert grant.scope == "session"
    assert store.lookup(shell("git push --force"), "s1") is not None
    assert store.lookup(shell("git push --force"), "s2") is None
    assert store.lookup(shell("git push --force origin dev"), "s1") is None


def test_once_grant_is_consumed(store: GrantStore) -> None:
    store.grant(shell("make deploy"), "once", session="s1")
    assert store.lookup(shell("make deploy"), "s1") is not None
    assert store.lookup(shell("make deploy"), "s1") is None


def test_always_grant_is_bound_to_cwd_and_crosses_sessions(store: GrantStore) -> None:
    grant = store.grant(shell("git push --force"), "always", session="s1")
    assert grant.scope == "always" and grant.session is None
    assert store.lookup(shell("git push --force"), "s9") is not None
    assert store.lookup(shell("git push --force", cwd="/elsewhere"), "s9") is None


@pytest.mark.parametrize(
    "command",
    ["bash deploy.sh", "sh -c 'make'", "python3 tool.py", "node server.js", "sudo make install", "env X=1 make",
     "perl x.pl", "git push -f && make", "curl x | sh", "xargs rm < list", "/usr/bin/python3.11 -m http.server"],
)
def test_always_never_widens_to_shells_or_interpreters(store: GrantStore, command: str) -> None:
    assert effective_scope(shell(command), "always") == "session"
    grant = store.grant(shell(command), "always", session="s1")
    assert grant.scope == "session" and grant.requested_scope == "always"
    assert store.lookup(shell(command), "s2") is None


def test_grants_expire(store: GrantStore) -> None:
    store.grant(shell("make"), "session", session="s1", ttl=10, now=1000.0)
    assert store.lookup(shell("make"), "s1", now=1005.0) is not None
    assert store.lookup(shell("make"), "s1", now=1011.0) is None
    assert store.list(now=1011.0) == []


def test_revoke_and_list(store: GrantStore) -> None:
    grant = store.grant(shell("make"), "always", session="s1")
    assert [g.id for g in store.list()] == [grant.id]
    assert store.revoke(grant.id)
    assert not store.revoke(grant.id)
    assert store.lookup(shell("make"), "s1") is None
    assert store.list() == [] and len(store.list(include_inactive=True)) == 1


def test_non_command_tools_bind_to_canonical_args(store: GrantStore) -> None:
    store.grant(ToolCall("send_email", {"to": "a@b", "body": "x"}), "session", session="s1")
    assert store.lookup(ToolCall("send_email", {"body": "x", "to": "a@b"}), "s1") is not None
    assert store.lookup(ToolCall("send_email", {"to": "c@d", "body": "x"}), "s1") is None


def test_unknown_scope_is_rejected(store: GrantStore) -> None:
    with pytest.raises(ValueError):
        store.grant(shell("make"), "forever", session="s1")


def test_table_is_strict_sqlite(tmp_path: Path) -> None:
    GrantStore(tmp_path / "state.db")
    sql = sqlite3.connect(tmp_path / "state.db").execute(
        "SELECT sql FROM sqlite_master WHERE name = 'approval_grants'").fetchone()[0]
    assert "STRICT" in sql


def test_cli_list_and_revoke(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = GrantStore(home / "state.db")
    grant = store.grant(shell("ls -la"), "always", session="s1")
    runner = CliRunner()
    out = runner.invoke(approvals_group, ["list", "--json"], obj={"home": str(home)})
    assert out.exit_code == 0 and json.loads(out.output)[0]["id"] == grant.id
    text = runner.invoke(approvals_group, ["list"], obj={"home": str(home)})
    assert grant.id in text.output and "always" in text.output
    revoked = runner.invoke(approvals_group, ["revoke", grant.id, "--json"], obj={"home": str(home)})
    assert revoked.exit_code == 0 and json.loads(revoked.output) == {"id": grant.id, "revoked": True}
    again = runner.invoke(approvals_group, ["revoke", grant.id], obj={"home": str(home)})
    assert again.exit_code == 1


def test_three_denials_in_a_row_end_the_turn() -> None:
    counter = DenialCounter()
    assert not counter.record(1, denied=True)
    assert not counter.record(1, denied=True)
    assert counter.record(1, denied=True)
    assert counter.message == STOP_MESSAGE and "Stop trying variants" in STOP_MESSAGE


def test_denial_count_resets_on_allow_and_new_turn() -> None:
    counter = DenialCounter()
    counter.record(1, denied=True)
    counter.record(1, denied=True)
    assert not counter.record(1, denied=False)
    assert not counter.record(1, denied=True)
    counter.record(1, denied=True)
    assert not counter.record(2, denied=True)
