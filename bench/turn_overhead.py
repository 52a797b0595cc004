"""Benchmark: the safety cost of one tool-call round trip through all stages (issue #12).

Same run, same local file tool (``read_file`` of a distinct 4 KB file of ordinary text — prose, config,
log lines — in the personality's data directory, a new turn every three calls), engine and plain calls in alternating blocks of 50
(the audit writer commits in the background; each engine block ends with a flush):
- ``engine``: ``Session.run_tool`` — stages ⑥–⑫ (toolset, hardline, risk, fs boundary, watcher,
  approval), the race-free scoped read, the watcher events, then ⑬–⑮ (redaction, tier-1
  classification and wrapping of the file's content — a file the agent did not write is
  untrusted — and the audit write to a real observability.db);
- ``bypass``: the same loop with the engine bypassed: the tool's logic on a plain ``open()``;
- ``safety_cost``: engine p50 − bypass p50. Goal: ≤ 300 µs. ``safety_cost_mean`` adds the
  waits for the audit writer and uses means.
The ``phase.*`` rows split one call the way an integrator drives it (``before_tool``, the handler
on the scoped storage, ``after_tool``) to show where the cost sits. Also: RSS of an idle engine
with three bots (goal < 80 MB).
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
        (home / f"personalities/default/data/page{i}.txt").write_text(_page(i), encoding="utf-8")
    config = (home / "config.yaml").read_text(encoding="utf-8")
    (home / "config.yaml").write_text(config + "watcher:\n  maxToolCallsPerMinute: 1000000\n", encoding="utf-8")
    return home


FILES = 400

_WORDS = ("the build report shows that the service handled more requests this week and the team fixed two "
          "regressions in the parser while the release notes list new options for the command line tool "
          "customers asked about pricing limits and the migration guide explains each step").split()


def _page(seed: int) -> str:
    """About 4 KB of ordinary working text (prose, a config fragment, a stack of log lines):
    what a file tool returns, not a degenerate run of one character."""
    import random

    rnd = random.Random(seed)
    lines: list[str] = []
    size = 0
    while size < 4096:
        kind = rnd.random()
        if kind < 0.6:
            words = [rnd.choice(_WORDS) for _ in range(rnd.randint(8, 18))]
            line = " ".join(words).capitalize() + "."
        elif kind < 0.8:
            line = f"{rnd.choice(_WORDS)}_{rnd.choice(_WORDS)}: {rnd.randint(1, 9000)}  # {rnd.choice(_WORDS)}"
        else:
            line = (f"2026-11-{rnd.randint(1, 28):02d}T10:{rnd.randint(0, 59):02d}:00Z INFO "
                    f"{rnd.choice(_WORDS)} took {rnd.randint(1, 999)} ms")
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)[:4096]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def _plain_read_file(args: Any) -> str:
    """``read_file``'s logic on a plain open(): the tool with no engine at all."""
    from ethos_core.tools.files import MAX_READ_CHARS

    with open(args["path"], encoding="utf-8") as fh:
        text = fh.read(MAX_READ_CHARS * 4)
    if len(text) > MAX_READ_CHARS:
        text = text[:MAX_READ_CHARS] + "\n[truncated]"
    return text


