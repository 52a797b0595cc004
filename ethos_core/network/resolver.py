"""Pluggable DNS resolution for network judgment.

Invariant: a resolver either returns the addresses it found or raises :class:`ResolutionError`;
the judge treats an exception, an empty answer or anything that is not an IP address as
``dns.failed`` (fail closed). The addresses judged are the addresses the safe fetch connects
to — nothing resolves the name a second time.

- :class:`SystemResolver` uses ``socket.getaddrinfo`` (both A and AAAA answers, in the order the
  system returns them).
- :class:`StaticResolver` answers from a mapping only (``ethos check url --resolve``, tests); a
  host missing from the mapping fails — it never falls back to DNS.

Not covered: DNS itself as an exfiltration channel for hosts networkReach allows (the judge
resolves only hosts networkReach already allows), and the system resolver's own timeout.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from ethos_core.network.url import UrlRefused, normalise_host


class ResolutionError(LookupError):
    """A name could not be resolved."""


@runtime_checkable
class Resolver(Protocol):
    def resolve(self, host: str) -> Sequence[str]:
        """Addresses for the normalised ASCII ``host``; raise :class:`ResolutionError` on failure."""
        ...


class SystemResolver:
    """``socket.getaddrinfo`` for TCP; A and AAAA answers, duplicates removed, order kept."""

    def resolve(self, host: str) -> Sequence[str]:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            raise ResolutionError(f"{host}: {exc}") from None
        out: dict[str, None] = {}
        for family, _type, _proto, _canon, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                out.setdefault(str(sockaddr[0]), None)
        if not out:
            raise ResolutionError(f"{host}: no IPv4 or IPv6 address")
        return tuple(out)


def _key(host: str) -> str:
    try:
        return normalise_host(host).value
    except UrlRefused:
        return host.strip().lower().rstrip(".")


class StaticResolver:
    """Answers only from ``mapping`` ({host: address or [addresses]}); everything else fails."""

    def __init__(self, mapping: Mapping[str, str | Iterable[str]]):
        table: dict[str, tuple[str, ...]] = {}
        for host, addrs in mapping.items():
            values = (addrs,) if isinstance(addrs, str) else tuple(addrs)
            table[_key(str(host))] = tuple(str(a).strip() for a in values)
        self.mapping = table

    def resolve(self, host: str) -> Sequence[str]:
        try:
            answer = self.mapping[_key(host)]
        except KeyError:
            raise ResolutionError(f"{host}: not in the --resolve mapping") from None
        if not answer:
            raise ResolutionError(f"{host}: empty answer")
        return answer
