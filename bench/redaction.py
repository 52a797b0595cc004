"""Benchmark: credential redaction (issue #4) side by side with detect-secrets.

Rows: the first call's one-time setup (the Hyperscan database compile), ethos ``find_spans``
throughput (MB/s, median of 3 runs) on a generated mixed 10 MB corpus (logs, JSON, code, prose,
about one secret per KB; p50/p99 per 4 KB chunk), per-call latency on the audit
path's shapes (short keys and words; ~1 KB events of 17 joined strings) and on ordinary prose,
the same with known-value
redaction of 20 resolved secrets, recall and precision on the labelled corpus in
tests/data/secrets_corpus/, and, when ``detect_secrets`` is importable (it is never a runtime
dependency: ``pip install detect-secrets`` in the bench environment), the same numbers for
detect-secrets with default plugins, plus the ratios. detect-secrets is measured on a 1 MB slice
of the same corpus because it is slow; throughput is size-normalised either way.

Goal: recall ≥ detect-secrets' on every format it supports, no false positives on the negative
cases (git SHAs, UUIDs, ordinary words), throughput ≥ 10× detect-secrets.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from ethos_core.redaction import engine, find_spans, redact_text
from ethos_core.redaction.engine import _JOIN

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "tests" / "data" / "secrets_corpus"
CORPUS_SIZE = 10 * 1024 * 1024
DS_SLICE = 1024 * 1024
CHUNK = 4096


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("secrets_corpus_generate", CORPUS_DIR / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _labelled() -> list[dict[str, Any]]:
    with (CORPUS_DIR / "corpus.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _chunk_latencies(fn: Any, text: str, n: int = 400) -> list[float]:
    out = []
    step = max(CHUNK, len(text) // n)
    for i in range(0, len(text) - CHUNK, step):
        chunk = text[i : i + CHUNK]
        start = time.perf_counter()
        fn(chunk)
        out.append((time.perf_counter() - start) * 1e6)
    return out


def _short_strings() -> list[str]:
    return ["tool", "web_fetch", "outcome", "ok", "duration_ms", "args", "url", "headers", "Accept", "text/html", "X-Trace", "none", "query", "result", "status", "retry_count", "content-type", "application/json"]


def _event_texts(count: int) -> list[str]:
    """The strings of an audit event's data (keys and values, ~1 KB), joined as find_spans_many does."""
    rnd = random.Random(7)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(3, 9))) for _ in range(3000)]
    texts = []
    for i in range(count):
        secret = "sk-" + "".join(rnd.choice("ABCDEFGHabcdefgh0123456789") for _ in range(40)) if i % 10 == 0 else "none"
        url = "https://example.com/" + "/".join(rnd.choices(words, k=4))
        strings = ["tool", "web_fetch", "outcome", "ok", "duration_ms", "args", "url", url, "headers", "Accept", "text/html"]
        strings += ["X-Trace", secret, "query", " ".join(rnd.choices(words, k=20)), "result", " ".join(rnd.choices(words, k=100))]
        texts.append(_JOIN.join(strings))
    return texts


RUNS = 3  # whole-corpus runs; the median, since other jobs share this machine


