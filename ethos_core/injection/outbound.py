"""Outbound scrubbing: links and images the agent sends cannot make a client fetch elsewhere.

Invariant: in the text returned by :func:`scrub_outbound`, no markdown image, markdown link
(inline or reference-style), autolink, HTML ``<img>``/``<a>`` or bare URL points to a host
outside the personality's ``networkReach``; each such item was replaced by inert text naming the
host in defanged form (``evil[.]example``), so no chat client auto-fetches or unfurls it. URLs
that cannot be parsed, or use schemes other than http/https (``data:``, ``javascript:``…) are
scrubbed too. Relative links without a host are left alone.

The caller audits each scrub as ``audit.block`` with rule ``outbound.link_scrubbed``.
Not covered: URLs spelled out in words or split across lines; hosts inside reach that an
attacker controls (narrow ``networkReach`` accordingly).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

from ethos_core.types import NetworkRule

OUTBOUND_RULE = "outbound.link_scrubbed"

_MD_IMAGE = re.compile(r"!\[([^\]\n]{0,500})\]\(\s*<?([^)\s>]{0,2048})>?(?:\s+[\"'(][^)\n]{0,300})?\s*\)")
_MD_LINK = re.compile(r"(?<!!)\[([^\]\n]{0,500})\]\(\s*<?([^)\s>]{0,2048})>?(?:\s+[\"'(][^)\n]{0,300})?\s*\)")
_MD_REFDEF = re.compile(r"(?m)^[ \t]{0,3}\[([^\]\n]{1,200})\]:[ \t]*<?(\S{1,2048}?)>?(?:[ \t]+[\"'(].{0,300})?$")
_AUTOLINK = re.compile(r"<((?:[a-zA-Z][a-zA-Z0-9+.-]{1,20}):[^\s<>]{1,2048})>")
_HTML_TAG = re.compile(r"<\s*(img|a|image|iframe|source|video|audio|link)\b[^>]{0,2048}>", re.IGNORECASE)
_HTML_URL_ATTR = re.compile(r"""(?:src|href|srcset|data|poster)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_BARE_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>()\[\]\"'`]{1,2048}")


def _host_port(url: str) -> tuple[str, int] | None:
    """(host, port) of an absolute http(s) URL; ``None`` when unparsable or another scheme."""
    candidate = url.strip()
    if candidate.lower().startswith("www."):
        candidate = "https://" + candidate
    if candidate.startswith("//"):
        candidate = "https:" + candidate
    try:
        parts = urllib.parse.urlsplit(candidate)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return host, port or (443 if parts.scheme.lower() == "https" else 80)


def _is_relative(url: str) -> bool:
    u = url.strip()
    return bool(u) and not u.startswith("//") and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", u) and not u.lower().startswith("www.")


def host_in_reach(host: str, port: int, reach: Iterable[NetworkRule]) -> bool:
    """Exact host or ``*.domain`` (subdomains only), and the port listed in the rule."""
    for rule in reach:
        pattern = rule.host.rstrip(".").lower()
        if pattern.startswith("*."):
            matched = host.endswith(pattern[1:]) and host != pattern[2:]
        else:
            matched = host == pattern
        if matched and port in rule.ports:
            return True
    return False


def _allowed(url: str, reach: tuple[NetworkRule, ...]) -> bool:
    if _is_relative(url):
        return True
    hp = _host_port(url)
    return hp is not None and host_in_reach(hp[0], hp[1], reach)


def _defang(url: str) -> str:
    hp = _host_port(url)
    if hp is None:
        scheme = url.split(":", 1)[0][:20] if ":" in url else "unparsable"
        return f"{re.sub(r'[^a-zA-Z0-9+.-]', '', scheme) or 'unknown'}-url"
    return hp[0].replace(".", "[.]")


def scrub_outbound(text: str, reach: Iterable[NetworkRule]) -> tuple[str, int]:
    """``text`` with out-of-reach images and links made inert; returns (text, number scrubbed)."""
    rules = tuple(reach)
    count = 0

    def image(m: re.Match[str]) -> str:
        nonlocal count
        if _allowed(m.group(2), rules):
            return m.group(0)
        count += 1
        return f"[image removed: {_defang(m.group(2))}]"

    def link(m: re.Match[str]) -> str:
        nonlocal count
        if _allowed(m.group(2), rules):
            return m.group(0)
        count += 1
        return f"{m.group(1)} [link removed: {_defang(m.group(2))}]"

    def refdef(m: re.Match[str]) -> str:
        nonlocal count
        if _allowed(m.group(2), rules):
            return m.group(0)
        count += 1
        return f"[{m.group(1)}]: [link removed: {_defang(m.group(2))}]"

    def autolink(m: re.Match[str]) -> str:
        nonlocal count
        if _allowed(m.group(1), rules):
            return m.group(0)
        count += 1
        return f"[link removed: {_defang(m.group(1))}]"

    def html_tag(m: re.Match[str]) -> str:
        nonlocal count
        urls = [next(g for g in a.groups() if g is not None) for a in _HTML_URL_ATTR.finditer(m.group(0))]
        urls = [u.split()[0] if u.split() else u for u in urls]
        bad = [u for u in urls if not _allowed(u, rules)]
        if not bad:
            return m.group(0)
        count += 1
        return f"[{m.group(1).lower()} removed: {_defang(bad[0])}]"

    def bare(m: re.Match[str]) -> str:
        nonlocal count
        url = m.group(0).rstrip(".,;:!?")
        tail = m.group(0)[len(url) :]
        if _allowed(url, rules):
            return m.group(0)
        count += 1
        return f"[link removed: {_defang(url)}]{tail}"

    text = _MD_IMAGE.sub(image, text)
    text = _MD_LINK.sub(link, text)
    text = _MD_REFDEF.sub(refdef, text)
    text = _AUTOLINK.sub(autolink, text)
    text = _HTML_TAG.sub(html_tag, text)
    text = _BARE_URL.sub(bare, text)
    return text, count
