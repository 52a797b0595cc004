"""ScopedStorage: the only way the agent's tools and skills touch files (stage ⑨ at open time).

Invariant: every operation is judged twice, and the second judgment is of the object actually
reached. First the requested path (``judge``: the full pipeline in the engine, the policy's
lexical judgment otherwise); then the path is walked one component at a time from ``/`` with
directory file descriptors and ``O_NOFOLLOW`` (``os.open(name, dir_fd=…)``). A symlink met on
the way is read and followed *in user space*, so the walk knows exactly which directories it
traversed; that resolved path is judged against reach, floor and protected files before any
byte is read, any file is created or truncated, or any directory is made. A symlink swapped in
after the judgment cannot redirect the operation: the descriptors already held are what the
operation uses. Files are created with ``O_EXCL|O_NOFOLLOW``; writes are atomic replaces (a
temporary file in the verified directory, then ``rename`` relative to that directory's
descriptor), so no write ever modifies an existing inode in place. A file whose (device,
inode) is that of a floor file (a hardlink) is refused. Only regular files are read or
written (no FIFOs or devices). Every refusal raises :class:`~ethos_core.errors.BoundaryError`
naming the *requested* path (never a resolved target) and emits an ``audit.block`` event.

Fast path (Linux ≥ 5.6): ``openat2`` with ``RESOLVE_NO_SYMLINKS`` opens a path containing no
symlink in one system call, the kernel refusing any symlink anywhere in it; when it reports a
symlink the descriptor walk runs instead. Both paths give the same answers.

What it does not cover: bind mounts and mount namespaces, a process outside ethos that renames
a directory *within* reach to elsewhere while a walk holds it, files opened by code that does
not use ScopedStorage (the shell tool is judged by the shell stages), and durability: writes
are not fsync'ed.
"""

from __future__ import annotations

import errno
import fnmatch
import io
import os
import secrets as _secrets
import stat
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import attrs

from ethos_core.errors import BoundaryError
from ethos_core.fs.floor import floor_literal_paths
from ethos_core.fs.openat2 import OPENAT2
from ethos_core.fs.paths import (
    MAX_SYMLINK_HOPS,
    FsPolicy,
    Parts,
    PathRefused,
    deny,
    join_abs,
    resolve_parts,
    split_abs,
)
from ethos_core.stages import Stage
from ethos_core.types import AuditEvent, Decision, PathAccess
from ethos_core.verdicts import Verdict

