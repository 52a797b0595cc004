"""Behaviour of ScopedStorage: reads, atomic writes, listings, approvals, audit, checkpoints."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from fsworld import World

from ethos_core.errors import BoundaryError
from ethos_core.fs import fs_services
from ethos_core.fs.scoped import OPENAT2, ScopedStorage
from ethos_core.runtime import HomePaths, Runtime
from ethos_core.stages import Stage
from ethos_core.types import Decision, FsReach, PathAccess, Personality


@pytest.fixture(params=["openat2", "walk"])
def storage(request: pytest.FixtureRequest, world: World) -> ScopedStorage:
    if request.param == "openat2" and not OPENAT2.available:
        pytest.skip("openat2 not available on this kernel")
    return world.storage(use_openat2=request.param == "openat2")


def test_read_inside_reach(storage: ScopedStorage, world: World) -> None:
    assert storage.read_text(str(world.ws / "notes.txt")) == "hello\n"
    assert storage.read_text("sub/deep.txt") == "deep\n"
    assert storage.read_bytes(str(world.ro / "readme.md"), limit=4) == b"read"
    with storage.open("notes.txt") as f:
        assert f.read() == "hello\n"


def test_missing_file_inside_reach_is_a_plain_not_found(storage: ScopedStorage) -> None:
    with pytest.raises(FileNotFoundError) as info:
        storage.read_text("nope.txt")
    assert info.value.filename == "nope.txt"


def test_read_outside_reach_raises_boundary_error_and_audits(storage: ScopedStorage, world: World) -> None:
    with pytest.raises(BoundaryError) as info:
        storage.read_text(str(world.outside / "secret.txt"))
    err = info.value
    assert (err.kind, err.rule) == ("read", "fs.outside_reach")
    assert err.target == str(world.outside / "secret.txt")
    event = world.events[-1]
    assert event.category == "audit.block"
    assert event.stage == "fs_boundary" and event.rule == "fs.outside_reach"
    assert event.data["path"] == str(world.outside / "secret.txt")
    assert event.personality == "p"


def test_write_is_atomic_and_keeps_mode(storage: ScopedStorage, world: World) -> None:
    target = world.ws / "notes.txt"
    target.chmod(0o640)
    inode = target.stat().st_ino
    assert storage.write_text("notes.txt", "changed\n") == 8
    assert target.read_text() == "changed\n"
    assert target.stat().st_ino != inode  # replaced, not modified in place
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert not [p for p in world.ws.iterdir() if ".ethos-" in p.name]


def test_write_creates_parents_inside_reach(storage: ScopedStorage, world: World) -> None:
    storage.write_text("a/b/c.txt", "x")
    assert (world.ws / "a" / "b" / "c.txt").read_text() == "x"
    with pytest.raises(FileNotFoundError):
        storage.write_bytes("q/r.txt", b"x", parents=False)


def test_exclusive_create(storage: ScopedStorage, world: World) -> None:
    with storage.open("new.txt", "x") as f:
        f.write("one")
    assert (world.ws / "new.txt").read_text() == "one"
    with pytest.raises(FileExistsError):
        storage.write_bytes("new.txt", b"two", exclusive=True)


def test_open_write_and_append_commit_on_close(storage: ScopedStorage, world: World) -> None:
    with storage.open("log.txt", "w") as f:
        f.write("a\n")
    with storage.open("log.txt", "ab") as fb:
        fb.write(b"b\n")
    assert (world.ws / "log.txt").read_text() == "a\nb\n"
    with pytest.raises(ValueError):
        storage.open("log.txt", "r+")


def test_write_to_read_only_reach_refused(storage: ScopedStorage, world: World) -> None:
    with pytest.raises(BoundaryError) as info:
        storage.write_text(str(world.ro / "readme.md"), "x")
    assert info.value.rule == "fs.outside_reach"
    assert (world.ro / "readme.md").read_text() == "read only\n"


def test_edit_bytes(storage: ScopedStorage, world: World) -> None:
    storage.edit_bytes("notes.txt", lambda b: b.replace(b"hello", b"bye"))
    assert (world.ws / "notes.txt").read_text() == "bye\n"
    with pytest.raises(FileNotFoundError):
        storage.edit_bytes("missing.txt", lambda b: b)


def test_delete_file_and_symlink_only_removes_the_link(storage: ScopedStorage, world: World) -> None:
    storage.delete("notes.txt")
    assert not (world.ws / "notes.txt").exists()
    (world.ws / "ln").symlink_to(world.ws / "sub" / "deep.txt")
    storage.delete("ln")
    assert (world.ws / "sub" / "deep.txt").exists()
    with pytest.raises(IsADirectoryError):
        storage.delete("sub")


def test_list_dir_and_stat(storage: ScopedStorage, world: World) -> None:
    (world.ws / "ln").symlink_to("notes.txt")
    names = {e.name: e.kind for e in storage.list_dir(".")}
    assert names == {"notes.txt": "file", "sub": "dir", "ln": "symlink"}
    assert storage.stat("sub/deep.txt").st_size == 5
    assert storage.exists("notes.txt") and not storage.exists("zzz")
    with pytest.raises(NotADirectoryError):
        storage.list_dir("notes.txt")


def test_list_dir_hides_floor_entries(world: World) -> None:
    storage = world.storage(world.policy(read_roots=[str(world.home)]))
    names = {e.name for e in storage.list_dir(str(world.home))}
    assert ".ssh" not in names and ".aws" not in names


def test_iter_files_skips_floor_and_env(world: World) -> None:
    (world.ws / ".env").write_text("T=1")
    storage = world.storage()
    found = dict(storage.iter_files(".", "*.txt"))
    assert found == {"notes.txt": b"hello\n", "sub/deep.txt": b"deep\n"}
    assert ".env" not in dict(storage.iter_files("."))


def test_env_file_read_needs_approval(world: World) -> None:
    (world.ws / ".env").write_text("TOKEN=abc\n")
    refused = world.storage()
    with pytest.raises(BoundaryError) as info:
        refused.read_text(".env")
    assert info.value.rule == "fs.env_file"
    asked: list[Decision] = []
    approving = world.storage(on_approve=lambda d: asked.append(d) or True)
    assert approving.read_text(".env") == "TOKEN=abc\n"
    assert [d.rule for d in asked] == ["fs.env_file"]
    denying = world.storage(world.policy(env_files="deny"), on_approve=lambda d: True)
    with pytest.raises(BoundaryError):
        denying.read_text(".env")


def test_pipeline_judge_can_narrow(world: World) -> None:
    def judge(access: PathAccess) -> Decision:
        if access.path.endswith(".md"):
            return Decision.deny(Stage.FS_BOUNDARY, "pack.no_md", "no markdown")
        return Decision.allow(Stage.FS_BOUNDARY)

    storage = world.storage(judge=judge)
    with pytest.raises(BoundaryError) as info:
        storage.read_text(str(world.ro / "readme.md"))
    assert info.value.rule == "pack.no_md"
    assert storage.read_text("notes.txt") == "hello\n"


def test_pipeline_judge_cannot_widen(world: World) -> None:
    storage = world.storage(judge=lambda access: Decision.allow(Stage.FS_BOUNDARY))
    with pytest.raises(BoundaryError):
        storage.read_text(str(world.outside / "secret.txt"))


def test_failing_judge_fails_closed(world: World) -> None:
    def judge(access: PathAccess) -> Decision:
        raise RuntimeError("boom")

    with pytest.raises(BoundaryError) as info:
        world.storage(judge=judge).read_text("notes.txt")
    assert info.value.rule == "fs.judge_error"


def test_non_regular_files_refused(world: World) -> None:
    os.mkfifo(world.ws / "fifo")
    storage = world.storage()
    with pytest.raises(BoundaryError) as info:
        storage.read_text("fifo")
    assert info.value.rule == "fs.not_regular"


def test_agent_wrote_tracks_own_writes(storage: ScopedStorage) -> None:
    assert not storage.agent_wrote("notes.txt")
    storage.write_text("mine.txt", "x")
    assert storage.agent_wrote("mine.txt")


def test_for_personality_uses_runtime_services(world: World) -> None:
    runtime = Runtime(HomePaths(world.ethos))
    personality = Personality(id="p", directory=str(world.pdir), fs_reach=FsReach())
    storage = ScopedStorage.for_personality(runtime, personality, session="s1", turn=3)
    storage.write_text("note.md", "x")  # relative to the data directory
    assert (world.pdir / "data" / "note.md").read_text() == "x"
    with pytest.raises(BoundaryError):
        storage.write_text(str(world.pdir / "config.yaml"), "fs_reach: {read: ['/']}")
    services = fs_services(runtime)
    assert runtime.services["checkpoints"] is services.checkpoints
    assert services.checkpoints.change_sets()[0].turn == 3
    blocks = runtime.services["audit_memory"]
    assert blocks[-1].rule == "fs.protected" and blocks[-1].session == "s1"


def test_checkpoint_records_before_state(storage: ScopedStorage, world: World) -> None:
    storage.turn = 1
    storage.write_text("notes.txt", "v2\n")
    storage.write_text("notes.txt", "v3\n")
    storage.write_text("fresh.txt", "new\n")
    storage.delete("sub/deep.txt")
    store = storage.checkpoints
    (change_set,) = store.change_sets()
    by_path = {Path(f.path).name: f for f in change_set.files}
    assert store.blob(by_path["notes.txt"].before) == b"hello\n"
    assert by_path["fresh.txt"].before is None
    assert by_path["deep.txt"].after is None
