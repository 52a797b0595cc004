"""Tier-1 injection classifier: recall / false-positive rate on the labelled corpus, and speed.

Goals (issue #8): recall >= 90 %, false positives <= 3 %, p99 <= 5 ms for a 100 KB page; per
tool result (4 KB) as little as possible of the agent loop's 300 µs safety budget. The 100 KB
page and the first 4 KB row are built from the clean look-alikes (texts *about* prompt
injection: the densest trigger words tier-1 sees); the last two 4 KB rows are the everyday
cases: plain prose, and one repeated letter.
``run()`` returns rows for ``python -m bench``; ``python -m bench.injection`` prints them.
The phrase engine (hyperscan, or pure Python with ``ETHOS_TIER1_ENGINE=python``) is named in
the throughput row's note.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from ethos_core.injection import classifier
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


def _prose(size: int) -> str:
    """Plain prose without trigger words (a fixed vocabulary, seeded)."""
    rng = random.Random(7)
    words = "garden soil water light season harvest tomato seed compost shade path fence bird rain".split()
    parts: list[str] = []
    total = 0
    while total < size:
        sentence = " ".join(rng.choice(words) for _ in range(12)).capitalize() + ". "
        parts.append(sentence)
        total += len(sentence)
    return "".join(parts)[:size]


def _time_4kb(text: str, runs: int = 200) -> list[float]:
    classify(text)
    samples: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        classify(text)
        samples.append(time.perf_counter() - start)
    return samples


def _percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def run() -> list[dict[str, Any]]:
    classifier.warm_up(block=True)  # measure the engine in service, not its compile-time stand-in
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

    small = _time_4kb(_page(4_000, clean))  # the size of a typical untrusted tool result
    prose = _time_4kb(_prose(4_000))
    letter = _time_4kb("a" * 4_000)
    return [
        {"name": "injection.tier1.recall", "workload": f"{len(attacks)} labelled injections", "rate": round(recall * 100, 1),
         "unit": "%", "p50_us": None, "p99_us": None, "ratio": round(recall / 0.90, 2), "note": "goal >= 90 %"},
        {"name": "injection.tier1.false_positives", "workload": f"{len(clean)} clean look-alikes", "rate": round(fp_rate * 100, 1),
         "unit": "%", "p50_us": None, "p99_us": None, "ratio": round(fp_rate / 0.03, 2), "note": "goal <= 3 %"},
        {"name": "injection.tier1.throughput", "workload": "100 KB page of clean look-alikes", "rate": round(mb_s, 2),
         "unit": "MB/s", "p50_us": round(p50 * 1e6), "p99_us": round(p99 * 1e6), "ratio": round(p99 / 0.005, 2),
         "note": f"ratio = p99 / 5 ms goal; engine {classifier.ENGINE}"},
        {"name": "injection.tier1.tool_result_4kb", "workload": "4 KB of clean look-alikes (one tool result)", "rate": None,
         "unit": "", "p50_us": round(statistics.median(small) * 1e6), "p99_us": round(_percentile(small, 99) * 1e6),
         "ratio": None, "note": "per-call cost in the agent loop"},
        {"name": "injection.tier1.tool_result_4kb_prose", "workload": "4 KB of plain prose, no trigger words", "rate": None,
         "unit": "", "p50_us": round(statistics.median(prose) * 1e6), "p99_us": round(_percentile(prose, 99) * 1e6),
         "ratio": None, "note": "everyday tool result"},
        {"name": "injection.tier1.tool_result_4kb_letter", "workload": "4 KB of one repeated letter", "rate": None,
         "unit": "", "p50_us": round(statistics.median(letter) * 1e6), "p99_us": round(_percentile(letter, 99) * 1e6),
         "ratio": None, "note": "trivial input"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
