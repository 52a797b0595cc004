"""Watcher benchmark (issue #10): sustained events/s with the default rules, and the latency
from an event to its decision being visible to the agent's loop.

Goal: ≥ 100,000 events/s on one core, p99 ≤ 1 ms. The process is pinned to one CPU while the
benchmark runs (where the OS allows it), so both the loop and the watcher thread share it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ethos_core.config.model import WatcherConfig
from ethos_core.types import AgentEvent, Context, Personality, ToolCall
from ethos_core.watcher import Watcher

GOAL_EVENTS_PER_S = 100_000.0
GOAL_P99_US = 1000.0


@contextmanager
def _one_core() -> Iterator[str]:
    getter = getattr(os, "sched_getaffinity", None)
    setter = getattr(os, "sched_setaffinity", None)
    if getter is None or setter is None:
        yield "not pinned (no sched_setaffinity)"
        return
    before = getter(0)
    try:
        setter(0, {min(before)})
    except OSError:
        yield "not pinned"
        return
    try:
        yield f"pinned to cpu {min(before)}"
    finally:
        setter(0, before)


def _ctxs(n: int) -> list[Context]:
    personality = Personality(id="bench", directory="/tmp/bench")
    return [Context(personality=personality, session=f"chat-{i}", turn=1, bot="bench") for i in range(n)]


def _event_mix() -> list[AgentEvent]:
    """What one tool step of an agent emits: text, tool start/end, usage."""
    return [
        AgentEvent("model_text", turn=1, data={"chars": 120}),
        AgentEvent("tool_start", tool="read_file", turn=1, capabilities={"fs.read"}, data={"args_digest": "ab12"}),
        AgentEvent("tool_end", tool="read_file", turn=1, capabilities={"fs.read"},
                   data={"ok": True, "untrusted": False, "secret_path": False}),
        AgentEvent("usage", turn=1, data={"input_tokens": 3, "output_tokens": 1, "cost": 0.0}),
    ]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def bench_throughput(total: int = 400_000, sessions: int = 16, chunk: int = 1000) -> dict[str, Any]:
    watcher = Watcher()
    ctxs = _ctxs(sessions)
    events = _event_mix()
    observe = watcher.observe
    per_event_us: list[float] = []
    high_water = watcher.health()["queue_capacity"] // 2
    start = time.perf_counter()
    cpu_start = time.process_time()
    for base in range(0, total, chunk):
        t0 = time.perf_counter()
        for i in range(base, base + chunk):
            observe(events[i & 3], ctxs[i % sessions])
        if len(watcher._queue) > high_water:  # a real loop never outruns the watcher like this
            watcher.drain(30)
        per_event_us.append((time.perf_counter() - t0) / chunk * 1e6)
    drained = watcher.drain(60)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    health = watcher.health()
    watcher.close()
    rate = total / cpu  # both threads share the pinned core: CPU seconds are the honest divisor
    return {
        "name": "watcher.sustained",
        "workload": f"{total} events (text/tool_start/tool_end/usage) over {sessions} sessions, default rules",
        "rate": round(rate),
        "unit": "events/cpu-s",
        "p50_us": round(_pct(per_event_us, 0.5), 2),
        "p99_us": round(_pct(per_event_us, 0.99), 2),
        "ratio": round(rate / GOAL_EVENTS_PER_S, 2),
        "note": f"goal ≥ 100k events/s on one core; wall-clock {round(total / elapsed)} events/s; per-event "
                f"p50/p99 over 1000-event chunks (wall); drained={drained}, dropped={health['events_dropped']}",
    }


def bench_latency(samples: int = 20_000, background: bool = False) -> dict[str, Any]:
    """observe(event) → decide(call) returns with that event applied, as the loop sees it.

    The rate limit is lifted so every sample measures the usual (allow) path of every rule; the
    paused path costs the same plus one audit emission per transition.
    """
    watcher = Watcher(config=WatcherConfig(max_tool_calls_per_minute=10**9))
    ctx = _ctxs(1)[0]
    noisy = _ctxs(8)
    events = _event_mix()
    stop = threading.Event()

    def other_sessions() -> None:  # other chats of the same bot keep the watcher thread busy
        i = 0
        while not stop.is_set():
            for _ in range(200):
                watcher.observe(events[i & 3], noisy[i % 8])
                i += 1
            time.sleep(0.0005)

    thread = threading.Thread(target=other_sessions, daemon=True)
    if background:
        thread.start()
    latencies: list[float] = []
    cpu_start = time.process_time()
    ok = AgentEvent("tool_end", tool="read_file", turn=1, data={"ok": True, "untrusted": False})
    call = ToolCall("read_file", {"path": "/tmp/bench/notes.txt"})
    start = time.perf_counter()
    for i in range(samples):
        t0 = time.perf_counter()
        watcher.observe(ok, ctx)
        if i & 1:
            watcher.decide(attrs_call(call, i), ctx)
        else:
            watcher.current(ctx.session, bot=ctx.bot)
        latencies.append((time.perf_counter() - t0) * 1e6)
    elapsed = time.perf_counter() - start
    cpu_us = (time.process_time() - cpu_start) / samples * 1e6
    stop.set()
    if background:
        thread.join()
    health = watcher.health()
    watcher.close()
    p99 = _pct(latencies, 0.99)
    return {
        "name": "watcher.event_to_decision" + ("_under_load" if background else ""),
        "workload": f"{samples} × observe(tool_end) then decide(call)/current()" +
                    (", 8 other sessions streaming events" if background else ""),
        "rate": round(samples / elapsed),
        "unit": "decisions/s",
        "p50_us": round(_pct(latencies, 0.5), 1),
        "p99_us": round(p99, 1),
        "ratio": round(GOAL_P99_US / p99, 2) if p99 else None,
        "note": f"goal p99 ≤ 1000 µs (ratio = goal / p99); {cpu_us:.0f} CPU-µs per sample; "
                f"stalled decisions={health['stalled_decisions']}; {_scheduler_noise()}",
    }


def _scheduler_noise(samples: int = 5000) -> str:
    """p99 of a fixed ~50 µs busy loop: what the machine alone adds to any wall-clock p99."""
    lat: list[float] = []
    for _ in range(samples):
        t0 = time.perf_counter()
        total = 0
        for i in range(1500):
            total += i
        lat.append((time.perf_counter() - t0) * 1e6)
    return f"a ~{_pct(lat, 0.5):.0f} µs busy loop has p99 {_pct(lat, 0.99):.0f} µs here (scheduler noise)"


def attrs_call(call: ToolCall, i: int) -> ToolCall:
    """Distinct arguments per call so the loop rule measures its normal (allow) path."""
    return ToolCall(call.name, {**call.args, "n": i}, capabilities=call.capabilities)


def run() -> list[dict[str, Any]]:
    with _one_core() as pinned:
        rows = [bench_throughput(), bench_latency(), bench_latency(background=True)]
    load = ""
    if hasattr(os, "getloadavg"):
        load = f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus (wall-clock figures include contention)"
    for row in rows:
        row["note"] = f"{row['note']}; {pinned}{load}"
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
