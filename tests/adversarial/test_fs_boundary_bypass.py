"""Bypass attempts against the filesystem boundary (stage ⑨): one named test per bypass class.

Everything lives in a tmp world: a fake user home (``home=tmp/home``) holding ``.ssh/id_rsa``,
a workspace in write reach, a read-only root, a directory outside reach holding a secret, and
an ethos home with one personality. Both open paths (openat2 fast path and the descriptor walk)
are exercised wherever an open happens.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from ethos_core.errors import BoundaryError
from ethos_core.fs.checkpoints import CheckpointStore
from ethos_core.fs.paths import FsPolicy
from ethos_core.fs.scoped import OPENAT2, FloorIdentities, ScopedStorage
from ethos_core.types import AuditEvent
from ethos_core.verdicts import Verdict

SECRET = "OUTSIDE-SECRET"


@attrs.define
class Tmp:
    root: Path
    home: Path
    ws: Path
    outside: Path
    ethos: Path
    pdir: Path
    events: list[AuditEvent] = attrs.field(factory=list)

    def policy(self, **kw: Any) -> FsPolicy:
        args: dict[str, Any] = dict(
            write_roots=[str(self.ws)], personality_dir=str(self.pdir), home=str(self.home), ethos_home=str(self.ethos)
        )
        args.update(kw)
        return FsPolicy(**args)

    def storage(self, policy: FsPolicy | None = None, **kw: Any) -> ScopedStorage:
        kw.setdefault("emit", self.events.append)
        kw.setdefault("identities", FloorIdentities(str(self.home), str(self.ethos), min_refresh=0, system=False))
        kw.setdefault("checkpoints", CheckpointStore(self.ethos / "checkpoints"))
        return ScopedStorage(policy or self.policy(), **kw)


@pytest.fixture
def t(tmp_path: Path) -> Tmp:
    root = tmp_path.resolve()
    home = root / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    ws = root / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "inside.txt").write_text("inside")
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    ethos = root / "ethos"
    pdir = ethos / "personalities" / "p"
    (pdir / "data").mkdir(parents=True)
    (pdir / "config.yaml").write_text("name: p\n")
    (pdir / "toolset.yaml").write_text("- read_file\n")
    (ethos / "state.db").write_bytes(b"SQLite format 3")
    return Tmp(root, home, ws, outside, ethos, pdir)


MODES = ["openat2", "walk"]


@pytest.fixture(params=MODES)
def store(request: pytest.FixtureRequest, t: Tmp) -> ScopedStorage:
    if request.param == "openat2" and not OPENAT2.available:
        pytest.skip("openat2 not available")
    return t.storage(use_openat2=request.param == "openat2")


def refused(storage: ScopedStorage, path: str, op: str = "read") -> BoundaryError:
    with pytest.raises(BoundaryError) as info:
        if op == "read":
            storage.read_text(path)
        else:
            storage.write_text(path, "pwned")
    return info.value


# --- lexical tricks ------------------------------------------------------------------------


def test_dotdot_traversal(t: Tmp, store: ScopedStorage) -> None:
    for path in (
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        "./sub/./../.././outside/secret.txt",
        str(t.ws) + "/../outside/secret.txt",
        "../" * 40 + str(t.outside / "secret.txt").lstrip("/"),
    ):
        assert refused(store, path).rule == "fs.outside_reach", path
        assert refused(store, path, "write").rule == "fs.outside_reach", path
    assert not (t.outside / "pwned").exists()
    assert (t.outside / "secret.txt").read_text() == SECRET


def test_absolute_escapes(t: Tmp, store: ScopedStorage) -> None:
    for path in (str(t.outside / "secret.txt"), "/etc/passwd", "/", str(t.root), "/tmp"):
        assert refused(store, path).rule == "fs.outside_reach", path


def test_tilde_user_refused(t: Tmp) -> None:
    policy = t.policy(read_roots=["/"])
    for path in ("~root/.ssh/id_rsa", "~nobody", "~+/x", "~-/x", "~~/x"):
        decision = policy.judge(path, "read")
        assert decision.denied and decision.rule == "fs.tilde_user", path
    assert refused(t.storage(), "~root").rule == "fs.tilde_user"


def test_prefix_confusion(t: Tmp, store: ScopedStorage) -> None:
    evil = Path(str(t.ws) + "x")
    evil.mkdir()
    (evil / "f.txt").write_text(SECRET)
    Path(str(t.ws) + "-backup").mkdir()
    for path in (str(evil / "f.txt"), str(t.ws) + "-backup/f", str(t.ws) + ".txt"):
        assert refused(store, path).rule == "fs.outside_reach", path
    home_reach = t.storage(t.policy(read_roots=[str(t.home)]))
    (t.home / ".sshx").mkdir()
    (t.home / ".sshx" / "ok").write_text("fine")
    assert home_reach.read_text(str(t.home / ".sshx" / "ok")) == "fine"  # .sshx is not .ssh


def test_trailing_and_doubled_slashes(t: Tmp, store: ScopedStorage) -> None:
    home_reach = t.storage(t.policy(read_roots=[str(t.home)]))
    for path in ("~//.ssh/id_rsa", "~/.ssh//id_rsa", "~/.ssh/./id_rsa", "~/.ssh/", "~/.ssh//", "//" + str(t.home / ".ssh/id_rsa")):
        assert refused(home_reach, path).rule == "fs.floor.ssh", path
    policy = t.policy(read_roots=["/"])
    for path in ("//etc/shadow", "///etc//shadow", "/etc/shadow/", "/etc/./shadow"):
        assert policy.judge(path, "read").rule == "fs.floor.shadow", path
    assert store.read_text(str(t.ws) + "//inside.txt") == "inside"


def test_hidden_unicode_and_encoding_tricks_do_not_reach_the_floor(t: Tmp) -> None:
    home_reach = t.storage(t.policy(read_roots=[str(t.home)]))
    # a different name is a different file: these are in reach, but they are not the key
    for path in ("~/.s\u200bsh/id_rsa", "~/.\u0455sh/id_rsa", "~/%2essh/id_rsa", "~/.ssh\u00a0/id_rsa"):
        with pytest.raises(FileNotFoundError):
            home_reach.read_text(path)
    for path in ("~/.SSH/id_rsa", "~/.Ssh/id_rsa"):  # would be the key on a case-insensitive filesystem
        assert refused(home_reach, path).rule == "fs.floor.ssh"
    with pytest.raises(FileNotFoundError):
        t.storage().read_text("..\\outside\\secret.txt")  # a backslash is a name character on POSIX
    with pytest.raises(BoundaryError):
        t.storage().read_text("\udcff/../../outside/secret.txt")


# --- symlinks ------------------------------------------------------------------------------


def test_symlink_to_outside(t: Tmp, store: ScopedStorage) -> None:
    (t.ws / "ln").symlink_to(t.outside / "secret.txt")
    (t.ws / "key").symlink_to(t.home / ".ssh" / "id_rsa")
    err = refused(store, "ln")
    assert err.rule == "fs.symlink_escape"
    assert str(t.outside) not in str(err) and "secret" not in err.reason  # never reveal the target
    assert refused(store, "ln", "write").rule == "fs.symlink_escape"
    assert (t.outside / "secret.txt").read_text() == SECRET
    assert refused(store, "key").rule == "fs.floor.ssh"
    assert t.policy().judge(str(t.ws / "ln"), "read").rule == "fs.symlink_escape"
    assert t.events and all(e.category == "audit.block" for e in t.events)


def test_symlinked_parent_directory(t: Tmp, store: ScopedStorage) -> None:
    (t.ws / "dir").symlink_to(t.outside)
    (t.ws / "sub" / "up").symlink_to("../..")
    assert refused(store, "dir/secret.txt").rule == "fs.symlink_escape"
    assert refused(store, "dir/new.txt", "write").rule == "fs.symlink_escape"
    assert refused(store, "dir/a/b/c.txt", "write").rule == "fs.symlink_escape"
    assert refused(store, "sub/up/outside/secret.txt").rule == "fs.symlink_escape"
    assert sorted(p.name for p in t.outside.iterdir()) == ["secret.txt"]
    with pytest.raises(BoundaryError):
        store.list_dir("dir")
    with pytest.raises(BoundaryError):
        list(store.iter_files("dir"))


def test_symlink_chains_and_loops(t: Tmp, store: ScopedStorage) -> None:
    (t.ws / "c").symlink_to(t.outside / "secret.txt")
    (t.ws / "b").symlink_to("c")
    (t.ws / "a").symlink_to(t.ws / "b")
    assert refused(store, "a").rule == "fs.symlink_escape"
    (t.ws / "loop1").symlink_to("loop2")
    (t.ws / "loop2").symlink_to("loop1")
    (t.ws / "self").symlink_to("self")
    (t.ws / "dirloop").symlink_to("dirloop/x")
    for path in ("loop1", "self", "dirloop", "loop1/x"):
        assert refused(store, path).rule == "fs.symlink_loop", path
        assert refused(store, path, "write").rule == "fs.symlink_loop", path
    # a long but finite chain inside reach is fine up to the kernel's hop limit
    previous = "inside.txt"
    for i in range(30):
        (t.ws / f"hop{i}").symlink_to(previous)
        previous = f"hop{i}"
    assert store.read_text("hop29") == "inside"
    for i in range(30, 45):
        (t.ws / f"hop{i}").symlink_to(f"hop{i - 1}")
    assert refused(store, "hop44").rule == "fs.symlink_loop"


def test_dangling_symlinks(t: Tmp, store: ScopedStorage) -> None:
    (t.ws / "dangle_out").symlink_to(t.outside / "planted.txt")
    (t.ws / "dangle_in").symlink_to(t.ws / "sub" / "created.txt")
    (t.ws / "dangle_key").symlink_to(t.home / ".ssh" / "authorized_keys")
    assert refused(store, "dangle_out", "write").rule == "fs.symlink_escape"
    assert not (t.outside / "planted.txt").exists()
    assert refused(store, "dangle_key", "write").rule == "fs.floor.ssh"
    assert not (t.home / ".ssh" / "authorized_keys").exists()
    store.write_text("dangle_in", "ok")  # judged by its target, which is inside reach
    assert (t.ws / "sub" / "created.txt").read_text() == "ok"
    assert (t.ws / "dangle_in").is_symlink()


def test_no_existence_oracle_outside_reach(t: Tmp, store: ScopedStorage) -> None:
    (t.ws / "l_exists").symlink_to(t.outside / "secret.txt")
    (t.ws / "l_missing").symlink_to(t.outside / "missing" / "deeper.txt")
    a, b = refused(store, "l_exists"), refused(store, "l_missing")
    assert (a.rule, a.reason) == (b.rule, b.reason)
    c, d = refused(store, str(t.outside / "secret.txt")), refused(store, str(t.outside / "nope"))
    assert (c.rule, c.reason) == (d.rule, d.reason)


def _flipper(flip: Path, parked: Path, target: Path, flips: int, done: threading.Event) -> None:
    try:
        for _ in range(flips):
            os.rename(flip, parked)
            os.symlink(target, flip)
            os.unlink(flip)
            os.rename(parked, flip)
    finally:
        done.set()


@pytest.fixture
def fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def test_symlink_swap_race_zero_escapes(t: Tmp, store: ScopedStorage, fast_switching: None) -> None:
    flip = t.ws / "flip"
    flip.mkdir()
    (flip / "secret.txt").write_text("inside")  # same name as the secret outside
    done = threading.Event()
    thread = threading.Thread(target=_flipper, args=(flip, t.ws / "parked", t.outside, 2000, done))
    thread.start()
    escapes: list[str] = []
    outcomes = {"ok": 0, "refused": 0, "missing": 0}
    try:
        while not done.is_set():
            time.sleep(0)  # let the flipper run: the fast openat2 path can otherwise starve it of the GIL
            try:
                text = store.read_text("flip/secret.txt")
            except BoundaryError:
                outcomes["refused"] += 1
                continue
            except OSError:
                outcomes["missing"] += 1
                continue
            outcomes["ok"] += 1
            if text != "inside":
                escapes.append(text)
            try:
                store.write_bytes("flip/planted.txt", b"x", parents=False)
            except (BoundaryError, OSError):
                pass
    finally:
        thread.join()
    assert escapes == []
    assert not (t.outside / "planted.txt").exists()
    assert sum(outcomes.values()) > 0


def test_final_component_swap_race_zero_escapes(t: Tmp, store: ScopedStorage, fast_switching: None) -> None:
    target = t.ws / "victim.txt"
    target.write_text("inside")
    parked = t.ws / "victim.parked"
    done = threading.Event()

    def flipper() -> None:
        try:
            for _ in range(2000):
                os.rename(target, parked)
                os.symlink(t.outside / "secret.txt", target)
                os.unlink(target)
                os.rename(parked, target)
        finally:
            done.set()

    thread = threading.Thread(target=flipper)
    thread.start()
    seen: set[str] = set()
    try:
        while not done.is_set():
            time.sleep(0)  # let the flipper run: the fast openat2 path can otherwise starve it of the GIL
            try:
                seen.add(store.read_text("victim.txt"))
            except (BoundaryError, OSError):
                pass
    finally:
        thread.join()
    assert SECRET not in seen
    assert (t.outside / "secret.txt").read_text() == SECRET


# --- hardlinks, bytes, lengths, /proc --------------------------------------------------------


def test_hardlink_to_floor_file(t: Tmp, store: ScopedStorage) -> None:
    os.link(t.home / ".ssh" / "id_rsa", t.ws / "innocent.txt")
    assert refused(store, "innocent.txt").rule == "fs.hardlink_floor"
    assert refused(store, "innocent.txt", "write").rule == "fs.hardlink_floor"
    assert (t.home / ".ssh" / "id_rsa").read_text() == "PRIVATE KEY"
    os.link(t.ethos / "state.db", t.ws / "state_copy")
    assert refused(store, "state_copy").rule == "fs.hardlink_floor"
    # a floor file created after the storage was built is found on the next multi-link open
    (t.home / ".aws").mkdir()
    (t.home / ".aws" / "credentials").write_text("aws")
    os.link(t.home / ".aws" / "credentials", t.ws / "creds")
    assert refused(store, "creds").rule == "fs.hardlink_floor"
    assert [name for name, _ in store.iter_files(".")] == ["inside.txt"]


def test_nul_bytes(t: Tmp, store: ScopedStorage) -> None:
    for path in ("inside.txt\x00.png", "\x00", "/etc/shadow\x00", "sub\x00/../inside.txt"):
        err = refused(store, path)
        assert err.rule == "fs.nul_byte"
        assert "\x00" not in str(err)
        assert t.policy().judge(path, "write").rule == "fs.nul_byte"


def test_over_long_paths(t: Tmp, store: ScopedStorage) -> None:
    assert refused(store, "a" * 5000).rule == "fs.too_long"
    assert refused(store, "b" * 256).rule == "fs.too_long"
    assert refused(store, "\u00e9" * 2048).rule == "fs.too_long"  # 2048 characters, 4096 bytes
    assert refused(store, "sub/" + "/".join(["x" * 200] * 21)).rule == "fs.too_long"
    with pytest.raises(FileNotFoundError):
        store.read_text("c" * 255)  # at the limit: a legal name that simply does not exist
    store.write_text("d" * 255, "edge")
    assert store.read_text("d" * 255) == "edge"


def test_proc_self_root_and_cwd_tricks(t: Tmp) -> None:
    policy = t.policy(read_roots=["/"])
    for path in (
        "/proc/self/root/etc/passwd",
        "/proc/self/root" + str(t.outside / "secret.txt"),
        "/proc/self/cwd/x",
        "/proc/thread-self/root/etc",
        f"/proc/{os.getpid()}/root",
        f"/proc/{os.getpid()}/task/{os.getpid()}/cwd",
        "/proc/self/fd/0",
        "/proc/self/environ",
        "/dev/fd/0",
        "/dev/stdin",
    ):
        decision = policy.judge(path, "read")
        assert decision.denied, path
        assert decision.rule.startswith("fs.floor.proc"), (path, decision.rule)
    (t.ws / "pr").symlink_to("/proc/self/root")
    (t.ws / "pc").symlink_to("/proc/self/cwd")
    store = t.storage()
    for path in ("pr" + str(t.outside / "secret.txt"), "pr/etc/hostname", "pc/inside.txt"):
        with pytest.raises(BoundaryError):
            store.read_text(path)


def test_writes_to_own_config_and_toolset(t: Tmp) -> None:
    wide = t.policy(read_roots=[str(t.ethos)], write_roots=[str(t.ws), str(t.ethos)])
    store = t.storage(wide)
    for name in ("config.yaml", "toolset.yaml", "prompt.md"):
        assert refused(store, str(t.pdir / name), "write").rule == "fs.protected"
    assert refused(store, str(t.ethos / "config.yaml"), "write").rule == "fs.protected"
    assert refused(store, str(t.pdir / "data" / ".." / "toolset.yaml"), "write").rule == "fs.protected"
    (t.ws / "cfg").symlink_to(t.pdir / "config.yaml")
    (t.ws / "pd").symlink_to(t.pdir)
    assert refused(store, "cfg", "write").rule == "fs.protected"
    assert refused(store, "pd/toolset.yaml", "write").rule == "fs.protected"
    with pytest.raises(BoundaryError):
        store.delete(str(t.pdir / "toolset.yaml"))
    # a hardlink of the config in the workspace: the write replaces the link, never the config
    os.link(t.pdir / "config.yaml", t.ws / "config_link.yaml")
    narrow = t.storage()
    narrow.write_text("config_link.yaml", "fs_reach: {read: ['/']}\n")
    assert (t.pdir / "config.yaml").read_text() == "name: p\n"
    assert (t.pdir / "toolset.yaml").read_text() == "- read_file\n"
    store.write_text(str(t.pdir / "data" / "memory.md"), "ok")  # the data directory stays writable


def test_rollback_conflicts(t: Tmp) -> None:
    from ethos_core.cli.main import cli

    store = t.storage(personality="p", session="s", turn=1)
    store.write_text("inside.txt", "agent edit")
    store.write_text("sub/new.txt", "agent file")
    (t.ws / "inside.txt").write_text("human edit")  # a human changed it since
    runner = CliRunner()
    result = runner.invoke(cli, ["--home", str(t.ethos), "rollback", "--last"])
    assert result.exit_code == 1
    assert str(t.ws / "inside.txt") in result.output
    assert (t.ws / "inside.txt").read_text() == "human edit"  # nothing restored on conflict
    assert (t.ws / "sub" / "new.txt").exists()
    # swapped for a symlink since: a conflict, and rollback never writes through it
    (t.ws / "inside.txt").unlink()
    (t.ws / "inside.txt").symlink_to(t.outside / "secret.txt")
    result = runner.invoke(cli, ["--home", str(t.ethos), "rollback", "--last", "--json"])
    assert result.exit_code == 1 and '"conflicts"' in result.output
    assert (t.outside / "secret.txt").read_text() == SECRET


def test_verdict_never_allow_for_floor_via_any_root(t: Tmp) -> None:
    roots = ["/", str(t.home), str(t.home / ".ssh"), "~", "~/.ssh"]
    policy = t.policy(read_roots=roots, write_roots=roots)
    for op in ("read", "write"):
        assert policy.judge("~/.ssh/id_rsa", op).verdict is Verdict.DENY
