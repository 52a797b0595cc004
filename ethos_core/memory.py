"""Returning freed heap memory to the operating system after large one-off allocations.

Compiling the hyperscan databases (tier-1 rules, redaction anchors) allocates tens of MB that
are freed right after; glibc keeps freed memory in its arenas (one per thread that allocated),
so an idle gateway would carry it as RSS for its whole life. :func:`release_freed_memory`
asks glibc to give it back (``malloc_trim(0)``). Elsewhere (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release_freed_memory() -> bool:
    """``malloc_trim(0)`` where glibc provides it; True when memory was returned."""
    libc = _libc()
    if libc is None:
        return False
    try:
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):  # pragma: no cover - a libc without the symbol
        return False
