"""Benchmark for stage ⑩: URL judgments per second and the safe fetch's per-request overhead.

Rows (``run() -> list[dict]``, keys name, workload, rate, unit, p50_us, p99_us, ratio, note):
- judge_url on literal-address URLs (distinct addresses, so nothing is served from a cache);
- judge_url on names answered by a stub resolver (same host, distinct paths);
- a plain ``httpx.Client`` GET against a local keep-alive HTTP server;
- the same GETs through :class:`SafeFetcher` (judgment + pinned transport + bounded read), with
  ``ratio`` = safe-fetch time per request / plain-client time per request (goal ≤ 1.25).
"""

from __future__ import annotations

import http.server
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from ethos_core.network.fetch import SafeFetcher
from ethos_core.network.judge import judge_url, make_judge
from ethos_core.network.resolver import StaticResolver
from ethos_core.types import NetworkRule

BODY = b"x" * 2048


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024  # one write per response: no Nagle / delayed-ACK stalls
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


def _timed(fn: Callable[[int], object], n: int) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return samples


def _row(
    name: str, workload: str, samples: list[float], unit: str, ratio: float | None = None, note: str = ""
) -> dict[str, Any]:
    ordered = sorted(samples)
    total = sum(samples)
    return {
        "name": name,
        "workload": workload,
        "rate": round(len(samples) / total, 1) if total else 0.0,
        "unit": unit,
        "p50_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6, 1),
        "ratio": None if ratio is None else round(ratio, 3),
        "note": note,
    }


def run(judgments: int = 5000, requests: int = 400) -> list[dict[str, Any]]:
    rows = []
    reach = (NetworkRule("api.example.com", (443,)), NetworkRule("*.example.net", (443,)))
    literal_reach = tuple(NetworkRule(f"8.8.{i // 250}.{i % 250 + 1}", (443,)) for i in range(8))

    def literal(i: int) -> object:
        return judge_url(
            f"https://8.{i % 200 + 1}.{i // 200 % 250}.{i % 250 + 1}/p", reach=literal_reach, reach_declared=True
        )

    rows.append(
        _row(
            "url_check.literal",
            f"{judgments} literal-address URLs (floor + reach)",
            _timed(literal, judgments),
            "judgments/s",
        )
    )

    resolver = StaticResolver({"api.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})

    def resolved(i: int) -> object:
        return judge_url(
            f"https://api.example.com/repos/{i}?page={i}", reach=reach, reach_declared=True, resolver=resolver
        )

    rows.append(
        _row(
            "url_check.stub_resolved",
            f"{judgments} names via stub resolver (A+AAAA)",
            _timed(resolved, judgments),
            "judgments/s",
        )
    )

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    port = httpd.server_address[1]
    url = f"http://127.0.0.1:{port}/bench"
    try:
        with httpx.Client(trust_env=False) as client:
            client.get(url)  # warm the connection
            plain = _timed(lambda _i: client.get(url).content, requests)
        judge = make_judge(
            reach=(NetworkRule("127.0.0.1", (port,)),), reach_declared=True, allow_cidrs=("127.0.0.1/32",)
        )
        with SafeFetcher(judge) as fetcher:
            fetcher.get(url)
            safe = _timed(lambda _i: fetcher.get(url).body, requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    plain_mean = sum(plain) / len(plain)
    safe_mean = sum(safe) / len(safe)
    rows.append(
        _row("url_check.httpx_plain", f"{requests} GETs, local keep-alive server", plain, "req/s", 1.0, "baseline")
    )
    rows.append(
        _row(
            "url_check.safe_fetch",
            f"{requests} GETs, local keep-alive server",
            safe,
            "req/s",
            safe_mean / plain_mean,
            "ratio = time per request vs plain httpx.Client; goal <= 1.25",
        )
    )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
