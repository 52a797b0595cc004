"""Tier-1 injection classifier: recall / false-positive rate on the labelled corpus, and speed.

Goals (issue #8): recall >= 90 %, false positives <= 3 %, p99 <= 5 ms for a 100 KB page.
``run()`` returns rows for ``python -m bench``; ``python -m bench.injection`` prints them.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from ethos_core.injection.classifier import classify

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "injection" / "corpus.jsonl"


def _page(size: int, clean: list[str]) -> str:
    rng = random.Random(42)
    parts: list[str] = []
    total = 0
    while total < size:
        text = rng.choice(clean) + "\n\n"
        parts.append(text)
        total += len(text)
    return "".join(parts)[:size]


def _percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def run() -> list[dict[str, Any]]:
    rows_in = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    attacks = [r["text"] for r in rows_in if r["label"] == "injection"]
    clean = [r["text"] for r in rows_in if r["label"] == "clean"]
    recall = sum(classify(t).flagged for t in attacks) / len(attacks)
    fp_rate = sum(classify(t).flagged for t in clean) / len(clean)

    page = _page(100_000, clean)
    classify(page)  # warm caches
    samples: list[float] = []
    for _ in range(50):
        start = time.perf_counter()
        classify(page)
        samples.append(time.perf_counter() - start)
    p50 = statistics.median(samples)
    p99 = _percentile(samples, 99)
    mb_s = (len(page.encode()) / 1e6) / p50

    result = _page(4_000, clean)  # the size of a typical untrusted tool result
    classify(result)
    small: list[float] = []
    for _ in range(200):
        start = time.perf_counter()
        classify(result)
        small.append(time.perf_counter() - start)
    return [
        {"name": "injection.tier1.recall", "workload": f"{len(attacks)} labelled injections", "rate": round(recall * 100, 1),
         "unit": "%", "p50_us": None, "p99_us": None, "ratio": round(recall / 0.90, 2), "note": "goal >= 90 %"},
        {"name": "injection.tier1.false_positives", "workload": f"{len(clean)} clean look-alikes", "rate": round(fp_rate * 100, 1),
         "unit": "%", "p50_us": None, "p99_us": None, "ratio": round(fp_rate / 0.03, 2), "note": "goal <= 3 %"},
        {"name": "injection.tier1.throughput", "workload": "100 KB page of clean look-alikes", "rate": round(mb_s, 2),
         "unit": "MB/s", "p50_us": round(p50 * 1e6), "p99_us": round(p99 * 1e6), "ratio": round(p99 / 0.005, 2),
         "note": "ratio = p99 / 5 ms goal"},
        {"name": "injection.tier1.tool_result_4kb", "workload": "4 KB of clean look-alikes (one tool result)", "rate": None,
         "unit": "", "p50_us": round(statistics.median(small) * 1e6), "p99_us": round(_percentile(small, 99) * 1e6),
         "ratio": None, "note": "per-call cost in the agent loop"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
