"""Benchmark: the filesystem boundary (issue #6).

Rows: path judgments per second for allowed paths eight components deep (lexical only, and
the full judgment that resolves every component), and the cost of a safe open + read of a
4 KB file through :class:`~ethos_core.fs.scoped.ScopedStorage` against plain ``open()`` on the
same files in the same run, for the openat2 fast path and for the descriptor walk.
Goal: safe open ≤ 3× plain open.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ethos_core.fs.paths import FsPolicy, split_abs
from ethos_core.fs.scoped import OPENAT2, FloorIdentities, ScopedStorage

DEPTH = 8
FILES = 64
ROUNDS = 3000


def _world(root: Path) -> tuple[Path, list[str]]:
    ws = root / "ws"
    deep = ws.joinpath(*[f"d{i}" for i in range(DEPTH - 1)])
    deep.mkdir(parents=True)
    payload = os.urandom(4096)
    paths = []
    for i in range(FILES):
        p = deep / f"f{i}.bin"
        p.write_bytes(payload)
        paths.append(str(p))
    return ws, paths


def _time(fn: Callable[[str], Any], paths: list[str], rounds: int) -> tuple[float, float, float]:
    """(ops/s, p50 µs, p99 µs) over ``rounds`` calls cycling through ``paths``."""
    for p in paths:  # warm caches
        fn(p)
    samples = []
    clock = time.perf_counter_ns
    start = clock()
    for i in range(rounds):
        t0 = clock()
        fn(paths[i % len(paths)])
        samples.append(clock() - t0)
    total = (clock() - start) / 1e9
    samples.sort()
    p50 = samples[len(samples) // 2] / 1000
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1000
    return rounds / total, p50, p99


def _plain_read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _row(name: str, workload: str, stats: tuple[float, float, float], ratio: float | None, note: str) -> dict[str, Any]:
    rate, p50, p99 = stats
    return {
        "name": name,
        "workload": workload,
        "rate": round(rate),
        "unit": "ops/s",
        "p50_us": round(p50, 2),
        "p99_us": round(p99, 2),
        "ratio": None if ratio is None else round(ratio, 2),
        "note": note,
    }


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        ws, paths = _world(root)
        policy = FsPolicy(write_roots=[str(ws)], home=str(root / "home"), ethos_home=str(root / "ethos"))
        identities = FloorIdentities(str(root / "home"), str(root / "ethos"))

        lexical = _time(lambda p: policy.judge_parts(split_abs(policy.normalize(p, "read")), "read"), paths, ROUNDS * 3)
        rows.append(_row("fs_check.judge_lexical", f"{DEPTH}-component allowed path", lexical, None, "checks/s"))
        full = _time(lambda p: policy.judge(p, "read"), paths, ROUNDS)
        rows.append(_row("fs_check.judge_resolved", f"{DEPTH}-component allowed path, every component lstat'ed",
                         full, None, "checks/s"))

        plain = _time(_plain_read, paths, ROUNDS)
        rows.append(_row("fs_check.plain_open", "open()+read 4 KB", plain, 1.0, "baseline"))
        modes = [("openat2", True), ("walk", False)] if OPENAT2.available else [("walk", False)]
        for label, fast in modes:
            storage = ScopedStorage(policy, identities=identities, use_openat2=fast)
            safe = _time(storage.read_bytes, paths, ROUNDS)
            ratio = plain[0] / safe[0]
            rows.append(_row(f"fs_check.safe_open_{label}", "ScopedStorage.read_bytes 4 KB", safe, ratio,
                             f"vs plain open (goal <= 3x){'; ' + 'PASS' if ratio <= 3 else '; over goal'}"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
