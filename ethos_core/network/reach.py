"""Per-personality ``safety.networkReach``: which hosts and ports a personality may reach.

Invariant: a host is reachable only when the personality declared networkReach and one of its
entries matches the normalised host *and* lists the port; when the calling tool declares hosts,
the host must match one of those too (intersection). Entry hosts are normalised exactly like URL
hosts (UTS-46, IDNA, IPv4 spellings), so ``ＡＰＩ.github.com`` and ``api.github.com`` are one
entry and a Cyrillic look-alike never matches a Latin entry.

Wildcards: ``*.slack.com`` matches every subdomain at any depth (``a.slack.com``,
``a.b.slack.com``) and **not** the apex ``slack.com`` — list the apex separately. A bare ``*``,
a ``*`` anywhere but a leading ``*.`` label, or a wildcard over an IP literal matches nothing
(and ``config validate --strict`` rejects it, see :func:`rule_problem`). An entry with an empty
``ports`` list matches no port.

Not covered: the address floor (SSRF rules apply to every host whatever networkReach says).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from ethos_core.network import rules as R
from ethos_core.network.url import Host, UrlRefused, normalise_host
from ethos_core.types import NetworkRule


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> tuple[str, str] | None:
    """``("exact", host)`` or ``("suffix", ".domain")``; ``None`` for an entry that matches nothing."""
    text = pattern.strip()
    wildcard = text.startswith("*.")
    if wildcard:
        text = text[2:]
    if not text or "*" in text:
        return None
    try:
        host = normalise_host(text)
    except UrlRefused:
        return None
    if wildcard:
        if host.kind != "name":
            return None
        return ("suffix", "." + host.value)
    return ("exact", host.value)


def rule_problem(pattern: str) -> str | None:
    """Why a networkReach ``host`` entry is unusable, or ``None`` (for ``config validate``)."""
    text = pattern.strip()
    if text == "*" or text in ("*.*", "*."):
        return f"host {pattern!r} would allow every host; list the hosts the personality needs"
    if compile_pattern(pattern) is None:
        return f"host {pattern!r} is not a host name, an IP address or '*.domain'; it matches nothing"
    return None


def host_matches(pattern: str, host: Host) -> bool:
    compiled = compile_pattern(pattern)
    if compiled is None:
        return False
    kind, value = compiled
    if kind == "exact":
        return host.value == value
    return host.kind == "name" and host.value.endswith(value)


def judge_reach(
    host: Host,
    port: int,
    reach: Iterable[NetworkRule],
    declared: bool,
    tool_hosts: Iterable[str] | None = None,
    tool: str | None = None,
) -> tuple[str, str, str | None]:
    """``(rule, reason, matched_entry)``; rule is :data:`rules.ALLOWED` when reachable."""
    entries = tuple(reach)
    if not declared or not entries:
        return R.REACH_NONE, "this personality declares no safety.networkReach, so it has no network egress", None
    matched = [e for e in entries if host_matches(e.host, host)]
    if not matched:
        return R.REACH_HOST, f"{host.value} is not in this personality's safety.networkReach", None
    for entry in matched:
        if port in entry.ports:
            break
    else:
        listed = sorted({p for e in matched for p in e.ports})
        return R.REACH_PORT, f"port {port} is not allowed for {host.value} (networkReach lists {listed})", None
    if tool_hosts is not None:
        declared_hosts = tuple(tool_hosts)
        if declared_hosts and not any(host_matches(p, host) for p in declared_hosts):
            who = f"tool {tool!r}" if tool else "the tool"
            return R.REACH_TOOL_HOST, f"{host.value} is not among the hosts {who} declares", None
    return R.ALLOWED, f"{host.value}:{port} allowed by networkReach entry {entry.host!r}", entry.host
