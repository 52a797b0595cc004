"""Address judgment: is one IP address a place the agent may connect to?

Invariant: :func:`judge_address` returns ``None`` only for a globally routable unicast address
that is not cloud metadata, or for an address inside an operator's ``network.allowCidrs``
exception that is not metadata. IPv6 forms that carry an IPv4 address (mapped, compatible,
SIIT, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``, 6to4, Teredo server and client, ISATAP)
are unwrapped and every embedded address is judged too; each denied candidate must be excepted
on its own. Metadata is checked first and is never excepted.

Also here: :func:`parse_ipv4_host`, the WHATWG-style IPv4 host parser (decimal, octal, hex,
short forms like ``127.1``, mixed), so a host that *any* common stack would read as a number
is judged as that number and never handed to DNS.

Not covered: whether a public address belongs to someone you trust (that is networkReach),
and routes the OS adds for addresses that look public (an operator's VPN, fake-IP DNS).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from ethos_core.network import rules as R

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# --- metadata ------------------------------------------------------------------------------

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure IMDS, DigitalOcean, OpenStack, Oracle
        "169.254.170.2",  # AWS ECS task metadata / credentials
        "169.254.170.23",  # AWS EKS pod identity agent
        "168.63.129.16",  # Azure wireserver (a public-looking address)
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity agent over IPv6
        "fd20:ce::254",  # GCP metadata over IPv6
    )
)

# Names judged before any DNS query: they are metadata or loopback wherever you are.
METADATA_NAMES: frozenset[str] = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
LOOPBACK_NAMES: frozenset[str] = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def judge_name(host: str) -> tuple[str, str] | None:
    """Rule and reason for a host *name* that is denied before resolution, else ``None``."""
    if host in METADATA_NAMES:
        return R.SSRF_METADATA, f"{host} is a cloud metadata name"
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return R.SSRF_LOOPBACK, f"{host} is a loopback name"
    return None


# --- ranges --------------------------------------------------------------------------------


def _nets(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# Order matters: the first matching entry names the rule. Most specific first.
_V4_TABLE: tuple[tuple[tuple[IPNetwork, ...], str, str], ...] = (
    (_nets("0.0.0.0/8"), R.SSRF_UNSPECIFIED, "'this network' 0.0.0.0/8"),
    (_nets("127.0.0.0/8"), R.SSRF_LOOPBACK, "loopback 127.0.0.0/8"),
    (_nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"), R.SSRF_PRIVATE, "private (RFC 1918)"),
    (_nets("100.64.0.0/10"), R.SSRF_CGNAT, "carrier-grade NAT 100.64.0.0/10"),
    (_nets("169.254.0.0/16"), R.SSRF_LINK_LOCAL, "link-local 169.254.0.0/16"),
    (_nets("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"), R.SSRF_DOCUMENTATION, "documentation range"),
    (_nets("198.18.0.0/15"), R.SSRF_BENCHMARKING, "benchmarking 198.18.0.0/15"),
    (_nets("192.0.0.0/24"), R.SSRF_RESERVED, "IETF protocol assignments 192.0.0.0/24"),
    (_nets("192.88.99.0/24"), R.SSRF_RESERVED, "deprecated 6to4 relay anycast 192.88.99.0/24"),
    (_nets("224.0.0.0/4"), R.SSRF_MULTICAST, "multicast 224.0.0.0/4"),
    (_nets("255.255.255.255/32"), R.SSRF_BROADCAST, "limited broadcast"),
    (_nets("240.0.0.0/4"), R.SSRF_RESERVED, "reserved 240.0.0.0/4"),
)

_V6_TABLE: tuple[tuple[tuple[IPNetwork, ...], str, str], ...] = (
    (_nets("::/128"), R.SSRF_UNSPECIFIED, "unspecified ::"),
    (_nets("::1/128"), R.SSRF_LOOPBACK, "loopback ::1"),
    (_nets("64:ff9b:1::/48"), R.SSRF_PRIVATE, "local-use NAT64 prefix 64:ff9b:1::/48"),
    (_nets("fc00::/7"), R.SSRF_PRIVATE, "unique local address fc00::/7"),
    (_nets("fe80::/10"), R.SSRF_LINK_LOCAL, "link-local fe80::/10"),
    (_nets("fec0::/10"), R.SSRF_SITE_LOCAL, "site-local fec0::/10"),
    (_nets("ff00::/8"), R.SSRF_MULTICAST, "multicast ff00::/8"),
    (_nets("2001:db8::/32", "3fff::/20"), R.SSRF_DOCUMENTATION, "documentation range"),
    (_nets("2001:2::/48"), R.SSRF_BENCHMARKING, "benchmarking 2001:2::/48"),
    (_nets("2001::/32"), R.SSRF_RESERVED, "Teredo tunnel 2001::/32"),
    (_nets("2001::/23"), R.SSRF_RESERVED, "IETF protocol assignments 2001::/23"),
)

# IPv6 prefixes whose only meaning is the IPv4 address they carry: judged by that address alone.
_V6_CARRIERS: tuple[IPNetwork, ...] = _nets("::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96", "2002::/16")
_V6_COMPAT = ipaddress.IPv6Network("::/96")
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_TEREDO = ipaddress.IPv6Network("2001::/32")
_SIXTOFOUR = ipaddress.IPv6Network("2002::/16")


def _v4(value: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(value & 0xFFFFFFFF)


def embedded_ipv4(addr: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """Every IPv4 address ``addr`` may stand for (empty when it carries none)."""
    n = int(addr)
    low32 = _v4(n)
    out: list[ipaddress.IPv4Address] = []
    if n >> 32 == 0xFFFF or n >> 32 == 0xFFFF0000:  # mapped ::ffff:a.b.c.d, SIIT ::ffff:0:a.b.c.d
        out.append(low32)
    elif n >> 32 == 0 and n > 1:  # deprecated IPv4-compatible ::a.b.c.d
        out.append(low32)
    elif n >> 32 == 0x0064FF9B << 64:  # NAT64 well-known prefix 64:ff9b::/96
        out.append(low32)
    elif addr in _NAT64_LOCAL:
        # RFC 6052 layouts for each prefix length the local-use /48 may be cut into; bits 64-71
        # (the "u" octet) are skipped.
        out.append(_v4(((n >> 64) & 0xFFFF) << 16 | ((n >> 40) & 0xFFFF)))  # /48
        out.append(_v4(((n >> 64) & 0xFF) << 24 | ((n >> 32) & 0xFFFFFF)))  # /56
        out.append(_v4(n >> 24))  # /64
        out.append(low32)  # /96
    elif addr in _SIXTOFOUR:
        out.append(_v4(n >> 80))
    elif addr in _TEREDO:
        out.append(_v4(n >> 64))  # server
        out.append(_v4(~n))  # client, obfuscated by XOR with all ones
    if (n >> 32) & 0xFDFFFFFF == 0x00005EFE:  # ISATAP interface id ::0:5efe / ::200:5efe
        out.append(low32)
    return tuple(dict.fromkeys(out))


def classify(addr: IPAddress) -> tuple[str, str] | None:
    """The floor's rule for ``addr`` itself (embedded addresses not considered), or ``None``."""
    if addr in METADATA_ADDRESSES:
        return R.SSRF_METADATA, f"{addr} is a cloud metadata address"
    if isinstance(addr, ipaddress.IPv4Address):
        for nets, rule, reason in _V4_TABLE:
            for net in nets:
                if addr in net:
                    return rule, f"{addr} is {reason}"
        return None
    for nets, rule, reason in _V6_TABLE:
        for net in nets:
            if addr in net:
                return rule, f"{addr} is {reason}"
    for net in _V6_CARRIERS:
        if addr in net:
            return None
    if addr in _V6_COMPAT:
        return R.SSRF_RESERVED, f"{addr} is a deprecated IPv4-compatible address"
    if addr not in _V6_GLOBAL_UNICAST:
        return R.SSRF_RESERVED, f"{addr} is outside global unicast 2000::/3"
    return None


