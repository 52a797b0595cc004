"""Run every benchmark (or the named ones) and print one table.

Each benchmark module exposes ``run() -> list[dict]`` rows with keys: name, workload, rate,
unit, p50_us, p99_us, ratio, note. ``--json`` prints the rows as JSON instead.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from typing import Any

BENCHMARKS = (
    "audit_write", "redaction", "command_check", "fs_check", "url_check", "injection", "watcher", "scan",
    "turn_overhead",
)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    rows: list[dict[str, Any]] = []
    failed = 0
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"[skip] bench.{name}: not present", file=sys.stderr)
                continue
            raise
        start = time.perf_counter()
        try:
            result = module.run()
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            failed += 1
            print(f"[fail] bench.{name}:\n{traceback.format_exc()}", file=sys.stderr)
            continue
        print(f"[done] bench.{name} in {time.perf_counter() - start:.1f}s", file=sys.stderr)
        for row in result:
            rows.append({"bench": name, **row})
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 1 if failed else 0
    headers = ("name", "workload", "rate", "unit", "p50 µs", "p99 µs", "ratio", "note")
    keys = ("name", "workload", "rate", "unit", "p50_us", "p99_us", "ratio", "note")
    table = [[_fmt(row.get(k)) for k in keys] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in table)) if table else len(h) for i, h in enumerate(headers)]
    widths[-1] = len(headers[-1])  # the note runs free
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