def _median_run(fn: Any) -> tuple[Any, float]:
    """``(result, median seconds)`` of :data:`RUNS` calls of ``fn``."""
    times = []
    result = None
    for _ in range(RUNS):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, sorted(times)[len(times) // 2]


def _timed(fn: Any, text: str) -> float:
    start = time.perf_counter()
    fn(text)
    return (time.perf_counter() - start) * 1e6


def _ethos_quality(rows: list[dict[str, Any]]) -> tuple[float, float, dict[str, tuple[int, int]]]:
    hit = total = flagged_neg = neg = 0
    per_label: dict[str, tuple[int, int]] = {}
    for row in rows:
        out = redact_text(row["text"])
        if row["label"] is None:
            neg += 1
            flagged_neg += out != row["text"]
            continue
        for secret in row["secrets"]:
            total += 1
            ok = not any(len(part) >= 8 and part in out for part in secret.split("\n") + [secret])
            hit += ok
            h, t = per_label.get(row["label"], (0, 0))
            per_label[row["label"]] = (h + ok, t + 1)
    recall = hit / total if total else 0.0
    precision = hit / (hit + flagged_neg) if hit + flagged_neg else 1.0
    return recall, precision, per_label


def _ds_scan(text: str) -> list[str]:
    from detect_secrets.core.scan import scan_line

    found: list[str] = []
    for line in text.splitlines():
        for secret in scan_line(line):
            if secret.secret_value:
                found.append(secret.secret_value)
    return found


def _ds_quality(rows: list[dict[str, Any]]) -> tuple[float, float, dict[str, tuple[int, int]]]:
    hit = total = flagged_neg = 0
    per_label: dict[str, tuple[int, int]] = {}
    for row in rows:
        found = _ds_scan(row["text"])
        if row["label"] is None:
            flagged_neg += bool(found)
            continue
        for secret in row["secrets"]:
            total += 1
            # detect-secrets reports the value it matched; count it when it covers the secret's core
            ok = any(v and (v in secret or secret in v) and len(v) >= min(len(secret), 12) for v in found)
            hit += ok
            h, t = per_label.get(row["label"], (0, 0))
            per_label[row["label"]] = (h + ok, t + 1)
    recall = hit / total if total else 0.0
    precision = hit / (hit + flagged_neg) if hit + flagged_neg else 1.0
    return recall, precision, per_label


def _row(name: str, workload: str, rate: float | None, unit: str, p50: float | None = None, p99: float | None = None, ratio: float | None = None, note: str = "") -> dict[str, Any]:
    return {"name": name, "workload": workload, "rate": rate, "unit": unit, "p50_us": p50, "p99_us": p99, "ratio": ratio, "note": note}


def run() -> list[dict[str, Any]]:
    gen = _generator()
    corpus = gen.mixed_corpus(CORPUS_SIZE)
    labelled = _labelled()
    known = {f"ref{i}": f"K{i:02d}-{'x7Q' * 6}{i}" for i in range(20)}
    rows: list[dict[str, Any]] = []

    # The first call builds the matching engine's tables (the Hyperscan database is compiled on
    # first use): reported on its own row, so the throughput rows measure steady state.
    start = time.perf_counter()
    find_spans("warm-up: password=hunter22 sk-ant-")
    first_ms = (time.perf_counter() - start) * 1e3
    rows.append(_row("redaction.ethos.first_call", f"one short text, engine={engine.ENGINE}", first_ms, "ms", note="one-time setup (Hyperscan: database compile)"))

    spans, elapsed = _median_run(lambda: find_spans(corpus))
    ethos_mbs = len(corpus) / elapsed / 1e6
    lat = _chunk_latencies(find_spans, corpus)
    rows.append(_row("redaction.ethos", "mixed 10 MB, 1 secret/KB", ethos_mbs, "MB/s", _pct(lat, 0.5), _pct(lat, 0.99), note=f"{len(spans)} spans; median of {RUNS} runs; p50/p99 per 4 KB chunk"))

    # The audit path: many short strings (dict keys, tool names, words) and ~1 KB events.
    keys = _short_strings()
    lat = []
    for _ in range(300):
        start = time.perf_counter()
        for key in keys:
            find_spans(key)
        lat.append((time.perf_counter() - start) * 1e6 / len(keys))
    rows.append(_row("redaction.ethos.keys", f"{len(keys)} short keys and words, no secret", sum(map(len, keys)) / len(keys) / _pct(lat, 0.5), "MB/s", _pct(lat, 0.5), _pct(lat, 0.99), note="per-call latency"))
    events = _event_texts(1000)
    lat = [_timed(find_spans, text) for text in events]
    rows.append(_row("redaction.ethos.event", "~1 KB audit events (17 strings joined)", sum(map(len, events)) / len(events) / _pct(lat, 0.5), "MB/s", _pct(lat, 0.5), _pct(lat, 0.99), note="per-call latency"))

    words = "the request completed with status ok while the worker retried the job after a timeout".split()
    prose = " ".join(words[(i * 7) % len(words)] for i in range(800))[:CHUNK]
    short = ("The job finished with status ok after 3 retries; see the dashboard for details. " * 3)[:200]
    for name, text, n in (("redaction.ethos.prose4k", prose, 300), ("redaction.ethos.short", short, 3000)):
        lat = [_timed(find_spans, text) for _ in range(n)]
        rows.append(_row(name, f"{len(text)} chars of ordinary prose, no secret", len(text) / _pct(lat, 0.5), "MB/s", _pct(lat, 0.5), _pct(lat, 0.99), note="per-call latency"))

    _, elapsed = _median_run(lambda: find_spans(corpus, known))
    rows.append(_row("redaction.ethos+known", "mixed 10 MB + 20 known values", len(corpus) / elapsed / 1e6, "MB/s", note=f"every form of 20 values; median of {RUNS} runs"))

    recall, precision, per_label = _ethos_quality(labelled)
    missed = sorted(label for label, (h, t) in per_label.items() if h < t)
    rows.append(_row("redaction.ethos.recall", f"labelled corpus ({len(labelled)} cases)", recall * 100, "%", note=f"missed: {', '.join(missed) or 'none'}"))
    rows.append(_row("redaction.ethos.precision", "labelled corpus", precision * 100, "%", note="negatives: SHAs, UUIDs, words, placeholders"))

    if importlib.util.find_spec("detect_secrets") is None:
        rows.append(_row("redaction.detect-secrets", "-", None, "-", note="detect-secrets not installed: pip install detect-secrets"))
        return rows
    from detect_secrets.settings import default_settings

    with default_settings():
        part = corpus[:DS_SLICE]
        start = time.perf_counter()
        _ds_scan(part)
        ds_mbs = len(part) / (time.perf_counter() - start) / 1e6
        ds_lat = _chunk_latencies(_ds_scan, part, n=50)
        rows.append(_row("redaction.detect-secrets", "mixed 1 MB slice, 1 secret/KB", ds_mbs, "MB/s", _pct(ds_lat, 0.5), _pct(ds_lat, 0.99), note="default plugins, scan_line"))
        next(r for r in rows if r["name"] == "redaction.ethos")["ratio"] = ethos_mbs / ds_mbs if ds_mbs else None
        ds_recall, ds_precision, ds_per_label = _ds_quality(labelled)
    supported = [label for label, (h, _t) in ds_per_label.items() if h > 0]
    worse = [label for label in supported if per_label[label][0] < ds_per_label[label][0]]
    rows.append(_row("redaction.detect-secrets.recall", "labelled corpus", ds_recall * 100, "%", ratio=recall / ds_recall if ds_recall else None, note=f"ethos worse on: {', '.join(worse) or 'none'}"))
    rows.append(_row("redaction.detect-secrets.precision", "labelled corpus", ds_precision * 100, "%", ratio=precision / ds_precision if ds_precision else None))
    return rows


if __name__ == "__main__":
    for r in run():
        print(r, file=sys.stdout)