@functools.lru_cache(maxsize=64)
def parse_allow_cidrs(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """Operator exceptions as networks. Unparseable entries are dropped (fewer exceptions =
    stricter, so this fails closed); :func:`allow_cidr_problems` reports them for validation."""
    out = []
    for text in cidrs:
        try:
            out.append(ipaddress.ip_network(str(text).strip(), strict=False))
        except ValueError:
            continue
    return tuple(out)


def allow_cidr_problems(cidrs: Iterable[str]) -> list[str]:
    """Human-readable problems with ``network.allowCidrs`` entries (for ``config validate``)."""
    problems = []
    for text in cidrs:
        try:
            net = ipaddress.ip_network(str(text).strip(), strict=False)
        except ValueError:
            problems.append(f"{text!r} is not a CIDR; it is ignored")
            continue
        if net.prefixlen < (8 if net.version == 4 else 16):
            problems.append(f"{text!r} is very broad (/{net.prefixlen}); exceptions should name narrow ranges")
        if any(meta in net for meta in METADATA_ADDRESSES if meta.version == net.version):
            problems.append(f"{text!r} contains cloud metadata addresses; those stay denied")
    return problems


def _excepted(addr: IPAddress, allow: tuple[IPNetwork, ...]) -> bool:
    return any(addr.version == net.version and addr in net for net in allow)


@functools.lru_cache(maxsize=4096)
def judge_address(addr: IPAddress, allow: tuple[IPNetwork, ...] = ()) -> tuple[str, str] | None:
    """Rule and reason if connecting to ``addr`` is denied, else ``None``.

    Metadata (the address or anything it embeds) is denied first and never excepted; then each
    embedded IPv4 address, then the address itself; a denied candidate passes only when it lies
    inside one of ``allow`` (the operator's ``network.allowCidrs``).
    """
    candidates: list[IPAddress] = []
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id is not None:
            addr = ipaddress.IPv6Address(int(addr))
        candidates.extend(embedded_ipv4(addr))
    candidates.append(addr)
    for cand in candidates:
        if cand in METADATA_ADDRESSES:
            via = "" if cand == addr else f" (embedded in {addr})"
            return R.SSRF_METADATA, f"{cand} is a cloud metadata address{via}"
    for cand in candidates:
        verdict = classify(cand)
        if verdict is not None and not _excepted(cand, allow):
            rule, reason = verdict
            if cand != addr:
                reason = f"{reason} (embedded in {addr})"
            return rule, reason
    return None


# --- IPv4 host spellings -------------------------------------------------------------------

_HEX = frozenset("0123456789abcdefABCDEF")
_OCT = frozenset("01234567")


def _ipv4_number(part: str) -> int | None:
    if part[:2] in ("0x", "0X"):
        digits = part[2:]
        if not digits:
            return 0
        return int(digits, 16) if set(digits) <= _HEX else None
    if len(part) > 1 and part[0] == "0":
        return int(part[1:], 8) if set(part[1:]) <= _OCT else None
    return int(part) if part.isascii() and part.isdigit() else None


def ends_in_number(host: str) -> bool:
    """WHATWG "ends in a number": the last label is decimal digits or ``0x`` hex."""
    last = host.rstrip(".").rsplit(".", 1)[-1] if host else ""
    if not last:
        return False
    if last.isascii() and last.isdigit():
        return True
    return last[:2] in ("0x", "0X") and set(last[2:]) <= _HEX


def parse_ipv4_host(host: str) -> ipaddress.IPv4Address | None:
    """Parse every IPv4 spelling (``127.1``, ``0x7f.1``, ``017700000001``, ``2130706433``,
    mixed); ``None`` when it is not a valid IPv4 host (the caller refuses it)."""
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()
    if not parts or len(parts) > 4 or any(len(p) > 40 for p in parts):
        return None
    numbers = []
    for part in parts:
        if not part:
            return None
        value = _ipv4_number(part)
        if value is None:
            return None
        numbers.append(value)
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)