_O_PATH = getattr(os, "O_PATH", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIR_FLAGS = (_O_PATH or os.O_RDONLY) | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK
_LISTDIR_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC

MAX_RETRIES = 3  # a walk that keeps meeting swapped symlinks gives up with fs.race
DEFAULT_MAX_READ = 64 * 1024 * 1024

Judge = Callable[[PathAccess], Decision]
Emit = Callable[[AuditEvent], None]
OnApprove = Callable[[Decision], bool]


# --- hardlink defense ----------------------------------------------------------------------


class FloorIdentities:
    """(device, inode) of every existing floor file, to refuse hardlinks to them.

    Built from :func:`~ethos_core.fs.floor.floor_literal_paths` (directories walked, bounded).
    A file with more than one link whose identity is unknown triggers a rescan (at most once per
    ``min_refresh`` seconds), so floor files created after startup are found too.
    """

    def __init__(
        self,
        home: str | None = None,
        ethos_home: str | None = None,
        *,
        max_entries: int = 5000,
        min_refresh: float = 1.0,
        system: bool = True,
    ) -> None:
        self.home = home
        self.ethos_home = ethos_home
        self.max_entries = max_entries  # per floor entry, so one huge directory cannot starve the rest
        self.min_refresh = min_refresh
        self.system = system  # False leaves out /etc, /root, /boot (tests; the user and ethos homes stay)
        self._lock = threading.Lock()
        self._ids: frozenset[tuple[int, int]] = frozenset()
        self._scanned_at = -1e18
        self.refresh()

    def refresh(self) -> None:
        ids: set[tuple[int, int]] = set()
        for path in floor_literal_paths(self.home, self.ethos_home, system=self.system):
            self._scan(path, ids, [self.max_entries], depth=0)
        with self._lock:
            self._ids = frozenset(ids)
            self._scanned_at = time.monotonic()

    def _scan(self, path: str, ids: set[tuple[int, int]], budget: list[int], depth: int) -> None:
        if budget[0] <= 0:
            return
        budget[0] -= 1
        try:
            st = os.stat(path)
        except OSError:
            return
        if stat.S_ISREG(st.st_mode):
            ids.add((st.st_dev, st.st_ino))
        elif stat.S_ISDIR(st.st_mode) and depth < 6:
            try:
                names = os.listdir(path)
            except OSError:
                return
            for name in names:
                self._scan(os.path.join(path, name), ids, budget, depth + 1)

    def is_floor(self, st: os.stat_result) -> bool:
        if not stat.S_ISREG(st.st_mode):
            return False
        ident = (st.st_dev, st.st_ino)
        if ident in self._ids:
            return True
        if st.st_nlink > 1 and time.monotonic() - self._scanned_at >= self.min_refresh:
            self.refresh()
            return ident in self._ids
        return False


# --- the descriptor walk -------------------------------------------------------------------


class _WalkError(Exception):
    """An OS error during the walk, with the path the walk was heading for (to judge first)."""

    def __init__(self, error: OSError, prospective: Parts):
        super().__init__(str(error))
        self.error = error
        self.prospective = prospective


class Walk:
    """Directory descriptors from ``/`` to the parent of the final component (owned; close())."""

    def __init__(self) -> None:
        self.fds: list[int] = [os.open("/", _DIR_FLAGS)]
        self.names: list[str] = []
        self.name = "."  # final component ("." = the directory at the top of the stack)
        self.st: os.stat_result | None = None  # lstat of the final component, None if missing

    @property
    def parent(self) -> int:
        return self.fds[-1]

    @property
    def parts(self) -> Parts:
        return tuple(self.names) if self.name == "." else (*self.names, self.name)

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []

    def __enter__(self) -> Walk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def walk_path(
    parts: Parts,
    *,
    follow_final: bool = True,
    mkdir_ok: Callable[[Parts], bool] | None = None,
    visit: Callable[[Parts], None] | None = None,
) -> Walk:
    """Walk normalised absolute ``parts`` with ``O_NOFOLLOW`` directory descriptors.

    Symlinks are followed in user space (at most :data:`MAX_SYMLINK_HOPS`); ``follow_final``
    says whether a symlink as the last component is followed too. ``mkdir_ok(parts)`` decides
    whether a missing intermediate directory may be created; ``visit(link_parts)`` sees every
    symlink before it is followed and may raise :class:`PathRefused`. Raises :class:`PathRefused` on a
    loop and :class:`_WalkError` on an OS error.
    """
    walk = Walk()
    pending = list(reversed(parts))
    hops = 0
    try:
        while pending:
            name = pending.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if len(walk.fds) > 1:
                    os.close(walk.fds.pop())
                    walk.names.pop()
                continue
            final = not any(p not in ("", ".") for p in pending)
            if final:
                try:
                    st: os.stat_result | None = os.stat(name, dir_fd=walk.parent, follow_symlinks=False)
                except FileNotFoundError:
                    st = None
                except OSError as exc:
                    raise _WalkError(exc, (*walk.names, name)) from None
                if st is not None and stat.S_ISLNK(st.st_mode) and follow_final:
                    hops = _follow(walk, name, pending, hops, visit)
                    continue
                walk.name, walk.st = name, st
                return walk
            opened: int | None
            try:
                opened = os.open(name, _DIR_FLAGS, dir_fd=walk.parent)
            except OSError as exc:
                opened = _recover(walk, name, pending, exc, mkdir_ok)
                if opened is None:
                    hops = _follow(walk, name, pending, hops, visit)
                    continue
            walk.fds.append(opened)
            walk.names.append(name)
        # the path ends in a directory reached by ".." or a symlink to a directory: that is the final
        walk.name = "."
        walk.st = os.stat(".", dir_fd=walk.parent)
        return walk
    except BaseException:
        walk.close()
        raise


def _prospective(walk: Walk, name: str, pending: list[str]) -> Parts:
    out = [*walk.names, name]
    for part in reversed(pending):
        if part == "..":
            if out:
                out.pop()
        elif part not in ("", "."):
            out.append(part)
    return tuple(out)


def _recover(
    walk: Walk, name: str, pending: list[str], exc: OSError, mkdir_ok: Callable[[Parts], bool] | None
) -> int | None:
    """After a failed directory open: None = it is a symlink (follow it), else a new descriptor."""
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        try:
            st = os.stat(name, dir_fd=walk.parent, follow_symlinks=False)
        except OSError as exc2:
            raise _WalkError(exc2, _prospective(walk, name, pending)) from None
        if stat.S_ISLNK(st.st_mode):
            return None
    if exc.errno == errno.ENOENT and mkdir_ok is not None and mkdir_ok((*walk.names, name)):
        try:
            os.mkdir(name, 0o777, dir_fd=walk.parent)
        except FileExistsError:
            pass
        except OSError as exc2:
            raise _WalkError(exc2, _prospective(walk, name, pending)) from None
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=walk.parent)
        except OSError as exc2:
            raise _WalkError(exc2, _prospective(walk, name, pending)) from None
    raise _WalkError(exc, _prospective(walk, name, pending))


