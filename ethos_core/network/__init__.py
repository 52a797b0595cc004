"""Network reach (stage ⑩) and the safe fetch.

- :func:`judge_url` — one URL to ``(Decision, JudgedTarget | None)``; the built-in stage floor.
- :class:`SafeFetcher` — HTTP(S) egress pinned to judged addresses, every redirect hop judged.
- :class:`StaticResolver` / :class:`SystemResolver` — pluggable DNS (``dns_resolver`` service).
- :mod:`ethos_core.network.rules` — every rule id, documented in docs/network.md.
"""

from ethos_core.network.fetch import FetchError, FetchLimits, FetchRefused, FetchResponse, SafeFetcher
from ethos_core.network.judge import Judge, JudgedTarget, judge_url, make_judge, with_pipeline
from ethos_core.network.reach import rule_problem
from ethos_core.network.resolver import ResolutionError, Resolver, StaticResolver, SystemResolver

__all__ = [
    "FetchError",
    "FetchLimits",
    "FetchRefused",
    "FetchResponse",
    "Judge",
    "JudgedTarget",
    "ResolutionError",
    "Resolver",
    "SafeFetcher",
    "StaticResolver",
    "SystemResolver",
    "judge_url",
    "make_judge",
    "rule_problem",
    "with_pipeline",
]
