"""Secrets the model never sees: ``{{secret:NAME}}`` placeholders substituted only at egress.

Invariant: :func:`substitute_for_egress` replaces ``{{secret:NAME}}`` in header values and the
body by the real value **only** when the destination ``host`` is bound to NAME in
``secrets.bindings`` (exact host, case-insensitive, trailing dot ignored, or ``*.domain`` for
strict subdomains) and the value is known. Every other placeholder is left exactly as it was and
its NAME is returned in ``refused`` so the caller audits it (``audit.block``, rule
:data:`RULE_UNBOUND_HOST` or :data:`RULE_UNKNOWN_SECRET`).

Contract for the safe fetch (ethos_core.network): call this **once per hop** with the
*template* headers/body as the tool produced them (never the output of a previous hop) and the
host of that hop, after the hop has passed stage ⑩. A redirect to a host the secret is not bound
to therefore sends the placeholder, not the secret. Substituted values are held in
``runtime.secret_values``, so known-value redaction hides them in anything logged afterwards.

Not covered: a bound host that is itself hostile or echoes the secret back (bind only hosts you
trust with that secret); placeholders in the URL (refused: URLs end up in logs and Referer).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import idna

RULE_UNBOUND_HOST = "secret.unbound_host"
RULE_UNKNOWN_SECRET = "secret.unknown"

PLACEHOLDER_RE = re.compile(r"\{\{secret:([A-Za-z0-9_.\-/]{1,128})\}\}")
_PLACEHOLDER_BYTES_RE = re.compile(rb"\{\{secret:([A-Za-z0-9_.\-/]{1,128})\}\}")


def normalise_host(host: str) -> str | None:
    """Lower-case ASCII (IDNA) form of ``host`` without a trailing dot; ``None`` if invalid."""
    host = host.strip().rstrip(".")
    if not host or any(c in host for c in "/@:?#[] \\"):
        return None
    if host.isascii():
        return host.lower()
    try:
        return idna.encode(host, uts46=True).decode("ascii").lower()
    except idna.IDNAError:
        return None


def host_is_bound(host: str, patterns: Iterable[str]) -> bool:
    """Whether ``host`` matches one of ``patterns`` (exact, or ``*.domain`` for subdomains)."""
    h = normalise_host(host)
    if h is None:
        return False
    for pattern in patterns:
        if pattern.startswith("*."):
            suffix = normalise_host(pattern[2:])
            if suffix and h.endswith("." + suffix):
                return True
        elif normalise_host(pattern) == h:
            return True
    return False


def placeholder_names(text: str | bytes | None) -> list[str]:
    if text is None:
        return []
    if isinstance(text, bytes):
        return [m.group(1).decode("ascii") for m in _PLACEHOLDER_BYTES_RE.finditer(text)]
    return [m.group(1) for m in PLACEHOLDER_RE.finditer(text)]


def substitute_for_egress(
    headers: Mapping[str, str],
    body: bytes | str | None,
    host: str,
    bindings: Mapping[str, Iterable[str]],
    values: Mapping[str, str],
) -> tuple[dict[str, str], bytes | str | None, list[str]]:
    """``(headers, body, refused)`` for one hop to ``host``.

    ``bindings`` is ``secrets.bindings`` (NAME → host patterns); ``values`` maps NAME to the
    resolved value (``runtime.secret_values``). ``refused`` lists, once each in order of first
    appearance, the NAMEs left as placeholders: not bound to ``host`` or without a value.
    """
    refused: list[str] = []
    allowed: dict[str, str] = {}

    def decide(name: str) -> str | None:
        if name in allowed:
            return allowed[name]
        value = values.get(name)
        if value and host_is_bound(host, bindings.get(name, ())):
            allowed[name] = value
            return value
        if name not in refused:
            refused.append(name)
        return None

    def sub_text(text: str) -> str:
        return PLACEHOLDER_RE.sub(lambda m: decide(m.group(1)) or m.group(0), text)

    def sub_bytes(data: bytes) -> bytes:
        def repl(m: re.Match[bytes]) -> bytes:
            value = decide(m.group(1).decode("ascii"))
            return value.encode("utf-8") if value else m.group(0)

        return _PLACEHOLDER_BYTES_RE.sub(repl, data)

    out_headers = {name: sub_text(value) for name, value in headers.items()}
    out_body: bytes | str | None
    if body is None:
        out_body = None
    elif isinstance(body, bytes):
        out_body = sub_bytes(body)
    else:
        out_body = sub_text(body)
    return out_headers, out_body, refused


def refusal_reason(name: str, host: str, values: Mapping[str, str]) -> tuple[str, str]:
    """``(rule, sentence)`` for the audit row of a refused placeholder."""
    if not values.get(name):
        return RULE_UNKNOWN_SECRET, f"placeholder {{{{secret:{name}}}}} names no resolved secret; it was sent unsubstituted"
    return (
        RULE_UNBOUND_HOST,
        f"secret {name!r} is not bound to host {host!r} (secrets.bindings); the placeholder was sent instead of the value",
    )
