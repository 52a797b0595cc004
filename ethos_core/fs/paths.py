"""Path judgment for the filesystem boundary (stage ⑨): pure, cheap, no file is opened.

Invariant: :meth:`FsPolicy.judge` returns ALLOW only for a path that (1) is well formed (no
NUL byte, not over-long, no ``~user``), (2) lies, after lexical normalisation, inside the
personality's reach for the operation (``write`` implies read; no declared ``fs_reach`` means
only ``<personality dir>/data``), (3) is on no always-deny floor entry, (4) is not a protected
file when written (ETHOS_HOME outside ``personalities/*/data``, the personality's own config,
toolset and prompt files, the explicit ``protected`` list), and (5) still satisfies (2)–(4)
after every symlink in it has been resolved. Out-of-reach paths are refused on the lexical
judgment alone, so the answer leaks nothing about what exists outside reach. ``.env`` files
inside reach answer APPROVE (``fs.env_file``) or DENY when the policy says so.

What it does not cover: the time between this judgment and an open. A symlink swapped in after
the judgment is the job of :class:`ethos_core.fs.scoped.ScopedStorage`, which walks the path
with directory file descriptors and judges what it actually traversed, and which also checks
hardlinks by (device, inode). ``..`` is resolved lexically before symlinks are followed (the
same path is judged and opened, so the two can never disagree).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence

from ethos_core.fs.floor import floor_matcher, is_env_file
from ethos_core.fs.openat2 import OPENAT2
from ethos_core.stages import Stage
from ethos_core.types import Decision

PATH_MAX_BYTES = 4095  # Linux PATH_MAX (4096) minus the terminating NUL
NAME_MAX_BYTES = 255
MAX_SYMLINK_HOPS = 40  # the kernel's own limit (MAXSYMLINKS)

OPS = ("read", "write")
STAGE = Stage.FS_BOUNDARY

Parts = tuple[str, ...]


class PathRefused(Exception):
    """Internal: a path failed a check before reach was even considered (carries the decision)."""

    def __init__(self, decision: Decision):
        super().__init__(decision.reason)
        self.decision = decision


def deny(rule: str, reason: str, **evidence: object) -> Decision:
    return Decision.deny(STAGE, rule, reason, evidence=evidence)


def split_abs(path: str) -> Parts:
    """Components of a normalised absolute path: ``/`` → ``()``, ``/a/b`` → ``("a", "b")``."""
    if path == "/":
        return ()
    return tuple(path[1:].split("/"))


def join_abs(parts: Sequence[str]) -> str:
    return "/" + "/".join(parts)


def is_under(parts: Parts, root: Parts) -> bool:
    """Component-wise prefix test: ``/a/b`` is under ``/a`` but ``/a/bc`` is not under ``/a/b``."""
    return len(parts) >= len(root) and parts[: len(root)] == root


def under_any(parts: Parts, roots: Iterable[Parts]) -> bool:
    """:func:`is_under` for at least one of ``roots`` (a loop: this runs on every judgment)."""
    size = len(parts)
    for root in roots:
        if size >= len(root) and parts[: len(root)] == root:
            return True
    return False


def _byte_len(path: str) -> int:
    return len(path) if path.isascii() else len(_fsencode(path))


def _fsencode(path: str) -> bytes:
    try:
        return path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise PathRefused(deny("fs.invalid", "the path is not valid text for a file name")) from None


def expand_user(path: str, home: str) -> str:
    """Expand a leading ``~``, ``$HOME`` or ``${HOME}``; refuse ``~user`` (another user's home)."""
    first = path[:1]
    if first != "~" and first != "$":  # the common case: nothing to expand
        return path
    if first == "~":
        if path == "~" or path.startswith("~/"):
            return home + path[1:]
        raise PathRefused(deny("fs.tilde_user", "paths naming another user's home (~user) are not allowed"))
    for var in ("$HOME", "${HOME}"):
        if path == var or path.startswith(var + "/"):
            return home + path[len(var) :]
    return path


def normalize(path: object, *, home: str, base: str) -> str:
    """Validate and lexically normalise ``path`` to an absolute path without ``.``/``..``/``//``.

    Raises :class:`PathRefused` for NUL bytes, over-long paths or components, empty paths and
    ``~user``. Relative paths are taken relative to ``base``.
    """
    if not isinstance(path, str):
        raise PathRefused(deny("fs.invalid", "the path must be a string"))
    if "\x00" in path:
        raise PathRefused(deny("fs.nul_byte", "the path contains a NUL byte"))
    if not path.strip():
        raise PathRefused(deny("fs.invalid", "the path is empty"))
    size = _byte_len(path)
    if size > PATH_MAX_BYTES:
        raise PathRefused(deny("fs.too_long", f"the path is longer than {PATH_MAX_BYTES} bytes"))
    expanded = expand_user(path, home) if path[:1] in ("~", "$") else path
    if not expanded.startswith("/"):
        expanded = base.rstrip("/") + "/" + expanded
    if _is_normal_abs(expanded):
        norm = expanded
    else:
        norm = os.path.normpath(expanded)
        if norm.startswith("//"):
            norm = "/" + norm.lstrip("/")
    if norm is not path:  # else it is the text measured above
        size = _byte_len(norm)
    if size > PATH_MAX_BYTES:
        raise PathRefused(deny("fs.too_long", f"the path is longer than {PATH_MAX_BYTES} bytes"))
    if size > NAME_MAX_BYTES + 1 and any(_byte_len(p) > NAME_MAX_BYTES for p in split_abs(norm)):
        raise PathRefused(deny("fs.too_long", f"a path component is longer than {NAME_MAX_BYTES} bytes"))
    return norm


def _is_normal_abs(path: str) -> bool:
    """True when ``os.path.normpath`` would return absolute ``path`` unchanged: no empty
    component (``//``, a trailing ``/``) and no component starting with a dot (which covers
    ``.`` and ``..``; ``/.env`` merely takes the slow path)."""
    return path == "/" or (path.startswith("/") and "//" not in path and "/." not in path and not path.endswith("/"))


_SPECIAL_PARTS = frozenset({"", ".", ".."})  # components the walk below treats specially


def resolve_parts(parts: Parts, visit: Callable[[Parts], None] | None = None, *, path: str | None = None) -> Parts:
    """Follow every symlink in the normalised absolute path ``parts`` (like ``realpath``).

    Components that do not exist are kept as they are, so a dangling symlink resolves to its
    target. ``visit(link_parts)`` is called with each symlink's own path before it is followed
    (it may raise :class:`PathRefused`: a ``/proc/<pid>/fd/N`` magic link is judged as itself,
    not by what it points at). Raises :class:`PathRefused` (``fs.symlink_loop``) after
    :data:`MAX_SYMLINK_HOPS`.
    This is the *judgment* resolver (``lstat``/``readlink`` on paths); opens use the
    descriptor walk in :mod:`ethos_core.fs.scoped` instead.
    Fast path: a path whose every component exists and none is a symlink (one ``openat2``
    call tells) resolves to itself — the same answer the walk below gives it. ``path``, when
    given, is ``join_abs(parts)`` already built by the caller.
    """
    if (
        parts
        and OPENAT2.available
        and _SPECIAL_PARTS.isdisjoint(parts)
        and OPENAT2.has_no_symlinks(join_abs(parts) if path is None else path)
    ):
        return tuple(parts)
    resolved: list[str] = []
    pending = list(reversed(parts))
    hops = 0
    exists = True
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            if resolved:
                resolved.pop()
            exists = True
            continue
        candidate = "/" + "/".join([*resolved, name])
        if not exists:
            resolved.append(name)
            continue
        try:
            st = os.lstat(candidate)
        except OSError:
            exists = False  # nothing below a missing (or unreadable) component can be a symlink we see
            resolved.append(name)
            continue
        if not stat.S_ISLNK(st.st_mode):
            resolved.append(name)
            continue
        if visit is not None:
            visit((*resolved, name))
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            raise PathRefused(deny("fs.symlink_loop", "the path has a symlink loop (or too many symlinks)"))
        try:
            target = os.readlink(candidate)
        except OSError:
            raise PathRefused(deny("fs.unresolvable", "a symlink in the path cannot be read")) from None
        if target.startswith("/"):
            resolved = []
        pending.extend(reversed(target.split("/")))
    return tuple(resolved)


def _root_parts(roots: Iterable[str], home: str) -> tuple[Parts, ...]:
    out: list[Parts] = []
    for root in roots:
        try:
            out.append(split_abs(normalize(root, home=home, base="/")))
        except PathRefused:
            continue  # a malformed root grants nothing
    return tuple(out)


class FsPolicy:
    """One personality's compiled filesystem policy. Cheap to build; holds no filesystem state.

    ``read_roots``/``write_roots`` are the configured fs_reach lists (``~`` allowed); pass
    ``declared=False`` for a personality without ``fs_reach``: then only
    ``personality_dir/data`` is reachable (read and write). Relative paths are relative to
    ``base`` (default: the first write root, else the first read root, else the data dir).
    """

    def __init__(
        self,
        *,
        read_roots: Iterable[str] = (),
        write_roots: Iterable[str] = (),
        declared: bool = True,
        personality_dir: str | os.PathLike[str] | None = None,
        home: str | None = None,
        ethos_home: str | os.PathLike[str] | None = None,
        protected: Iterable[str | os.PathLike[str]] = (),
        env_files: str = "approve",
        base: str | None = None,
    ) -> None:
        self.home = os.path.normpath(home or os.path.expanduser("~"))
        self.ethos_home = os.path.normpath(os.fspath(ethos_home)) if ethos_home else None
        self.personality_dir = os.path.normpath(os.fspath(personality_dir)) if personality_dir else None
        self.data_dir = os.path.join(self.personality_dir, "data") if self.personality_dir else None
        if not declared:
            read_roots = write_roots = [self.data_dir] if self.data_dir else []
        write = _root_parts(write_roots, self.home)
        self.write_roots: tuple[Parts, ...] = write
        self.read_roots: tuple[Parts, ...] = tuple(dict.fromkeys(_root_parts(read_roots, self.home) + write))
        self.protected: tuple[Parts, ...] = _root_parts((os.fspath(p) for p in protected), self.home)
        self.env_files = env_files if env_files in ("approve", "deny") else "deny"
        if base is None:
            workspace = self.write_roots or self.read_roots
            base = join_abs(workspace[0]) if workspace else (self.data_dir or "/")
        self.base = os.path.normpath(base)
        self._ethos_parts = split_abs(self.ethos_home) if self.ethos_home else None
        self._floor = floor_matcher(self.home, self.ethos_home)
        self._home_real: str | None = None  # resolved lazily, once per policy
        self._ethos_real: str | None = None
        self._pdir_parts = split_abs(self.personality_dir) if self.personality_dir else None

    # --- public -----------------------------------------------------------------------------

    def judge(self, path: object, op: str) -> Decision:
        """Full judgment: lexical first, then the resolved target. See the module docstring."""
        if op not in OPS:
            return deny("fs.invalid_op", f"unknown operation {op!r}; expected read or write")
        try:
            norm = normalize(path, home=self.home, base=self.base)
        except PathRefused as refused:
            return refused.decision
        lexical = split_abs(norm)
        first = self.judge_parts(lexical, op)
        if first.denied:
            return first
        try:
            resolved = resolve_parts(lexical, self.check_link, path=norm)
        except PathRefused as refused:
            return refused.decision
        if resolved == lexical:
            return first
        second = self.judge_resolved(resolved, op)
        return second if second.verdict >= first.verdict else first

    def normalize(self, path: object, op: str) -> str:
        """Validated, normalised absolute path (raises :class:`PathRefused`)."""
        if op not in OPS:
            raise PathRefused(deny("fs.invalid_op", f"unknown operation {op!r}; expected read or write"))
        return normalize(path, home=self.home, base=self.base)

    def judge_parts(self, parts: Parts, op: str) -> Decision:
        """Lexical judgment of normalised absolute path ``parts``."""
        rule = self._floor.match_parts(("/", *parts))
        if rule is not None:
            return deny(f"fs.{rule}", "the path is on the always-deny floor (credentials, system secrets or ethos stores)")
        if op == "write" and self.is_protected(parts):
            return deny("fs.protected", "the agent may not write its own policy, configuration or ethos stores")
        if not under_any(parts, self.write_roots if op == "write" else self.read_roots):
            return deny("fs.outside_reach", f"the path is outside this personality's fs_reach for {op}")
        return self._env_decision(parts)

    def judge_resolved(self, parts: Parts, op: str) -> Decision:
        """Judgment of a symlink-free absolute path (the target actually reached)."""
        rule = self.resolved_floor_rule(parts)
        if rule is not None:
            return deny(f"fs.{rule}", "the path resolves into a location on the always-deny floor")
        if op == "write" and (self.is_protected(parts) or self._is_protected_resolved(parts)):
            return deny("fs.protected", "the path resolves to a file the agent may not write")
        roots = self.write_roots if op == "write" else self.read_roots
        if not any(is_under(parts, root) for root in roots) and not any(
            is_under(parts, root) for root in self._resolved_roots(roots)
        ):
            return deny("fs.symlink_escape", "a symlink in the path leads outside this personality's fs_reach")
        return self._env_decision(parts)

    def check_link(self, parts: Parts) -> None:
        """Before a symlink is followed: a link that is itself on the floor (``/proc/self/fd/0``,
        ``/proc/self/root``) is refused as itself, whatever it points at."""
        rule = self.resolved_floor_rule(parts)
        if rule is not None:
            raise PathRefused(deny(f"fs.{rule}", "the path resolves into a location on the always-deny floor"))

    def resolved_floor_rule(self, parts: Parts) -> str | None:
        """Floor rule of a resolved path, against the user and ethos homes as given and resolved."""
        for home in (self.home, self._real_home()):
            for ethos_home in (self.ethos_home, self._real_ethos_home()):
                rule = floor_matcher(home, ethos_home).match_parts(("/", *parts))
                if rule is not None:
                    return rule
        return None

    def _real_home(self) -> str:
        if self._home_real is None:
            self._home_real = _realpath(self.home)
        return self._home_real

    def _real_ethos_home(self) -> str | None:
        if self.ethos_home is None:
            return None
        if self._ethos_real is None:
            self._ethos_real = _realpath(self.ethos_home)
        return self._ethos_real

    def floor_rule(self, parts: Parts) -> str | None:
        return self._floor.match_parts(("/", *parts))

    def is_protected(self, parts: Parts) -> bool:
        """Never writable: ETHOS_HOME except ``personalities/*/data``, the personality's own files
        except its ``data`` directory, and the explicit protected list."""
        if under_any(parts, self.protected):
            return True
        ethos = self._ethos_parts
        if ethos is not None and is_under(parts, ethos):
            rest = parts[len(ethos) :]
            if not (len(rest) >= 3 and rest[0] == "personalities" and rest[2] == "data"):
                return True
        pdir = self._pdir_parts
        if pdir is not None and is_under(parts, pdir):
            rest = parts[len(pdir) :]
            if not (rest and rest[0] == "data"):
                return True
        return False

    # --- helpers ----------------------------------------------------------------------------

    def _env_decision(self, parts: Parts) -> Decision:
        if parts and is_env_file(parts[-1]):
            return _ENV_DENY if self.env_files == "deny" else _ENV_APPROVE
        return _ALLOWED

    def _resolved_roots(self, roots: tuple[Parts, ...]) -> list[Parts]:
        out = []
        for root in roots:
            try:
                out.append(resolve_parts(root))
            except PathRefused:
                continue
        return out

    def _is_protected_resolved(self, parts: Parts) -> bool:
        others = []
        for p in self.protected:
            try:
                others.append(resolve_parts(p))
            except PathRefused:
                continue
        if any(is_under(parts, p) for p in others):
            return True
        real_ethos = self._real_ethos_home()
        if real_ethos:
            real = split_abs(real_ethos)
            if real != self._ethos_parts and is_under(parts, real):
                rest = parts[len(real) :]
                return not (len(rest) >= 3 and rest[0] == "personalities" and rest[2] == "data")
        if self.personality_dir:
            real = split_abs(_realpath(self.personality_dir))
            if real != self._pdir_parts and is_under(parts, real):
                rest = parts[len(real) :]
                return not (rest and rest[0] == "data")
        return False


# Decisions are immutable: the common answers are built once.
_ALLOWED = Decision.allow(STAGE, "fs.allowed", "inside fs_reach")
_ENV_APPROVE = Decision.approve(STAGE, "fs.env_file", ".env files hold secrets; opening one needs approval")
_ENV_DENY = deny("fs.env_file", ".env files hold secrets and this personality may not open them")


def _realpath(path: str) -> str:
    try:
        return join_abs(resolve_parts(split_abs(os.path.normpath(path))))
    except PathRefused:
        return path


def judge_path(
    path: str,
    op: str,
    reach: object,
    *,
    personality_dir: str | os.PathLike[str] | None,
    home: str | None = None,
    ethos_home: str | os.PathLike[str] | None = None,
    protected: Iterable[str | os.PathLike[str]] = (),
    env_files: str = "approve",
    base: str | None = None,
) -> Decision:
    """Judge ``path`` for ``op`` against an :class:`~ethos_core.types.FsReach` (stage ⑨ decision)."""
    policy = FsPolicy(
        read_roots=getattr(reach, "read", ()),
        write_roots=getattr(reach, "write", ()),
        declared=bool(getattr(reach, "declared", False)),
        personality_dir=personality_dir,
        home=home,
        ethos_home=ethos_home,
        protected=protected,
        env_files=env_files,
        base=base,
    )
    return policy.judge(path, op)
