"""``openat2(2)`` with ``RESOLVE_NO_SYMLINKS``: open a path only if no component is a symlink.

One system call answers what a component-by-component ``lstat`` walk answers for the common
path (every component exists, none is a link); the kernel refuses any symlink anywhere in the
path, magic links included. Used by the scoped storage to open files race-free and by the
judgment resolver (:func:`ethos_core.fs.paths.resolve_parts`) as its fast path. Off (``available``
False) on kernels before 5.6 and on other systems: callers then walk the path themselves.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from typing import Any

_O_PATH = getattr(os, "O_PATH", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_SYS_OPENAT2 = 437  # same number on every Linux architecture
_AT_FDCWD = -100
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04


class Openat2:
    """``openat2(AT_FDCWD, path, {flags, RESOLVE_NO_SYMLINKS})`` via libc ``syscall``; off when missing."""

    def __init__(self) -> None:
        self.available = False
        self._syscall: Any = None
        if not sys.platform.startswith("linux"):
            return
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self._syscall = libc.syscall
            self._syscall.restype = ctypes.c_long
            fd = self._call(b"/", os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
        except (OSError, AttributeError):
            return
        os.close(fd)
        self.available = True

    def _call(self, path: bytes, flags: int) -> int:
        how = _OpenHow(flags, 0, _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS)
        fd = int(
            self._syscall(
                ctypes.c_long(_SYS_OPENAT2),
                ctypes.c_int(_AT_FDCWD),
                ctypes.c_char_p(path),
                ctypes.byref(how),
                ctypes.c_size_t(ctypes.sizeof(how)),
            )
        )
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return fd

    def has_no_symlinks(self, path: str) -> bool:
        """True when every component of the absolute ``path`` exists, is searchable and none is
        a symlink (one ``O_PATH`` open); False when that is not so *or* cannot be told here —
        the caller then walks the path itself."""
        try:
            fd = self.open(path, _O_PATH)
        except OSError:
            return False
        if fd is None:
            return False
        os.close(fd)
        return True

    def open(self, path: str, flags: int) -> int | None:
        """A descriptor, or None when the fast path cannot answer (symlink met, unsupported)."""
        if not self.available:
            return None
        try:
            return self._call(path.encode("utf-8", "surrogateescape"), flags | _O_CLOEXEC)
        except OSError as exc:
            if exc.errno in (errno.ENOSYS, errno.E2BIG, errno.EINVAL):
                self.available = False
                return None
            if exc.errno in (errno.ELOOP, errno.EXDEV, errno.EPERM, errno.EAGAIN):
                return None
            raise


OPENAT2 = Openat2()
