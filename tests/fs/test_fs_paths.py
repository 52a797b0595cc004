"""Behaviour of the stage-⑨ judgment (FsPolicy / judge_path): reach, floor, protected files."""

from __future__ import annotations

import os

import pytest
from fsworld import World

from ethos_core.fs.floor import floor_rule, is_env_file
from ethos_core.fs.paths import FsPolicy, judge_path
from ethos_core.stages import Stage
from ethos_core.types import FsReach
from ethos_core.verdicts import Verdict


def test_inside_write_reach_is_allowed_for_read_and_write(world: World) -> None:
    policy = world.policy()
    for op in ("read", "write"):
        decision = policy.judge(str(world.ws / "notes.txt"), op)
        assert decision.verdict is Verdict.ALLOW
        assert decision.stage is Stage.FS_BOUNDARY


def test_read_reach_is_not_write_reach(world: World) -> None:
    policy = world.policy()
    assert policy.judge(str(world.ro / "readme.md"), "read").allowed
    decision = policy.judge(str(world.ro / "readme.md"), "write")
    assert decision.denied and decision.rule == "fs.outside_reach"


def test_outside_reach_denied(world: World) -> None:
    decision = world.policy().judge(str(world.outside / "secret.txt"), "read")
    assert decision.denied and decision.rule == "fs.outside_reach"


def test_relative_paths_are_relative_to_the_first_write_root(world: World) -> None:
    policy = world.policy()
    assert policy.base == str(world.ws)
    assert policy.judge("notes.txt", "read").allowed
    assert policy.judge("../outside/secret.txt", "read").rule == "fs.outside_reach"


def test_tilde_and_home_variable_expand_to_the_home(world: World) -> None:
    policy = world.policy(read_roots=["~/projects"], write_roots=[])
    (world.home / "projects").mkdir()
    for path in ("~/projects/x", "$HOME/projects/x", "${HOME}/projects/x"):
        assert policy.judge(path, "read").allowed, path
    assert policy.judge("~/.ssh/id_rsa", "read").rule == "fs.floor.ssh"


def test_floor_beats_any_allow(world: World) -> None:
    policy = world.policy(read_roots=[str(world.home)], write_roots=[str(world.home)])
    assert policy.judge(str(world.home / ".ssh" / "id_rsa"), "read").rule == "fs.floor.ssh"
    assert policy.judge(str(world.home / ".aws" / "credentials"), "write").rule == "fs.floor.aws"
    assert policy.judge(str(world.home / ".bash_history"), "read").rule == "fs.floor.shell_history"
    assert policy.judge(str(world.home / "ok.txt"), "read").allowed


def test_system_floor(world: World) -> None:
    policy = world.policy(read_roots=["/"])
    expected = {
        "/etc/shadow": "fs.floor.shadow",
        "/etc/sudoers.d/extra": "fs.floor.sudoers",
        "/root/.profile": "fs.floor.root_home",
        "/proc/1/environ": "fs.floor.proc_secrets",
        "/proc/self/mem": "fs.floor.proc_secrets",
        "/sys/kernel": "fs.floor.sys",
        "/boot/vmlinuz": "fs.floor.boot",
    }
    for path, rule in expected.items():
        assert policy.judge(path, "read").rule == rule, path
    assert policy.judge("/etc/hostname", "read").allowed


def test_ethos_stores_on_the_floor(world: World) -> None:
    policy = world.policy(read_roots=[str(world.ethos)])
    assert policy.judge(str(world.ethos / "state.db"), "read").rule == "fs.floor.ethos_state"
    assert policy.judge(str(world.ethos / "observability.db-wal"), "read").rule == "fs.floor.ethos_audit"
    assert policy.judge(str(world.ethos / "secrets" / "vault"), "read").rule == "fs.floor.ethos_secrets"
    assert policy.judge(str(world.ethos / "checkpoints" / "sets"), "read").rule == "fs.floor.ethos_checkpoints"
    assert policy.judge(str(world.ethos / "skills.lock"), "read").rule == "fs.floor.ethos_skills_lock"


