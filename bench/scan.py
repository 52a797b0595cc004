"""Benchmark for the install-time scanner (issue #11): goal — a 1 MB wheel in ≤ 1 s.

Rows (``run() -> list[dict]``, keys name, workload, rate, unit, p50_us, p99_us, ratio, note):
- ``scan.python_mb_s``: MB/s of Python source through the scanner (a generated, realistic
  ~1 MB package: functions, classes, imports, string literals, docstrings);
- ``scan.wheel_1mb``: seconds for a whole 1 MB wheel (zip read + every rule + manifest);
- ``bandit.python_mb_s``: bandit on the same files in the same run, when bandit is importable
  (a bench-only dependency); ``ratio`` on the scanner row = scanner time / bandit time.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from ethos_core.skills.scanner import scan

MANIFEST = '''[tool.ethos.skill]
description = "Benchmark skill."

[[tool.ethos.skill.tools]]
name = "bench_tool"
description = "Do benchmark things."
[tool.ethos.skill.tools.capabilities]
fs-read = ["~/data"]
'''

MODULE = '''"""Module {i}: helpers for the benchmark skill."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

PATTERN = re.compile(r"^[a-z]+_{i}$")
TABLE = {{"alpha": 1, "beta": 2, "gamma": 3, "delta": "{i}"}}


@dataclass
class Record{i}:
    """A record with a name and some values."""

    name: str
    values: list[int]

    def total(self) -> int:
        return sum(v * 2 for v in self.values if v > 0)

    def render(self) -> str:
        return json.dumps({{"name": self.name, "total": self.total(), "id": {i}}})


def parse_{i}(text: str, ctx: Any) -> list[Record{i}]:
    out = []
    for line in text.splitlines():
        parts = line.split(",")
        if not parts or not PATTERN.match(parts[0]):
            continue
        out.append(Record{i}(parts[0], [int(p) for p in parts[1:] if p.strip().isdigit()]))
    return out


def load_{i}(call: Any, ctx: Any) -> str:
    with ctx.open(str(call.args["path"])) as fh:
        records = parse_{i}(fh.read(), ctx)
    return "\\n".join(r.render() for r in records)
'''


def _package(target_bytes: int) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total, i = 0, 0
    while total < target_bytes:
        data = MODULE.format(i=i).encode()
        files[f"bench_skill/mod_{i}.py"] = data
        total += len(data)
        i += 1
    files["bench_skill/__init__.py"] = b'"""Benchmark skill."""\n'
    return files


def _wheel(tmp: Path, files: dict[str, bytes]) -> Path:
    dist = "bench_skill-1.0.dist-info"
    members = dict(files)
    members[f"{dist}/METADATA"] = b"Metadata-Version: 2.1\nName: bench-skill\nVersion: 1.0\nRequires-Dist: ethos-core\n"
    members[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    members[f"{dist}/entry_points.txt"] = b"[ethos.skills]\nbench = bench_skill:Skill\n"
    members[f"{dist}/licenses/pyproject.toml"] = MANIFEST.encode()
    members[f"{dist}/RECORD"] = b""
    path = tmp / "bench_skill-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _row(name: str, workload: str, samples: list[float], rate: float, unit: str, ratio: float | None = None,
         note: str = "") -> dict[str, Any]:
    ordered = sorted(samples)
    return {"name": name, "workload": workload, "rate": round(rate, 3), "unit": unit,
            "p50_us": round(statistics.median(ordered) * 1e6, 1),
            "p99_us": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6, 1),
            "ratio": None if ratio is None else round(ratio, 3), "note": note}


def _bandit_seconds(src_dir: Path) -> float | None:
    try:
        import bandit  # noqa: F401
    except ImportError:
        return None
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bandit", "-q", "-r", str(src_dir), "-f", "json"], capture_output=True,
                   timeout=600, check=False)
    return time.perf_counter() - start


def run(repeats: int = 5) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="ethos-bench-scan-"))
    try:
        files = _package(1 << 20)
        wheel = _wheel(tmp, files)
        src = tmp / "src"
        for name, data in files.items():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes(data)
        py_bytes = sum(len(d) for d in files.values())
        scan(wheel, installed=set())  # warm imports (injection classifier rules compile once)
        wheel_samples, src_samples = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            report = scan(wheel, installed=set())
            wheel_samples.append(time.perf_counter() - start)
            start = time.perf_counter()
            scan(src, installed=set())
            src_samples.append(time.perf_counter() - start)
        assert report.verdict in ("clean", "yellow"), report.summary()
        src_median = statistics.median(src_samples)
        bandit_s = _bandit_seconds(src)
        ratio = src_median / bandit_s if bandit_s else None
        rows = [
            _row("scan.python_mb_s", f"{py_bytes / 1e6:.2f} MB Python, {len(files)} files (directory)", src_samples,
                 py_bytes / 1e6 / src_median, "MB/s", ratio,
                 "ratio = scanner / bandit time" if bandit_s else "bandit not importable: no comparison"),
            _row("scan.wheel_1mb", f"{wheel.stat().st_size / 1e6:.2f} MB wheel ({py_bytes / 1e6:.2f} MB uncompressed)",
                 wheel_samples, statistics.median(wheel_samples), "s", None, "goal ≤ 1 s"),
        ]
        if bandit_s:
            rows.append(_row("bandit.python_mb_s", "same files, bandit -r (subprocess, incl. start-up)", [bandit_s],
                             py_bytes / 1e6 / bandit_s, "MB/s", None, "comparison"))
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    for row in run():
        print(row)
