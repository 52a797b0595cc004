"""File modes of an ethos home: the home 0700, its stores and configuration no group/other bits.

Invariant: :func:`fix_mode` only ever *removes* group and other permission bits from a path
that is not a symlink (``chmod`` follows symlinks, so a link is reported and left alone); it
never adds a bit, never changes ownership and never touches anything outside the home. That
makes it the one fix ``ethos harden check --fix`` is allowed to apply.
Not covered: ACLs and files owned by another user (reported when chmod fails).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

GROUP_OTHER = stat.S_IRWXG | stat.S_IRWXO
STORE_GLOBS = ("observability.db*", "state.db*", "skills.lock", "config.yaml", "*.env", ".env*")
STORE_DIRS = ("secrets", "checkpoints", "personalities")


def sensitive_paths(root: Path) -> list[Path]:
    """Everything whose mode is checked, excluding the home itself (see ``home_mode``)."""
    out: list[Path] = []
    for pattern in STORE_GLOBS:
        out.extend(sorted(root.glob(pattern)))
    for name in STORE_DIRS:
        directory = root / name
        if directory.is_dir() and not directory.is_symlink():
            out.append(directory)
    secrets = root / "secrets"
    if secrets.is_dir() and not secrets.is_symlink():
        out.extend(sorted(p for p in secrets.rglob("*")))
    personalities = root / "personalities"
    if personalities.is_dir() and not personalities.is_symlink():
        for pdir in sorted(personalities.iterdir()):
            if pdir.is_symlink() or not pdir.is_dir():
                continue
            out.append(pdir)
            out.extend(sorted(p for p in pdir.iterdir() if p.is_file() or p.is_symlink()))
    seen: set[Path] = set()
    unique = []
    for p in out:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return unique


def loose_bits(path: Path) -> int | None:
    """Group/other bits of ``path`` (0 when private); None when it is a symlink or unreadable."""
    try:
        st = path.lstat()
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return None
    return st.st_mode & GROUP_OTHER


def mode_of(path: Path) -> str:
    try:
        return f"{stat.S_IMODE(path.lstat().st_mode):04o}"
    except OSError:
        return "????"


def fix_mode(path: Path) -> str | None:
    """Remove group/other bits from ``path``; the error text when it cannot be done safely."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return f"cannot open without following links: {exc.strerror}"
    try:
        st = os.fstat(fd)
        os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~GROUP_OTHER)
    except OSError as exc:
        return f"chmod failed: {exc.strerror}"
    finally:
        os.close(fd)
    return None
