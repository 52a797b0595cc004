"""Benchmark: the safety cost of one tool-call round trip through all stages (issue #12).

Same run, same scripted provider and the same local file tool (``read_file`` on a 4 KB file in
the personality's data directory):
- ``engine``: ``Session.run_tool`` — stages ⑥–⑮ (toolset, hardline, risk, fs boundary, watcher,
  approval, redaction, wrapping, audit write to a real observability.db) plus the scoped read;
- ``bypass``: the same handler called directly on the same ScopedStorage, no stages.
Goal: ≤ 300 µs p50 safety overhead per call. Also: RSS of an idle engine with three bots.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _home(root: Path) -> Path:
    from click.testing import CliRunner

    from ethos_core.cli.main import cli

    home = root / "home"
    assert CliRunner().invoke(cli, ["--home", str(home), "init"]).exit_code == 0
    (home / "personalities/default/toolset.yaml").write_text("- read_file\n", encoding="utf-8")
    # An agent doing real work: distinct files, and a global rate limit sized for a benchmark.
    for i in range(FILES):
        (home / f"personalities/default/data/page{i}.txt").write_text("x" * 4096, encoding="utf-8")
    config = (home / "config.yaml").read_text(encoding="utf-8")
    (home / "config.yaml").write_text(config + "watcher:\n  maxToolCallsPerMinute: 1000000\n", encoding="utf-8")
    return home


FILES = 400


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def run(calls: int = 400) -> list[dict[str, Any]]:
    os.environ.setdefault("ETHOS_DISABLE_PLUGIN_AUTOLOAD", "1")
    from ethos_core.engine import Engine
    from ethos_core.tools.files import read_file
    from ethos_core.types import ToolCall

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ethos-bench-turn-") as tmp:
        home = _home(Path(tmp))
        paths = [str(home / f"personalities/default/data/page{i}.txt") for i in range(FILES)]
        with Engine.from_home(home) as engine:
            session = engine.session("default")
            storage = session.storage()
            for i in range(20):  # warm caches
                warm = ToolCall("read_file", {"path": paths[i]}, call_id="w")
                session.run_tool(warm)
                read_file(warm.args, storage)
            engine_us: list[float] = []
            bypass_us: list[float] = []
            for i in range(calls):
                if i % 3 == 0:
                    session.new_turn()
                call = ToolCall("read_file", {"path": paths[i % FILES]}, call_id=f"c{i}")
                t0 = time.perf_counter()
                outcome = session.run_tool(call)
                t1 = time.perf_counter()
                if not outcome.result.ok:
                    raise RuntimeError(f"benchmark call was refused: {outcome.result.error}")
                read_file(call.args, storage)
                t2 = time.perf_counter()
                engine_us.append((t1 - t0) * 1e6)
                bypass_us.append((t2 - t1) * 1e6)
            e50, e99 = _percentiles(engine_us)
            b50, b99 = _percentiles(bypass_us)
            rows.append({"name": "turn_overhead.engine", "workload": f"{calls} read_file calls through ⑥–⑮",
                         "rate": 1e6 / e50, "unit": "calls/s", "p50_us": e50, "p99_us": e99,
                         "ratio": e50 / b50 if b50 else None, "note": "ratio = engine p50 / bypass p50"})
            rows.append({"name": "turn_overhead.bypass", "workload": "same handler, no stages", "rate": 1e6 / b50,
                         "unit": "calls/s", "p50_us": b50, "p99_us": b99, "ratio": 1.0, "note": ""})
            overhead = e50 - b50
            rows.append({"name": "turn_overhead.safety_cost", "workload": "engine p50 - bypass p50", "rate": None,
                         "unit": "", "p50_us": overhead, "p99_us": None, "ratio": None,
                         "note": "goal ≤ 300 µs p50: " + ("met" if overhead <= 300 else "NOT met")})
        rows.append(_idle_gateway_rss(Path(tmp)))
    return rows


def _idle_gateway_rss(root: Path) -> dict[str, Any]:
    """RSS of a fresh process holding an engine with three bot sessions (goal < 80 MB)."""
    import json
    import subprocess
    import sys

    home = root / "rss-home"
    code = (
        "import os, json, resource, sys\n"
        "os.environ['ETHOS_DISABLE_PLUGIN_AUTOLOAD']='1'\n"
        "from click.testing import CliRunner\n"
        "from ethos_core.cli.main import cli\n"
        "from ethos_core.engine import Engine\n"
        f"home={str(home)!r}\n"
        "CliRunner().invoke(cli, ['--home', home, 'init'])\n"
        "e = Engine.from_home(home)\n"
        "sessions = [e.session('default', bot=f'bot{i}', session_id=f'bot{i}:chat') for i in range(3)]\n"
        # VmRSS of this process now: ru_maxrss would carry over the forking parent's peak (execve keeps it)
        "rss = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS:'))\n"
        "print(json.dumps({'rss_kb': rss}))\n"
        "e.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    rss_mb = json.loads(out.stdout.strip().splitlines()[-1])["rss_kb"] / 1024
    return {"name": "gateway.idle_rss", "workload": "engine + 3 bot sessions, idle", "rate": rss_mb, "unit": "MB (RSS)",
            "p50_us": None, "p99_us": None, "ratio": None, "note": "goal < 80 MB: " + ("met" if rss_mb < 80 else "NOT met")}

