"""Benchmark: sustained audit writes of ~1 KB events with redaction on (issue #3).

Rows: the batched :class:`~ethos_core.audit.AuditStore` with one producer and with eight
producer threads (events/s until ``flush()`` returns, p50/p99 of the ``write()`` call), and the
naive comparison in the same run: the same redaction, chaining and FTS indexing, but one
``BEGIN … COMMIT`` per event. Both use the store's pragmas (WAL, ``synchronous=FULL``).
Goal: ≥ 20,000 events/s and ≥ 20× the naive insert.

Redaction in the headline rows is ethos's real stage ⑬ (:func:`ethos_core.redaction.find_spans`
with resolved secret values) used the way the engine uses it: ONE scan per call of all the
strings given, joined by a separator no pattern crosses, strings already produced by an earlier
redaction skipped (``Engine._redact_many``), handed to the store as ``redact_many`` (the store
calls it once per group of queued events). The stand-in row uses a small regex called once per
string, and the identity row no redaction work. ``write()``'s p50/p99 is the producer's cost
(the agent's critical path); the rate counts until ``flush()`` returns.
"""

from __future__ import annotations

import random
import re
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ethos_core.audit.chain import canonical_json, row_hash_from_parts
from ethos_core.audit.schema import FTS_INDEX_SQL, connect, migrate
from ethos_core.audit.scrub import ManyRedactor
from ethos_core.audit.store import _INSERT_SQL, AuditStore
from ethos_core.pipeline import apply_spans
from ethos_core.redaction import find_spans
from ethos_core.types import AuditEvent, thaw

# Credential shapes the redactor hides (bounded quantifiers), plus known secret values.
_PATTERNS = re.compile(
    r"sk-ant-[A-Za-z0-9_\-]{16,200}|sk-[A-Za-z0-9_\-]{20,200}|xox[abposr]-[A-Za-z0-9\-]{10,200}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{30,255}"
)
_KNOWN = ("hunter2-correct-horse", "s3cr3t-db-password-value")


def redactor(text: str) -> str:
    """The stand-in: a small regex and two known values, called once per string."""
    out = _PATTERNS.sub("[REDACTED:credential]", text)
    for value in _KNOWN:
        if value in out:
            out = out.replace(value, "[REDACTED:secret]")
    return out


# Resolved secret values, as ``runtime.secret_values`` holds them (known-value redaction).
_SECRET_VALUES = {"db_password": "s3cr3t-db-password-value", "admin": "hunter2-correct-horse"}
_SEPARATOR = "\n\x00\x1e\x00\n"  # Engine._redact_many's separator


class EngineRedactor:
    """Stage ⑬ as the engine runs it for audit events (``Engine._redact_many`` + ``redact``).

    One :func:`find_spans` scan over the event's strings joined by the separator; strings that
    are already outputs of a redaction are skipped (redaction is idempotent); outputs are
    remembered in a bounded set, cleared past 8,192 entries as ``Engine.redact`` does.
    """

    def __init__(self, known: dict[str, str] | None = None) -> None:
        self.known = dict(_SECRET_VALUES if known is None else known)
        self.outputs: dict[str, None] = {}

    def one(self, text: str) -> str:
        if text in self.outputs:
            return text
        out = apply_spans(text, find_spans(text, self.known))
        self._remember([out])
        return out

    def many(self, texts: list[str]) -> list[str]:
        outputs = self.outputs
        pending = [i for i, t in enumerate(texts) if t and t not in outputs]
        out = list(texts)
        if not pending:
            return out
        parts = [texts[i] for i in pending]
        joined = _SEPARATOR.join(parts)
        redacted = apply_spans(joined, find_spans(joined, self.known)).split(_SEPARATOR)
        if len(redacted) != len(pending) or joined.count(_SEPARATOR) != len(pending) - 1:
            redacted = [self.one(t) for t in parts]  # a redaction crossed a separator: one scan each
        for i, value in zip(pending, redacted, strict=True):
            out[i] = value
        self._remember(redacted)
        return out

    def _remember(self, values: list[str]) -> None:
        # No lock, as in the engine: a lost entry only costs a second scan of that string.
        if len(self.outputs) > 8192:
            self.outputs.clear()
        self.outputs.update(dict.fromkeys(values))


