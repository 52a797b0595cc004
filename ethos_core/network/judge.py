"""URL judgment for stage ⑩: one function from a URL to a decision and the addresses to dial.

Invariant: :func:`judge_url` returns an ALLOW decision only together with a
:class:`JudgedTarget` whose ``addresses`` are every address the host resolved to, each of which
passed the address floor; the safe fetch connects to those addresses and nothing else. The
order of checks is fixed and the first failure decides: method → URL syntax and scheme →
host name and literal-address floor → networkReach (so a host the personality may not reach
never causes a DNS query) → resolution (failure denies) → every resolved address (a name is
denied if **any** of its addresses is denied).

Not covered: the response (see :mod:`ethos_core.network.fetch`), plugins' extra narrowing
(the pipeline adds those), and approvals (stage ⑫).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable, Sequence

import attrs

from ethos_core.network import rules as R
from ethos_core.network.address import IPNetwork, judge_address, judge_name, parse_allow_cidrs
from ethos_core.network.reach import judge_reach
from ethos_core.network.resolver import ResolutionError, Resolver, SystemResolver
from ethos_core.network.url import ParsedUrl, UrlRefused, parse_url
from ethos_core.stages import Stage
from ethos_core.types import Decision, NetworkRule, UrlAccess

ALLOWED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MAX_ADDRESSES = 32

STAGE = Stage.NETWORK_REACH
_parse_ip = functools.lru_cache(maxsize=4096)(ipaddress.ip_address)


@attrs.frozen
class JudgedTarget:
    """Where an allowed request goes: normalised scheme, host and port, and the validated
    addresses the connection is pinned to (in resolver order)."""

    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    target: str
    url: str
    host_kind: str = "name"

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


Judge = Callable[[UrlAccess], tuple[Decision, JudgedTarget | None]]


def _deny(rule: str, reason: str, **evidence: object) -> tuple[Decision, None]:
    return Decision.deny(STAGE, rule, reason, evidence={k: v for k, v in evidence.items() if v is not None}), None


def _networks(allow_cidrs: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    nets: list[IPNetwork] = []
    texts: list[str] = []
    for item in allow_cidrs:
        if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            nets.append(item)
        else:
            texts.append(str(item))
    return tuple(nets) + parse_allow_cidrs(tuple(texts))


def judge_url(
    url: str,
    *,
    reach: Sequence[NetworkRule],
    reach_declared: bool,
    resolver: Resolver | None = None,
    allow_cidrs: Iterable[str | IPNetwork] = (),
    method: str = "GET",
    tool_hosts: Iterable[str] | None = None,
    tool: str | None = None,
) -> tuple[Decision, JudgedTarget | None]:
    """Judge ``url`` for a personality; see the module docstring for the order of checks."""
    verb = str(method).upper()
    if verb not in ALLOWED_METHODS:
        return _deny(R.METHOD_DENIED, f"method {method!r} is not sent by the safe fetch")
    try:
        parsed = parse_url(url)
    except UrlRefused as refusal:
        return _deny(refusal.rule, refusal.reason)
    host = parsed.host
    allow = _networks(allow_cidrs)
    evidence_host = host.value
    if host.kind == "name":
        named = judge_name(host.value)
        if named is not None:
            return _deny(*named, host=evidence_host)
    else:
        literal = _parse_ip(host.value)
        verdict = judge_address(literal, allow)
        if verdict is not None:
            return _deny(*verdict, host=evidence_host)
        if host.zone is not None:
            return _deny(R.URL_AMBIGUOUS, f"zone id %{host.zone} on a routable address", host=evidence_host)
    rule, reason, entry = judge_reach(host, parsed.port, reach, reach_declared, tool_hosts, tool)
    if rule != R.ALLOWED:
        return _deny(rule, reason, host=evidence_host, port=parsed.port)
    if host.kind == "name":
        resolved = _resolve(parsed, resolver)
        if isinstance(resolved, Decision):
            return resolved, None
        addresses = resolved
    else:
        addresses = (host.value,)
    for text in addresses:
        addr = _parse_ip(text)
        verdict = judge_address(addr, allow)
        if verdict is not None:
            rule_id, why = verdict
            return _deny(rule_id, f"{host.value} resolves to {why}", host=evidence_host, addresses=list(addresses))
    target = JudgedTarget(
        scheme=parsed.scheme,
        host=host.value,
        port=parsed.port,
        addresses=tuple(addresses),
        target=parsed.target,
        url=parsed.geturl(),
        host_kind=host.kind,
    )
    decision = Decision.allow(
        STAGE,
        R.ALLOWED,
        reason,
        evidence={"host": host.value, "port": parsed.port, "addresses": list(addresses), "entry": entry},
    )
    return decision, target


def _resolve(parsed: ParsedUrl, resolver: Resolver | None) -> tuple[str, ...] | Decision:
    name = parsed.host.value
    try:
        answer = tuple((resolver or SystemResolver()).resolve(name))
    except ResolutionError as exc:
        return Decision.deny(STAGE, R.DNS_FAILED, f"could not resolve {name}: {exc}", evidence={"host": name})
    except Exception as exc:  # noqa: BLE001 - a broken resolver denies
        return Decision.deny(
            STAGE, R.DNS_FAILED, f"resolver failed for {name}: {type(exc).__name__}", evidence={"host": name}
        )
    if not answer:
        return Decision.deny(STAGE, R.DNS_FAILED, f"{name} has no addresses", evidence={"host": name})
    out: dict[str, None] = {}
    for raw in answer[:MAX_ADDRESSES]:
        try:
            addr = _parse_ip(str(raw).strip())
        except ValueError:
            return Decision.deny(
                STAGE, R.DNS_FAILED, f"resolver answered {raw!r} for {name}, not an IP address", evidence={"host": name}
            )
        if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id is not None:
            verdict = judge_address(addr)  # judged without the zone; a zoned answer never passes
            if verdict is not None:
                return Decision.deny(STAGE, verdict[0], f"{name} resolves to {verdict[1]}", evidence={"host": name})
            return Decision.deny(STAGE, R.DNS_FAILED, f"resolver answered a zoned address for {name}")
        out.setdefault(str(addr), None)
    return tuple(out)


def make_judge(
    *,
    reach: Sequence[NetworkRule],
    reach_declared: bool,
    resolver: Resolver | None = None,
    allow_cidrs: Iterable[str | IPNetwork] = (),
    tool_hosts: Iterable[str] | None = None,
) -> Judge:
    """A :data:`Judge` closure over one personality's policy (``access.resolve`` wins over
    ``resolver`` when given, as in ``ethos check url --resolve``)."""
    from ethos_core.network.resolver import StaticResolver

    nets = _networks(allow_cidrs)
    hosts = None if tool_hosts is None else tuple(tool_hosts)

    def judge(access: UrlAccess) -> tuple[Decision, JudgedTarget | None]:
        use: Resolver | None = resolver
        if access.resolve is not None:
            use = StaticResolver(access.resolve)
        return judge_url(
            access.url,
            reach=reach,
            reach_declared=reach_declared,
            resolver=use,
            allow_cidrs=nets,
            method=access.method,
            tool_hosts=hosts,
            tool=access.tool,
        )

    return judge


def with_pipeline(floor: Judge, stage: Callable[[UrlAccess], Decision]) -> Judge:
    """Route every hop through the full stage ⑩ (built-in + plugins) as well as the floor.

    The floor resolves once; the pipeline then sees the same answer through ``access.resolve``
    so plugins and the built-in judge exactly the addresses the connection will use. Only an
    ALLOW from both lets the hop proceed; otherwise the stricter decision is returned.
    """

    def judge(access: UrlAccess) -> tuple[Decision, JudgedTarget | None]:
        decision, target = floor(access)
        if target is None or not decision.allowed:
            return decision, None
        pinned = attrs.evolve(access, resolve={target.host: target.addresses}) if target.host_kind == "name" else access
        staged = stage(pinned)
        if not isinstance(staged, Decision):
            return Decision.deny(STAGE, "plugin.bad_return", "network stage returned no decision"), None
        if not staged.allowed:
            return staged, None
        return decision, target

    return judge
