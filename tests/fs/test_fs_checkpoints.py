"""Checkpoints and ``ethos rollback``: restore the agent's last set of edits, refuse conflicts."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from fsworld import World

from ethos_core.cli.main import cli


def rollback(world: World, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(world.ethos), "rollback", *args])
    return result.exit_code, result.output


def test_rollback_last_restores_modified_created_and_deleted(world: World) -> None:
    storage = world.storage(session="s1", turn=1)
    storage.write_text("notes.txt", "agent\n")
    storage.write_text("made/new.txt", "new\n")
    storage.delete("sub/deep.txt")
    code, out = rollback(world, "--last")
    assert code == 0, out
    assert "restored 3 file(s)" in out
    assert (world.ws / "notes.txt").read_text() == "hello\n"
    assert not (world.ws / "made" / "new.txt").exists()
    assert (world.ws / "sub" / "deep.txt").read_text() == "deep\n"
    code, out = rollback(world, "--last")  # already rolled back: nothing left
    assert code == 1 and "no agent edits" in out


def test_rollback_turn_n_and_last_pick_the_right_set(world: World) -> None:
    storage = world.storage(session="s1", turn=1)
    storage.write_text("a.txt", "turn1\n")
    storage.turn = 2
    storage.write_text("b.txt", "turn2\n")
    code, out = rollback(world, "--turn", "1", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["ok"] and report["change_set"]["turn"] == 1
    assert not (world.ws / "a.txt").exists() and (world.ws / "b.txt").exists()
    code, _ = rollback(world)  # default is --last
    assert code == 0 and not (world.ws / "b.txt").exists()


def test_rollback_keeps_permission_bits(world: World) -> None:
    target = world.ws / "notes.txt"
    target.chmod(0o600)
    world.storage().write_text("notes.txt", "agent\n")
    target.chmod(0o644)
    assert rollback(world)[0] == 0
    assert target.stat().st_mode & 0o777 == 0o600


def test_rollback_conflict_names_the_file_and_changes_nothing(world: World) -> None:
    storage = world.storage()
    storage.write_text("notes.txt", "agent\n")
    storage.write_text("other.txt", "agent other\n")
    (world.ws / "notes.txt").write_text("human\n")
    code, out = rollback(world, "--json")
    assert code == 1
    report = json.loads(out)
    assert [c["path"] for c in report["conflicts"]] == [str(world.ws / "notes.txt")]
    assert (world.ws / "other.txt").exists()
    assert (world.ws / "notes.txt").read_text() == "human\n"


def test_rollback_conflict_when_deleted_file_reappears(world: World) -> None:
    world.storage().delete("notes.txt")
    (world.ws / "notes.txt").write_text("human recreated\n")
    code, out = rollback(world)
    assert code == 1 and "re-created" in out


def test_dry_run_and_list(world: World) -> None:
    world.storage(personality="p", session="s9", turn=4).write_text("notes.txt", "agent\n")
    code, out = rollback(world, "--list")
    assert code == 0 and "session s9" in out and "turn 4" in out
    code, out = rollback(world, "--dry-run")
    assert code == 0 and "would restore" in out
    assert (world.ws / "notes.txt").read_text() == "agent\n"
    listing = json.loads(rollback(world, "--list", "--json")[1])
    assert listing["change_sets"][0]["files"][0]["path"] == str(world.ws / "notes.txt")


def test_personality_filter(world: World) -> None:
    world.storage(personality="p").write_text("notes.txt", "p edit\n")
    world.storage(personality="q").write_text("other.txt", "q edit\n")
    assert rollback(world, "--personality", "p")[0] == 0
    assert (world.ws / "notes.txt").read_text() == "hello\n"
    assert (world.ws / "other.txt").exists()
    assert rollback(world, "--personality", "zzz")[0] == 1


def test_usage_error_for_last_and_turn(world: World) -> None:
    assert rollback(world, "--last", "--turn", "1")[0] == 2


def test_blobs_are_content_addressed_and_private(world: World) -> None:
    storage = world.storage()
    storage.write_text("notes.txt", "x")
    storage.turn = 1
    (world.ws / "copy.txt").write_text("hello\n")
    storage.write_text("copy.txt", "y")
    blobs = [p for p in (world.ethos / "checkpoints" / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1  # both before-states were "hello\n"
    assert blobs[0].stat().st_mode & 0o077 == 0
    assert Path(blobs[0]).read_bytes() == b"hello\n"
