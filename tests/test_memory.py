"""release_freed_memory gives freed heap memory back where glibc can, and is a no-op elsewhere."""

from __future__ import annotations

import platform

import pytest

from ethos_core.memory import release_freed_memory


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is a glibc function")
def test_freed_heap_memory_is_returned_to_the_system() -> None:
    blocks = [bytearray(2048) for _ in range(30_000)]  # ~60 MB of small (heap, not mmap) blocks
    keep = blocks[-1]  # pins the top of the heap, so plain free() cannot shrink it
    del blocks
    before = _rss_kb()
    assert release_freed_memory() is True
    assert _rss_kb() < before - 20_000
    del keep