def _follow(walk: Walk, name: str, pending: list[str], hops: int, visit: Callable[[Parts], None] | None) -> int:
    if visit is not None:
        visit((*walk.names, name))
    hops += 1
    if hops > MAX_SYMLINK_HOPS:
        raise PathRefused(deny("fs.symlink_loop", "the path has a symlink loop (or too many symlinks)"))
    try:
        target = os.readlink(name, dir_fd=walk.parent)
    except OSError as exc:
        raise _WalkError(exc, (*walk.names, name)) from None
    if target.startswith("/"):
        while len(walk.fds) > 1:
            os.close(walk.fds.pop())
        walk.names.clear()
    pending.extend(reversed(target.split("/")))
    return hops


# --- results -------------------------------------------------------------------------------


@attrs.frozen
class DirEntry:
    """One listing entry: ``kind`` is ``file``, ``dir``, ``symlink`` or ``other``."""

    name: str
    kind: str
    size: int


@attrs.define
class _Grant:
    """An authorised request: its normalised parts and whether an env-file approval was given."""

    path: str
    parts: Parts
    approved_rules: set[str] = attrs.field(factory=set)


class _AtomicWriter(io.BytesIO):
    """Buffer returned by ``open(path, "w"/"a"/"x")``: committed atomically on close."""

    def __init__(self, commit: Callable[[bytes], None]):
        super().__init__()
        self._commit = commit
        self._done = False

    def close(self) -> None:
        if not self._done and not self.closed:
            self._done = True
            data = self.getvalue()
            super().close()
            self._commit(data)
            return
        super().close()


# --- ScopedStorage -------------------------------------------------------------------------


