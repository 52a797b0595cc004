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
_HOW_SIZE = ctypes.sizeof(_OpenHow)


class Openat2:
    """``openat2(AT_FDCWD, path, {flags, RESOLVE_NO_SYMLINKS})`` via libc ``syscall``; off when missing."""

    def __init__(self) -> None:
        self.available = False
        self._syscall: Any = None
        # One read-only open_how per flags value (the kernel only reads it; shared by threads).
        self._hows: dict[int, _OpenHow] = {}
        if not sys.platform.startswith("linux"):
            return
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self._syscall = libc.syscall
            self._syscall.restype = ctypes.c_long
            # Declared once, so a call converts plain ints and bytes without wrapper objects.
            self._syscall.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
            fd = self._call(b"/", os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
        except (OSError, AttributeError):
            return
        os.close(fd)
        self.available = True

    def _call(self, path: bytes, flags: int) -> int:
        if b"\x00" in path:  # C would end the path at the NUL and open a different file
            raise ValueError("embedded null byte")
        how = self._hows.get(flags)
        if how is None:
            how = self._hows[flags] = _OpenHow(flags, 0, _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS)
        fd = int(self._syscall(_SYS_OPENAT2, _AT_FDCWD, path, ctypes.byref(how), _HOW_SIZE))
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
        except (OSError, ValueError):
            return False
        if fd is None:
            return False
        os.close(fd)
        return True

    def open(self, path: str, flags: int) -> int | None:
        """A descriptor, or None when the fast path cannot answer (symlink met, unsupported).
        A path holding a NUL raises ValueError, as ``os.open`` does."""
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
