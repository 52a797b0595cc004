"""Strict URL parsing for the safe fetch: one reading of the URL, or a refusal.

Invariant: :func:`parse_url` returns a :class:`ParsedUrl` only when the URL is ``http``/``https``,
has no userinfo, no backslash, no whitespace, control, invisible (Unicode ``Cf``), private-use or
unassigned character anywhere, no percent-encoded host, a valid port, and a host that
``urllib.parse`` and ``httpx`` (when they accept the URL at all) read the same way. The host is
normalised exactly once here — UTS-46 mapping (fullwidth and ideographic dots, enclosed
alphanumerics, case), trailing dot removed, IDNA 2008 to A-labels, any spelling of an IPv4
number to dotted quad, IPv6 to its compressed form — and the safe fetch builds the request URL
from these components, so what is judged is what is connected to.

Not covered: the path and query are passed through (after the character checks); whether the
host is *wanted* is networkReach's question, whether it is *safe* is address judgment's.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
import urllib.parse

import attrs
import httpx
import idna

from ethos_core.network import rules as R
from ethos_core.network.address import ends_in_number, parse_ipv4_host

MAX_URL_LENGTH = 8192
ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{0,31}:")
_ASCII_HOST_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zs", "Zl", "Zp"})


class UrlRefused(ValueError):
    """The URL was refused before any network activity; ``rule`` is a stable rule id."""

    def __init__(self, rule: str, reason: str):
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


@attrs.frozen
class Host:
    """A normalised host: ``kind`` is ``name``, ``ipv4`` or ``ipv6``; ``value`` is ASCII."""

    kind: str
    value: str
    zone: str | None = None

    @property
    def url_form(self) -> str:
        return f"[{self.value}]" if self.kind == "ipv6" else self.value


@attrs.frozen
class ParsedUrl:
    scheme: str
    host: Host
    port: int
    target: str  # path + query, never empty, never a fragment
    explicit_port: bool

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host.value, self.port)

    def geturl(self) -> str:
        """The normalised URL the safe fetch sends (default ports omitted, fragment dropped)."""
        port = "" if self.port == DEFAULT_PORTS[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{self.host.url_form}{port}{self.target}"


_ASCII_BAD = re.compile(r"[\x00-\x20\x7f\\]")


def _screen_characters(url: str) -> None:
    bad = _ASCII_BAD.search(url)
    if bad is not None:
        ch = bad.group()
        if ch == "\\":
            raise UrlRefused(R.URL_AMBIGUOUS, "backslash in URL (parsers disagree on what it means)")
        raise UrlRefused(R.URL_AMBIGUOUS, f"whitespace or control character U+{ord(ch):04X} in URL")
    if url.isascii():
        return
    for ch in url:
        if ord(ch) >= 0x80 and unicodedata.category(ch) in _BAD_CATEGORIES:
            raise UrlRefused(R.URL_AMBIGUOUS, f"invisible, whitespace or unassigned character U+{ord(ch):04X} in URL")


def _script(ch: str) -> str | None:
    if not ch.isalpha():
        return None
    if ch.isascii():
        return "LATIN"
    try:
        first = unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return None
    return first if first in ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN") else None


def _check_confusable(label: str) -> None:
    scripts = {s for s in map(_script, label) if s is not None}
    if "LATIN" in scripts and len(scripts) > 1:
        others = ", ".join(sorted(scripts - {"LATIN"})).lower()
        raise UrlRefused(R.URL_CONFUSABLE, f"host label {label!r} mixes Latin with {others} letters")


def _ipv6_host(inner: str) -> Host:
    zone = None
    if "%" in inner:
        inner, zone = inner.split("%", 1)
        zone = zone[2:] if zone.startswith("25") else zone
        if not zone:
            raise UrlRefused(R.URL_INVALID, "empty IPv6 zone id")
    if not inner or not set(inner.lower()) <= set("0123456789abcdef:."):
        raise UrlRefused(R.URL_INVALID, f"not an IPv6 address: [{inner}]")
    try:
        addr = ipaddress.IPv6Address(inner)
    except ValueError:
        raise UrlRefused(R.URL_INVALID, f"not an IPv6 address: [{inner}]") from None
    return Host("ipv6", addr.compressed, zone)


@functools.lru_cache(maxsize=4096)
def normalise_host(raw: str) -> Host:
    """Normalise a host as it appears in a URL authority or a config entry (brackets allowed)."""
    if raw.startswith("["):
        if not raw.endswith("]"):
            raise UrlRefused(R.URL_INVALID, "unterminated IPv6 literal")
        return _ipv6_host(raw[1:-1])
    if not raw:
        raise UrlRefused(R.URL_INVALID, "empty host")
    if "%" in raw:
        raise UrlRefused(R.URL_AMBIGUOUS, "percent-encoded host (parsers disagree on decoding it)")
    if ":" in raw:
        raise UrlRefused(R.URL_AMBIGUOUS, "colon in host")
    if raw.isascii():
        mapped = raw.lower()
    else:
        _screen_characters(raw)
        try:
            mapped = idna.uts46_remap(raw, std3_rules=False, transitional=False)
        except (idna.IDNAError, ValueError) as exc:
            raise UrlRefused(R.URL_INVALID, f"host is not valid IDNA: {exc}") from None
    if mapped.endswith("."):
        mapped = mapped[:-1]
    if not mapped or mapped.startswith(".") or ".." in mapped:
        raise UrlRefused(R.URL_INVALID, "empty label in host")
    if ends_in_number(mapped):
        v4 = parse_ipv4_host(mapped)
        if v4 is None:
            raise UrlRefused(R.URL_INVALID, f"host {raw!r} ends in a number but is not a valid IPv4 address")
        return Host("ipv4", str(v4))
    labels = []
    for label in mapped.split("."):
        if label.isascii():
            if not set(label) <= _ASCII_HOST_OK:
                raise UrlRefused(R.URL_INVALID, f"character not allowed in host label {label!r}")
            if label.startswith("xn--"):
                try:
                    _check_confusable(idna.decode(label))
                except idna.IDNAError as exc:
                    raise UrlRefused(R.URL_INVALID, f"invalid punycode label {label!r}: {exc}") from None
            labels.append(label)
            continue
        _check_confusable(label)
        try:
            labels.append(idna.encode(label, uts46=False).decode("ascii"))
        except (idna.IDNAError, UnicodeError) as exc:
            raise UrlRefused(R.URL_INVALID, f"host label {label!r} is not valid IDNA: {exc}") from None
    for label in labels:
        if not 0 < len(label) <= 63:
            raise UrlRefused(R.URL_INVALID, "host label length out of range")
    host = ".".join(labels)
    if len(host) > 253:
        raise UrlRefused(R.URL_INVALID, "host longer than 253 characters")
    return Host("name", host)


def _split_authority(authority: str) -> tuple[str, str | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise UrlRefused(R.URL_INVALID, "unterminated IPv6 literal")
        host, rest = authority[: end + 1], authority[end + 1 :]
        if rest and not rest.startswith(":"):
            raise UrlRefused(R.URL_AMBIGUOUS, "characters after the IPv6 literal")
        return host, (rest[1:] if rest else None)
    if authority.count(":") > 1:
        raise UrlRefused(R.URL_AMBIGUOUS, "several colons in authority")
    if ":" in authority:
        host, port = authority.split(":", 1)
        return host, port
    return authority, None


def _port(text: str | None, scheme: str) -> tuple[int, bool]:
    if text is None:
        return DEFAULT_PORTS[scheme], False
    if not text or not text.isascii() or not text.isdigit() or len(text) > 5:
        raise UrlRefused(R.URL_INVALID, f"invalid port {text!r}")
    port = int(text)
    if not 0 < port < 65536:
        raise UrlRefused(R.URL_INVALID, f"port {port} out of range")
    return port, True


def parse_url(url: str) -> ParsedUrl:
    """Parse and normalise ``url`` or raise :class:`UrlRefused` with the rule id."""
    if not isinstance(url, str) or not url:
        raise UrlRefused(R.URL_INVALID, "empty URL")
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(R.URL_INVALID, f"URL longer than {MAX_URL_LENGTH} characters")
    m = _SCHEME_RE.match(url)
    if m is None:
        raise UrlRefused(R.URL_INVALID, "URL has no scheme")
    scheme = url[: m.end() - 1].lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UrlRefused(R.SCHEME_DENIED, f"scheme {scheme!r} is not allowed (http and https only)")
    _screen_characters(url)
    rest = url[m.end() :]
    if not rest.startswith("//") or rest.startswith("///"):
        raise UrlRefused(R.URL_AMBIGUOUS, f"{scheme}: must be followed by exactly two slashes")
    rest = rest[2:]
    cut = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if 0 <= i < cut:
            cut = i
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        raise UrlRefused(R.URL_AMBIGUOUS, "userinfo (user@ or user:pass@) in URL authority")
    raw_host, raw_port = _split_authority(authority)
    host = normalise_host(raw_host)
    port, explicit = _port(raw_port, scheme)
    target = tail.split("#", 1)[0]
    if not target.startswith("/"):
        target = "/" + target
    parsed = ParsedUrl(scheme, host, port, target, explicit)
    # All three parsers end the authority at the first of "/?#" (backslash is refused above),
    # so comparing their reading of "scheme://authority/" is comparing their reading of the URL.
    _check_differential(url[: m.end() + 2 + len(authority)] + "/", parsed)
    return parsed


def _same_host(other: str | None, ours: Host) -> bool:
    if not other:
        return False
    try:
        theirs = normalise_host(f"[{other}]" if ":" in other else other)
    except UrlRefused:
        return False
    return theirs.value == ours.value


def _check_differential(url: str, parsed: ParsedUrl) -> None:
    """Refuse when another parser that accepts the URL reads a different scheme, host or port."""
    try:
        split = urllib.parse.urlsplit(url)
        other_host, other_port = split.hostname, split.port
    except ValueError:
        split = None
    if split is not None:
        if split.scheme.lower() != parsed.scheme or not _same_host(other_host, parsed.host):
            raise UrlRefused(R.URL_AMBIGUOUS, "urllib reads a different host from this URL")
        if other_port is not None and other_port != parsed.port:
            raise UrlRefused(R.URL_AMBIGUOUS, "urllib reads a different port from this URL")
    try:
        hx = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, UnicodeError):
        return
    if hx.scheme != parsed.scheme or not _same_host(hx.host, parsed.host):
        raise UrlRefused(R.URL_AMBIGUOUS, "httpx reads a different host from this URL")
    if (hx.port or DEFAULT_PORTS[parsed.scheme]) != parsed.port:
        raise UrlRefused(R.URL_AMBIGUOUS, "httpx reads a different port from this URL")