class ScopedStorage:
    """Scoped, race-free file operations for one personality's agent.

    Construct with the personality's :class:`FsPolicy` and, in the engine:
    ``judge`` (a callable running the full stage-⑨ pipeline on a :class:`PathAccess`; default:
    the policy's own lexical judgment, the resolved target is always judged here),
    ``on_approve`` (asked with an APPROVE decision, e.g. ``fs.env_file``; return True to go on;
    default: refuse), ``emit`` (audit sink for refusals; ``runtime.emit``), ``checkpoints`` (a
    :class:`~ethos_core.fs.checkpoints.CheckpointStore`; before-states of every modified or
    deleted file), ``identities`` (shared :class:`FloorIdentities`). ``session``/``turn``/
    ``personality`` label audit events and checkpoints; the engine updates ``turn`` each turn.
    """

    def __init__(
        self,
        policy: FsPolicy,
        *,
        judge: Judge | None = None,
        on_approve: OnApprove | None = None,
        emit: Emit | None = None,
        checkpoints: Any = None,
        identities: FloorIdentities | None = None,
        personality: str | None = None,
        session: str = "cli",
        turn: int = 0,
        tool: str | None = None,
        max_read_bytes: int = DEFAULT_MAX_READ,
        use_openat2: bool = True,
    ) -> None:
        self.policy = policy
        self.judge = judge
        self.on_approve = on_approve
        self.emit = emit
        self.checkpoints = checkpoints
        self.identities = identities if identities is not None else FloorIdentities(policy.home, policy.ethos_home)
        self.personality = personality
        self.session = session
        self.turn = turn
        self.tool = tool
        self.max_read_bytes = max_read_bytes
        self.use_openat2 = use_openat2
        self._written: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def for_personality(
        cls,
        runtime: Any,
        personality: Any,
        *,
        session: str = "cli",
        turn: int = 0,
        judge: Judge | None = None,
        on_approve: OnApprove | None = None,
        base: str | None = None,
    ) -> ScopedStorage:
        """The storage the engine hands a session: policy from ``personality``, services from ``runtime``."""
        from ethos_core.fs import fs_services

        policy = policy_for(runtime, personality, base=base)
        services = fs_services(runtime)
        return cls(
            policy,
            judge=judge,
            on_approve=on_approve,
            emit=runtime.emit,
            checkpoints=services.checkpoints,
            identities=services.identities,
            personality=personality.id,
            session=session,
            turn=turn,
        )

    def with_tool(self, tool: str | None) -> ScopedStorage:
        """A view of this storage that labels its audit events with ``tool`` (shares state)."""
        view = object.__new__(ScopedStorage)
        view.__dict__.update(self.__dict__)
        view.tool = tool
        return view

    # --- reading ----------------------------------------------------------------------------

    def open(self, path: str, mode: str = "r", *, encoding: str = "utf-8", errors: str = "strict") -> IO[Any]:
        """``r``/``rb`` return a file object on the verified descriptor; ``w``/``a``/``x`` (+ ``b``)
        return a buffer that is judged and committed atomically on ``close()``."""
        kind = mode.replace("b", "").replace("t", "")
        binary = "b" in mode
        if kind == "r":
            fd = self._open_read(path)
            f = os.fdopen(fd, "rb")
            return f if binary else io.TextIOWrapper(f, encoding=encoding, errors=errors)
        if kind in ("w", "a", "x"):
            self._authorize(path, "write")  # fail early; judged again on commit

            def commit(data: bytes) -> None:
                if kind == "a":
                    self.append_bytes(path, data)
                else:
                    self.write_bytes(path, data, exclusive=kind == "x")

            writer = _AtomicWriter(commit)
            if binary:
                return writer
            return io.TextIOWrapper(writer, encoding=encoding, errors=errors, write_through=True)
        raise ValueError(f"unsupported mode {mode!r}: use r, w, a or x (optionally with b)")

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        """Content of the regular file at ``path`` (at most ``limit`` or ``max_read_bytes`` bytes)."""
        fd, st = self._open_read_stat(path)
        try:
            return _read_fd(fd, limit if limit is not None else self.max_read_bytes, st.st_size)
        finally:
            os.close(fd)

    def read_text(self, path: str, *, encoding: str = "utf-8", errors: str = "replace", limit: int | None = None) -> str:
        return self.read_bytes(path, limit).decode(encoding, errors)

    def stat(self, path: str) -> os.stat_result:
        """``lstat`` semantics for the final object after following symlinks in the path."""
        grant = self._authorize(path, "read")
        with self._walk(grant, "read", follow_final=True) as walk:
            if walk.st is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
            return walk.st

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except FileNotFoundError:
            return False
        return True

    def list_dir(self, path: str) -> list[DirEntry]:
        """Entries of a directory (floor entries are left out), sorted by name."""
        grant = self._authorize(path, "read")
        with self._walk(grant, "read", follow_final=True) as walk:
            if walk.st is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
            try:
                fd = os.open(walk.name, _LISTDIR_FLAGS, dir_fd=walk.parent)
            except NotADirectoryError:
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path) from None
            base = walk.parts
        try:
            entries = []
            for name in sorted(os.listdir(fd)):
                if self.policy.floor_rule((*base, name)) is not None:
                    continue
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except OSError:
                    continue
                entries.append(DirEntry(name, _kind(st.st_mode), st.st_size))
            return entries
        finally:
            os.close(fd)

    def iter_files(
        self, path: str, pattern: str = "*", *, max_files: int = 10000, max_bytes: int = 1024 * 1024
    ) -> Iterator[tuple[str, bytes]]:
        """(relative path, first ``max_bytes`` bytes) of regular files under ``path`` whose name
        matches the glob ``pattern``. Symlinks are not followed; floor entries and ``.env``
        files are skipped (a search never asks for approval)."""
        grant = self._authorize(path, "read")
        with self._walk(grant, "read", follow_final=True) as walk:
            if walk.st is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
            top_fd = os.open(walk.name, _LISTDIR_FLAGS, dir_fd=walk.parent)
            base = walk.parts
        seen = 0
        try:
            for dirpath, dirnames, filenames, dirfd in os.fwalk(".", dir_fd=top_fd, follow_symlinks=False):
                rel = () if dirpath == "." else tuple(dirpath[2:].split("/"))
                dirnames[:] = sorted(d for d in dirnames if self.policy.floor_rule((*base, *rel, d)) is None)
                for name in sorted(filenames):
                    if seen >= max_files:
                        return
                    parts = (*base, *rel, name)
                    if not self.policy.judge_parts(parts, "read").allowed:
                        continue
                    if not fnmatch.fnmatchcase(name, pattern):
                        continue
                    data = self._read_at(dirfd, name, max_bytes)
                    if data is None:
                        continue
                    seen += 1
                    yield "/".join((*rel, name)), data
        finally:
            os.close(top_fd)

    def agent_wrote(self, path: str) -> bool:
        """True when this storage wrote ``path`` (its content is the agent's own, not outside input)."""
        if not self._written:
            return False  # nothing written yet: no need to resolve the path to know
        try:
            parts = split_abs(self.policy.normalize(path, "read"))
            return join_abs(resolve_parts(parts, self.policy.check_link)) in self._written
        except PathRefused:
            return False

    # --- writing ----------------------------------------------------------------------------

    def write_bytes(self, path: str, data: bytes, *, exclusive: bool = False, parents: bool = True) -> int:
        """Replace (or create) ``path`` with ``data`` atomically; ``exclusive`` fails if it exists."""
        self._modify(path, lambda before: data, exclusive=exclusive, parents=parents)
        return len(data)

    def write_text(self, path: str, text: str, *, encoding: str = "utf-8", parents: bool = True) -> int:
        return self.write_bytes(path, text.encode(encoding), parents=parents)

    def append_bytes(self, path: str, data: bytes) -> int:
        self._modify(path, lambda before: (before or b"") + data, exclusive=False, parents=True)
        return len(data)

    def edit_bytes(self, path: str, change: Callable[[bytes], bytes]) -> bytes:
        """Read-modify-write under one walk: ``change(old) -> new``; the file must exist."""
        result: list[bytes] = []

        def apply(before: bytes | None) -> bytes:
            if before is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
            result.append(change(before))
            return result[0]

        self._modify(path, apply, exclusive=False, parents=False)
        return result[0]

    def delete(self, path: str) -> None:
        """Remove a file or symlink (the link itself, never its target); its before-state is kept."""
        grant = self._authorize(path, "write")
        with self._walk(grant, "write", follow_final=False) as walk:
            if walk.st is None or walk.name == ".":
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
            if stat.S_ISDIR(walk.st.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            target = join_abs(walk.parts)
            if stat.S_ISREG(walk.st.st_mode):
                before, mode = self._read_before(walk, grant)
                self._checkpoint_before(target, before, mode)
            os.unlink(walk.name, dir_fd=walk.parent)
            self._checkpoint_after(target, None)
            self._written.discard(target)

    # --- internals --------------------------------------------------------------------------

    def _modify(
        self, path: str, produce: Callable[[bytes | None], bytes], *, exclusive: bool, parents: bool
    ) -> None:
        grant = self._authorize(path, "write")
        for _attempt in range(MAX_RETRIES):
            with self._walk(grant, "write", follow_final=True, parents=parents) as walk:
                if walk.name == ".":
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
                target = join_abs(walk.parts)
                before: bytes | None = None
                mode: int | None = None
                if walk.st is not None:
                    if exclusive:
                        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
                    if stat.S_ISDIR(walk.st.st_mode):
                        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
                    try:
                        before, mode = self._read_before(walk, grant)
                    except _Swapped:
                        continue
                data = produce(before)
                self._checkpoint_before(target, before, mode)
                try:
                    self._replace(walk, data, mode, expect_new=walk.st is None)
                except _Swapped:
                    continue
                self._checkpoint_after(target, data)
                self._written.add(target)
                return
        raise self._refuse("write", path, deny("fs.race", "the path kept changing while it was opened; try again"))

    def _replace(self, walk: Walk, data: bytes, mode: int | None, *, expect_new: bool) -> None:
        name = walk.name
        if expect_new:
            # Nothing was there: create it in place, exclusively, never through a symlink.
            try:
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o666, dir_fd=walk.parent)
            except FileExistsError:
                raise _Swapped() from None
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            return
        stem = name[:200]
        tmp = f".{stem}.ethos-{_secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o600, dir_fd=walk.parent)
        try:
            try:
                _write_all(fd, data)
                os.fchmod(fd, mode if mode is not None else 0o644)
            finally:
                os.close(fd)
            os.replace(tmp, name, src_dir_fd=walk.parent, dst_dir_fd=walk.parent)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=walk.parent)
            except OSError:
                pass
            raise

    def _read_before(self, walk: Walk, grant: _Grant) -> tuple[bytes, int]:
        try:
            fd = os.open(walk.name, _READ_FLAGS, dir_fd=walk.parent)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _Swapped() from None
            raise
        try:
            st = os.fstat(fd)
            self._check_object(st, "write", grant.path)
            return _read_fd(fd, None), stat.S_IMODE(st.st_mode)
        finally:
            os.close(fd)

    def _open_read(self, path: str) -> int:
        return self._open_read_stat(path)[0]

    def _open_read_stat(self, path: str) -> tuple[int, os.stat_result]:
        grant = self._authorize(path, "read")
        if self.use_openat2 and OPENAT2.available:
            try:
                fd = OPENAT2.open(join_abs(grant.parts), _READ_FLAGS)
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, path) from None
            if fd is not None:
                return self._verified(fd, grant)
        for _attempt in range(MAX_RETRIES):
            with self._walk(grant, "read", follow_final=True) as walk:
                if walk.st is None:
                    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
                try:
                    fd = os.open(walk.name, _READ_FLAGS, dir_fd=walk.parent)
                except OSError as exc:
                    if exc.errno == errno.ELOOP:
                        continue  # swapped to a symlink since the walk: walk again
                    raise OSError(exc.errno, exc.strerror, path) from None
            return self._verified(fd, grant)
        raise self._refuse("read", path, deny("fs.race", "the path kept changing while it was opened; try again"))

    def _verified(self, fd: int, grant: _Grant) -> tuple[int, os.stat_result]:
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), grant.path)
            self._check_object(st, "read", grant.path)
        except BaseException:
            os.close(fd)
            raise
        return fd, st

    def _check_object(self, st: os.stat_result, kind: str, path: str) -> None:
        if not stat.S_ISREG(st.st_mode):
            raise self._refuse(kind, path, deny("fs.not_regular", "only regular files can be opened (no devices, FIFOs or sockets)"))
        if self.identities.is_floor(st):
            raise self._refuse(kind, path, deny("fs.hardlink_floor", "the file is a hardlink to a file on the always-deny floor"))

    def _read_at(self, dirfd: int, name: str, limit: int) -> bytes | None:
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=dirfd)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or self.identities.is_floor(st):
                return None
            return _read_fd(fd, limit)
        finally:
            os.close(fd)

    def _authorize(self, path: str, op: str) -> _Grant:
        """Judge the requested path (pipeline + own lexical judgment); approvals via on_approve."""
        try:
            norm = self.policy.normalize(path, op)
        except PathRefused as refused:
            raise self._refuse(op, _shown(path), refused.decision) from None
        parts = split_abs(norm)
        decision = self.policy.judge_parts(parts, op)
        if self.judge is not None and not decision.denied:
            try:
                other = self.judge(PathAccess(path, op, self.tool))
            except Exception as exc:  # noqa: BLE001 - a failing judge fails closed
                other = deny("fs.judge_error", f"the boundary check failed ({type(exc).__name__})")
            if other.verdict > decision.verdict:
                decision = other
        grant = _Grant(path, parts)
        self._settle(decision, op, grant)
        return grant

    def _settle(self, decision: Decision, op: str, grant: _Grant) -> None:
        if decision.verdict is Verdict.ALLOW:
            return
        if decision.verdict is Verdict.APPROVE:
            if decision.rule in grant.approved_rules:
                return
            approved = False
            if self.on_approve is not None:
                try:
                    approved = bool(self.on_approve(decision))
                except Exception:  # noqa: BLE001 - an approver failure is a refusal
                    approved = False
            if approved:
                grant.approved_rules.add(decision.rule)
                return
            refused = Decision.deny(decision.stage, decision.rule, f"{decision.reason} (not approved)")
            raise self._refuse(op, grant.path, refused)
        raise self._refuse(op, grant.path, decision)

    def _walk(self, grant: _Grant, op: str, *, follow_final: bool, parents: bool = False) -> Walk:
        mkdir_ok = None
        if parents and op == "write":
            def mkdir_ok(parts: Parts) -> bool:
                return self.policy.judge_resolved(parts, "write").allowed

        try:
            walk = walk_path(grant.parts, follow_final=follow_final, mkdir_ok=mkdir_ok, visit=self.policy.check_link)
        except PathRefused as refused:
            raise self._refuse(op, grant.path, refused.decision) from None
        except _WalkError as failed:
            # judge where the walk was heading before saying anything about existence
            if failed.prospective != grant.parts:
                verdict = self.policy.judge_resolved(failed.prospective, op)
                if verdict.denied:
                    raise self._refuse(op, grant.path, verdict) from None
            raise OSError(failed.error.errno, failed.error.strerror, grant.path) from None
        if walk.parts != grant.parts:
            try:
                self._settle(self.policy.judge_resolved(walk.parts, op), op, grant)
            except BaseException:
                walk.close()
                raise
        return walk

    def _refuse(self, kind: str, path: str, decision: Decision) -> BoundaryError:
        if self.emit is not None:
            try:
                self.emit(
                    AuditEvent(
                        category="audit.block",
                        code=decision.rule,
                        severity="warning",
                        personality=self.personality,
                        session=self.session,
                        turn=self.turn,
                        stage=Stage.FS_BOUNDARY.value,
                        rule=decision.rule,
                        verdict="deny",
                        source="scoped_storage",
                        data={"op": kind, "path": path, "tool": self.tool, "reason": decision.reason},
                    )
                )
            except Exception:  # noqa: BLE001 - the refusal stands even if audit fails
                pass
        return BoundaryError(kind, path, decision.rule, decision.reason)

    def _checkpoint_before(self, target: str, before: bytes | None, mode: int | None) -> None:
        if self.checkpoints is not None:
            self.checkpoints.record_before(self._key(), target, before, mode)

    def _checkpoint_after(self, target: str, after: bytes | None) -> None:
        if self.checkpoints is not None:
            self.checkpoints.record_after(self._key(), target, after)

    def _key(self) -> Any:
        from ethos_core.fs.checkpoints import ChangeKey

        return ChangeKey(self.personality or "", self.session, self.turn)