def test_own_config_toolset_and_prompts_are_never_writable(world: World) -> None:
    policy = world.policy(read_roots=[str(world.ethos)], write_roots=[str(world.ethos)])
    for name in ("config.yaml", "toolset.yaml", "prompt.md", "SOUL.md"):
        assert policy.judge(str(world.pdir / name), "write").rule == "fs.protected", name
        assert not policy.judge(str(world.pdir / name), "read").denied
    assert policy.judge(str(world.ethos / "config.yaml"), "write").rule == "fs.protected"
    assert policy.judge(str(world.ethos / "personalities" / "other" / "config.yaml"), "write").rule == "fs.protected"
    assert policy.judge(str(world.pdir / "data" / "notes.md"), "write").allowed


def test_explicit_protected_list(world: World) -> None:
    policy = world.policy(protected=[str(world.ws / "policy.yaml")])
    assert policy.judge(str(world.ws / "policy.yaml"), "write").rule == "fs.protected"
    assert policy.judge(str(world.ws / "policy.yaml"), "read").allowed


def test_no_declared_reach_means_only_the_data_directory(world: World) -> None:
    decision = judge_path(
        str(world.pdir / "data" / "x.txt"), "write", FsReach(),
        personality_dir=world.pdir, home=str(world.home), ethos_home=world.ethos,
    )
    assert decision.allowed
    for path in (str(world.ws / "notes.txt"), str(world.pdir / "config.yaml"), "/etc/hostname"):
        decision = judge_path(path, "read", FsReach(), personality_dir=world.pdir, home=str(world.home))
        assert decision.denied, path


def test_declared_but_empty_reach_allows_nothing(world: World) -> None:
    reach = FsReach(read=(), write=(), declared=True)
    decision = judge_path(str(world.pdir / "data" / "x"), "read", reach, personality_dir=world.pdir, home=str(world.home))
    assert decision.rule == "fs.outside_reach"


def test_env_files_need_approval_or_are_denied(world: World) -> None:
    (world.ws / ".env").write_text("TOKEN=x\n")
    decision = world.policy().judge(str(world.ws / ".env"), "read")
    assert decision.verdict is Verdict.APPROVE and decision.rule == "fs.env_file"
    assert world.policy().judge(str(world.ws / ".env.production"), "read").verdict is Verdict.APPROVE
    denied = world.policy(env_files="deny").judge(str(world.ws / ".env"), "read")
    assert denied.denied and denied.rule == "fs.env_file"
    assert world.policy().judge(str(world.ws / "env.txt"), "read").allowed


def test_unknown_op_denied(world: World) -> None:
    assert world.policy().judge(str(world.ws / "notes.txt"), "exec").rule == "fs.invalid_op"


def test_non_string_and_empty_paths_denied(world: World) -> None:
    policy = world.policy()
    assert policy.judge(b"/etc/passwd", "read").rule == "fs.invalid"
    assert policy.judge("", "read").rule == "fs.invalid"
    assert policy.judge("   ", "read").rule == "fs.invalid"


def test_floor_rule_is_componentwise() -> None:
    assert floor_rule("/h/u/.ssh", home="/h/u") == "floor.ssh"
    assert floor_rule("/h/u/.ssh/config", home="/h/u") == "floor.ssh"
    assert floor_rule("/h/u/.sshd", home="/h/u") is None
    assert floor_rule("/etc/shadowfax", home="/h/u") is None
    assert floor_rule("/etc/shadow-", home="/h/u") == "floor.shadow"


def test_is_env_file() -> None:
    assert is_env_file("/a/.env") and is_env_file(".env.local")
    assert not is_env_file("/a/.envrc") and not is_env_file("/a/x.env")


def test_reach_roots_that_are_symlinks_are_honoured(world: World) -> None:
    (world.root / "link_to_ws").symlink_to(world.ws)
    policy = world.policy(read_roots=[str(world.root / "link_to_ws")], write_roots=[])
    assert policy.judge(str(world.root / "link_to_ws" / "notes.txt"), "read").allowed


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_component_does_not_crash(world: World) -> None:
    locked = world.ws / "locked"
    locked.mkdir()
    try:
        locked.chmod(0)
        assert world.policy().judge(str(locked / "x" / "y"), "read").allowed
    finally:
        locked.chmod(0o755)


def test_policy_object_is_reusable_and_pure(world: World) -> None:
    policy = FsPolicy(write_roots=[str(world.ws)], home=str(world.home))
    first = policy.judge(str(world.ws / "notes.txt"), "read")
    second = policy.judge(str(world.ws / "notes.txt"), "read")
    assert first == second