def run(calls: int = 600) -> list[dict[str, Any]]:
    os.environ.setdefault("ETHOS_DISABLE_PLUGIN_AUTOLOAD", "1")
    from ethos_core.engine import Engine
    from ethos_core.types import ToolCall

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ethos-bench-turn-") as tmp:
        home = _home(Path(tmp))
        paths = [str(home / f"personalities/default/data/page{i}.txt") for i in range(FILES)]
        with Engine.from_home(home) as engine:
            session = engine.session("default")
            from ethos_core.injection import classifier

            classifier.warm_up(block=True)  # steady state: tier-1's hyperscan database is compiled
            tool = engine.tools.get("read_file")
            assert tool is not None
            for i in range(20):  # warm caches
                warm = ToolCall("read_file", {"path": paths[i]}, call_id="w")
                session.run_tool(warm)
                _plain_read_file(warm.args)
            engine_us: list[float] = []
            bypass_us: list[float] = []
            flush_us = 0.0
            phases: dict[str, list[float]] = {"before_tool": [], "handler": [], "after_tool": []}
            clock = time.perf_counter
            store = engine.runtime.services["audit"]
            block = 50
            # Engine calls and plain calls run in alternating blocks, so the audit writer's work
            # (it commits in the background) is never timed inside a plain call; after each
            # engine block the store is flushed and that wait is counted too (mean row).
            for start in range(0, calls, block):
                for i in range(start, min(calls, start + block)):
                    if i % 3 == 0:
                        session.new_turn()
                    call = ToolCall("read_file", {"path": paths[i % FILES]}, call_id=f"c{i}")
                    t0 = clock()
                    outcome = session.run_tool(call)
                    engine_us.append((clock() - t0) * 1e6)
                    if not outcome.result.ok:
                        raise RuntimeError(f"benchmark call was refused: {outcome.result.error}")
                t0 = clock()
                store.flush()
                flush_us += (clock() - t0) * 1e6
                for i in range(start, min(calls, start + block)):
                    args = {"path": paths[i % FILES]}
                    t0 = clock()
                    _plain_read_file(args)
                    bypass_us.append((clock() - t0) * 1e6)
            from ethos_core.types import ToolResult

            for i in range(calls // 3):
                # A call driven phase by phase, as an integrator's own loop does.
                if i % 3 == 0:
                    session.new_turn()
                call = ToolCall("read_file", {"path": paths[(i + 7) % FILES]}, call_id=f"p{i}")
                t0 = clock()
                decision = session.before_tool(call)
                t1 = clock()
                content = tool.handler(call, session)
                t2 = clock()
                session.after_tool(call, ToolResult(call_id=call.call_id, tool=call.name, ok=True,
                                                    content=str(content), source="file", trusted=False))
                t3 = clock()
                if not decision.allowed:
                    raise RuntimeError(f"benchmark call was refused: {decision.reason}")
                phases["before_tool"].append((t1 - t0) * 1e6)
                phases["handler"].append((t2 - t1) * 1e6)
                phases["after_tool"].append((t3 - t2) * 1e6)
                if i % block == block - 1:
                    store.flush()
            e50, e99 = _percentiles(engine_us)
            b50, b99 = _percentiles(bypass_us)
            rows.append({"name": "turn_overhead.engine", "workload": f"{calls} read_file calls through ⑥–⑮",
                         "rate": 1e6 / e50, "unit": "calls/s", "p50_us": e50, "p99_us": e99,
                         "ratio": e50 / b50 if b50 else None, "note": "ratio = engine p50 / bypass p50"})
            rows.append({"name": "turn_overhead.bypass", "workload": "the tool on a plain open(), no engine",
                         "rate": 1e6 / b50, "unit": "calls/s", "p50_us": b50, "p99_us": b99, "ratio": 1.0, "note": ""})
            overhead = e50 - b50
            rows.append({"name": "turn_overhead.safety_cost", "workload": "engine p50 - bypass p50", "rate": None,
                         "unit": "", "p50_us": overhead, "p99_us": None, "ratio": None,
                         "note": "goal ≤ 300 µs p50: " + ("met" if overhead <= 300 else "NOT met")})
            mean_cost = (sum(engine_us) + flush_us) / len(engine_us) - statistics.fmean(bypass_us)
            rows.append({"name": "turn_overhead.safety_cost_mean", "workload": "mean, audit commits included",
                         "rate": None, "unit": "", "p50_us": mean_cost, "p99_us": None, "ratio": None,
                         "note": "(engine calls + waits for the audit writer) / calls - plain mean"})
            notes = {"before_tool": "stages ⑥–⑫", "handler": "scoped (race-free) read, stage ⑨ reused",
                     "after_tool": "⑬ redaction, ⑭ tier-1 + wrapping, ⑮ audit enqueue"}
            for name, samples in phases.items():
                p50, p99 = _percentiles(samples)
                rows.append({"name": f"turn_overhead.phase.{name}", "workload": "same calls, phase by phase",
                             "rate": None, "unit": "", "p50_us": p50, "p99_us": p99, "ratio": None,
                             "note": notes[name]})
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
        # Idle means settled: the background compile of tier-1's database has finished.
        "from ethos_core.injection import classifier\n"
        "classifier.warm_up(block=True)\n"
        # VmRSS of this process now: ru_maxrss would carry over the forking parent's peak (execve keeps it)
        "rss = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS:'))\n"
        "print(json.dumps({'rss_kb': rss}))\n"
        "e.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    rss_mb = json.loads(out.stdout.strip().splitlines()[-1])["rss_kb"] / 1024
    return {"name": "gateway.idle_rss", "workload": "engine + 3 bot sessions, idle", "rate": rss_mb, "unit": "MB (RSS)",
            "p50_us": None, "p99_us": None, "ratio": None, "note": "goal < 80 MB: " + ("met" if rss_mb < 80 else "NOT met")}