class _Swapped(Exception):
    """The final component changed between the walk and the open; walk again."""


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _shown(path: object) -> str:
    """The requested path as it may appear in an error (NULs made visible, length bounded)."""
    text = path if isinstance(path, str) else repr(path)
    text = text.replace("\x00", "\\x00")
    return text if len(text) <= 300 else text[:300] + "…"


def _read_fd(fd: int, limit: int | None, size_hint: int = -1) -> bytes:
    if 0 <= size_hint < (1 << 20) and (limit is None or size_hint < limit):
        # a regular file of known size: one read of size+1 bytes; a short read is the end
        first = os.read(fd, size_hint + 1)
        if len(first) <= size_hint:
            return first
        rest = _read_fd(fd, None if limit is None else limit - len(first))
        return first + rest
    chunks = []
    remaining = limit if limit is not None else -1
    while remaining != 0:
        size = 1 << 16 if remaining < 0 else min(1 << 16, remaining)
        try:
            chunk = os.read(fd, size)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        if remaining > 0:
            remaining -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


_POLICY_CACHE: dict[tuple[Any, ...], FsPolicy] = {}
# (id(runtime), id(personality), base, id(reach)) → the objects themselves (kept alive, so the
# ids cannot be reused while the entry exists), $HOME, runtime.home and the policy.
_HOT_POLICIES: dict[tuple[Any, ...], tuple[Any, Any, Any, str | None, Any, FsPolicy]] = {}