def make_events(count: int, seed: int = 7) -> list[AuditEvent]:
    """``count`` distinct events whose stored data is about 1 KB, some carrying secrets."""
    rnd = random.Random(seed)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(3, 9))) for _ in range(3000)]
    events = []
    for i in range(count):
        secret = "sk-" + "".join(rnd.choice("ABCDEFGHabcdefgh0123456789") for _ in range(40)) if i % 10 == 0 else ""
        data = {
            "tool": "web_fetch",
            "outcome": "ok",
            "duration_ms": rnd.random() * 100,
            "args": {
                "url": "https://example.com/" + "/".join(rnd.choices(words, k=4)),
                "headers": {"Accept": "text/html", "X-Trace": secret or "none"},
                "query": " ".join(rnd.choices(words, k=20)),
            },
            "result": " ".join(rnd.choices(words, k=100)),
        }
        events.append(
            AuditEvent(
                category="audit.tool_call",
                code="tool_call.ok",
                personality="bench",
                session=f"s{i % 17}",
                turn=i % 50,
                stage="audit",
                source="bench",
                data=data,
            )
        )
    return events


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    p50 = ordered[len(ordered) // 2] / 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000
    return p50, p99


def bench_store(
    path: Path,
    events: list[AuditEvent],
    threads: int,
    redact: Callable[[str], str] | None = None,
    redact_many: ManyRedactor | None = None,
) -> tuple[float, float, float, int]:
    if redact is None and redact_many is None:
        engine = EngineRedactor()
        redact, redact_many = engine.one, engine.many
    store = AuditStore(path, redact=redact, redact_many=redact_many)
    store.register_policy("bench", {"fs_reach": {"read": ["~/work"]}})
    per_thread = len(events) // threads
    latencies: list[list[int]] = [[] for _ in range(threads)]

    def produce(k: int) -> None:
        lat = latencies[k]
        write = store.write
        clock = time.perf_counter_ns
        for event in events[k * per_thread : (k + 1) * per_thread]:
            t0 = clock()
            write(event)
            lat.append(clock() - t0)

    start = time.perf_counter()
    workers = [threading.Thread(target=produce, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    store.flush(timeout=None)
    elapsed = time.perf_counter() - start
    written = store.health()["events_written"]
    store.close()
    p50, p99 = _percentiles([x for lat in latencies for x in lat])
    return per_thread * threads / elapsed, p50, p99, written


def bench_naive(path: Path, events: list[AuditEvent]) -> tuple[float, float, float]:
    """Same row building (the same stage-⑬ redaction), one transaction per event."""
    conn = connect(path)
    migrate(conn)
    engine = EngineRedactor()
    helper = AuditStore(path.with_name("helper.db"), redact=engine.one, redact_many=engine.many)
    samples: list[int] = []
    start = time.perf_counter()
    for event in events:
        t0 = time.perf_counter_ns()
        values, head, search = helper._prepare(event)
        conn.execute("BEGIN IMMEDIATE")
        head_id, head_hash = conn.execute("SELECT head_id, head_hash FROM chain WHERE k = 1").fetchone()
        new_id = int(head_id) + 1
        digest = row_hash_from_parts(str(head_hash), new_id, head, values[-1])
        conn.execute(_INSERT_SQL, (new_id, *values, head_hash, digest, search))
        conn.execute(FTS_INDEX_SQL, (new_id - 1, new_id))
        conn.execute("UPDATE chain SET head_id = ?, head_hash = ? WHERE k = 1", (new_id, digest))
        conn.execute("COMMIT")
        samples.append(time.perf_counter_ns() - t0)
    elapsed = time.perf_counter() - start
    conn.close()
    helper.close()
    p50, p99 = _percentiles(samples)
    return len(events) / elapsed, p50, p99


def _row(name: str, workload: str, rate: float, p50: float, p99: float, naive: float, note: str) -> dict[str, Any]:
    return {
        "name": name,
        "workload": workload,
        "rate": round(rate),
        "unit": "events/s",
        "p50_us": round(p50, 1),
        "p99_us": round(p99, 1),
        "ratio": round(rate / naive, 1),
        "note": note,
    }


def run(n_events: int = 40_000, n_naive: int = 1_500) -> list[dict[str, Any]]:
    events = make_events(n_events)
    size = len(canonical_json(thaw(events[1].data)))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ethos-bench-audit-") as tmp:
        naive_rate, n50, n99 = bench_naive(Path(tmp) / "naive.db", events[:n_naive])
        for threads in (1, 8):
            rate, p50, p99, written = bench_store(Path(tmp) / f"store{threads}.db", events, threads)
            rows.append(
                _row(
                    f"audit_write.store_{threads}thread",
                    f"{n_events} events ~{size} B, stage-13 redaction (one scan/call), {threads} producer(s)",
                    rate, p50, p99, naive_rate,
                    f"p50/p99 of write(); ratio vs naive; {written} written (exact)",
                )
            )
        rate, p50, p99, written = bench_store(Path(tmp) / "standin.db", events, 1, redact=redactor)
        rows.append(
            _row(
                "audit_write.store_standin_redactor",
                f"{n_events} events ~{size} B, 1 producer, stand-in regex called per string",
                rate, p50, p99, naive_rate,
                f"not stage 13: a small regex per string (the pre-batch bench model); {written} written",
            )
        )
        rate, p50, p99, written = bench_store(Path(tmp) / "identity.db", events, 1, redact_many=lambda texts: texts)
        rows.append(
            _row(
                "audit_write.store_identity_redactor",
                f"{n_events} events ~{size} B, 1 producer, redactor returns its input",
                rate, p50, p99, naive_rate,
                "the store's own cost without stage-13 work",
            )
        )
        rows.append(
            _row(
                "audit_write.naive",
                f"{n_naive} events ~{size} B, one transaction per event",
                naive_rate, n50, n99, naive_rate,
                "comparison: same stage-13 redaction, chain and FTS, BEGIN…COMMIT per event",
            )
        )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