def policy_for(runtime: Any, personality: Any, *, base: str | None = None, reach: Any = None) -> FsPolicy:
    """The :class:`FsPolicy` of ``personality`` (types.Personality) inside ``runtime``'s home.

    Policies are immutable and built from immutable inputs, so they are cached per
    (home, personality, base, reach, user home) — judging a path does not rebuild them."""
    user_home = os.environ.get("HOME")
    hot = _HOT_POLICIES.get((id(runtime), id(personality), base, id(reach)))
    # The hot path: the same runtime and personality objects as last time (identity, not a deep
    # hash of the personality), the same user home and ethos home.
    if (
        hot is not None
        and hot[0] is runtime
        and hot[1] is personality
        and hot[2] is reach
        and hot[3] == user_home
        and hot[4] is runtime.home
    ):
        return hot[5]
    key = (str(runtime.home.root), personality, base, reach, os.path.expanduser("~"))
    try:
        cached = _POLICY_CACHE.get(key)
    except TypeError:  # an unhashable stand-in personality: build every time
        return _build_policy(runtime, personality, base=base, reach=reach)
    if cached is None:
        if len(_POLICY_CACHE) > 256:
            _POLICY_CACHE.clear()
        cached = _POLICY_CACHE[key] = _build_policy(runtime, personality, base=base, reach=reach)
    if len(_HOT_POLICIES) > 256:
        _HOT_POLICIES.clear()
    _HOT_POLICIES[(id(runtime), id(personality), base, id(reach))] = (
        runtime, personality, reach, user_home, runtime.home, cached)
    return cached


def _build_policy(runtime: Any, personality: Any, *, base: str | None = None, reach: Any = None) -> FsPolicy:
    home_paths = runtime.home
    pdir = personality.directory or str(home_paths.personality_dir(personality.id))
    reach = reach if reach is not None else personality.fs_reach
    return FsPolicy(
        read_roots=reach.read,
        write_roots=reach.write,
        declared=reach.declared,
        personality_dir=pdir,
        home=os.path.expanduser("~"),
        ethos_home=str(home_paths.root),
        protected=[str(p) for p in home_paths.protected_files()],
        env_files=personality.safety.env_files,
        base=base,
    )
