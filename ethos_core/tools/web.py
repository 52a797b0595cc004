"""The ``web_fetch`` and ``web_post`` tools, built only on the safe fetch.

Invariant: these tools have no network path of their own — every byte goes through a
:class:`~ethos_core.network.fetch.SafeFetcher` (stage ⑩ on every hop, pinned DNS, bounded
responses). ``web_fetch`` returns outside content and is tagged ``untrusted_output`` so stage ⑭
wraps it; ``web_post`` can move data out of the process and is tagged ``exfil`` so the injection
downgrade removes it after untrusted reads. Both declare their ``url`` argument with
``ArgRole("url", "url")`` so the pipeline judges it before the tool runs.

Not covered: what the page says (untrusted; wrapping is stage ⑭'s), rendering JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ethos_core.network.fetch import FetchResponse, SafeFetcher
from ethos_core.types import ArgRole, Capability, ToolSpec

DEFAULT_MAX_CHARS = 100_000
MAX_CHARS_CEILING = 1_000_000
_TEXTUAL = ("text/", "application/json", "application/xml", "application/xhtml", "application/javascript")

WEB_FETCH = ToolSpec(
    name="web_fetch",
    description=(
        "Fetch a web page or API response over http(s) (GET or HEAD). Only hosts in the "
        "personality's networkReach are reachable; the result is untrusted outside content."
    ),
    parameters={
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "absolute http:// or https:// URL"},
            "method": {"type": "string", "enum": ["GET", "HEAD"], "default": "GET"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "max_chars": {"type": "integer", "minimum": 1, "maximum": MAX_CHARS_CEILING},
        },
        "required": ["url"],
        "additionalProperties": False,
    },
    capabilities=frozenset({Capability.NETWORK, Capability.UNTRUSTED_OUTPUT}),
    arg_roles=(ArgRole("url", "url"),),
)

WEB_POST = ToolSpec(
    name="web_post",
    description=(
        "Send an HTTP POST with a body to an http(s) URL in the personality's networkReach. "
        "This can move data out of the agent; it is disabled after reading untrusted content."
    ),
    parameters={
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "absolute http:// or https:// URL"},
            "body": {"type": "string"},
            "content_type": {"type": "string", "default": "application/json"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "max_chars": {"type": "integer", "minimum": 1, "maximum": MAX_CHARS_CEILING},
        },
        "required": ["url", "body"],
        "additionalProperties": False,
    },
    capabilities=frozenset({Capability.NETWORK, Capability.EXFIL, Capability.UNTRUSTED_OUTPUT}),
    arg_roles=(ArgRole("url", "url"),),
)


class ToolArgumentError(ValueError):
    """The model passed arguments the tool cannot use."""


def _str_arg(args: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if not isinstance(value, str) or (default is None and not value):
        raise ToolArgumentError(f"{name!r} must be a non-empty string")
    return value


def _headers(args: Mapping[str, Any]) -> dict[str, str]:
    raw = args.get("headers") or {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise ToolArgumentError("'headers' must map header names to string values")
    return dict(raw)


def _max_chars(args: Mapping[str, Any]) -> int:
    value = args.get("max_chars", DEFAULT_MAX_CHARS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ToolArgumentError("'max_chars' must be a positive integer")
    return min(value, MAX_CHARS_CEILING)


def render_response(response: FetchResponse, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """A compact text rendering for the model: status line, final URL, type, then the body."""
    lines = [f"HTTP {response.status} {response.reason}".rstrip(), f"URL: {response.url}"]
    if len(response.hops) > 1:
        lines.append("Redirected via: " + " -> ".join(response.hops[:-1]))
    content_type = response.content_type
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.append("")
    if not response.body:
        return "\n".join(lines)
    if content_type and not content_type.startswith(_TEXTUAL) and not content_type.endswith(("+json", "+xml")):
        lines.append(f"[binary content: {len(response.body)} bytes of {content_type} not shown]")
        return "\n".join(lines)
    text = response.text()
    if len(text) > max_chars:
        text = text[:max_chars] + f"\n[truncated: {len(text) - max_chars} more characters]"
    lines.append(text)
    return "\n".join(lines)


def web_fetch(args: Mapping[str, Any], fetcher: SafeFetcher) -> str:
    """Handler of ``web_fetch``: GET or HEAD through the safe fetch (refusals raise)."""
    url = _str_arg(args, "url")
    method = _str_arg(args, "method", "GET").upper()
    if method not in ("GET", "HEAD"):
        raise ToolArgumentError("web_fetch sends GET or HEAD only; use web_post to send data")
    response = fetcher.request(method, url, headers=_headers(args), tool=WEB_FETCH.name)
    return render_response(response, _max_chars(args))


def web_post(args: Mapping[str, Any], fetcher: SafeFetcher) -> str:
    """Handler of ``web_post``: POST ``body`` through the safe fetch (refusals raise)."""
    url = _str_arg(args, "url")
    body = args.get("body")
    if not isinstance(body, str):
        raise ToolArgumentError("'body' must be a string")
    headers = _headers(args)
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = _str_arg(args, "content_type", "application/json")
    response = fetcher.request("POST", url, headers=headers, content=body, tool=WEB_POST.name)
    return render_response(response, _max_chars(args))


WebHandler = Callable[[Any, Any], str]
FetcherFactory = Callable[[Any], SafeFetcher]


def make_web_tools(fetcher_factory: FetcherFactory | None = None) -> list[tuple[ToolSpec, WebHandler]]:
    """``[(spec, handler), …]`` for web_fetch and web_post, in the registry's shape.

    Each handler is ``handler(call, session) -> str`` and fetches through
    ``fetcher_factory(session)`` (the engine passes ``lambda session: session.fetcher()``).
    For direct use, ``handler(args_mapping, fetcher)`` with a :class:`SafeFetcher` works too.
    No factory and no fetcher is an error, never a fallback to an unguarded client.
    """

    def bind(func: Callable[[Mapping[str, Any], SafeFetcher], str]) -> WebHandler:
        def handler(call: Any, session: Any = None) -> str:
            args = call if isinstance(call, Mapping) else call.args
            if isinstance(session, SafeFetcher):
                return func(args, session)
            if fetcher_factory is None:
                raise RuntimeError(f"{func.__name__}: no safe fetcher available")
            return func(args, fetcher_factory(session))

        handler.__name__ = func.__name__
        handler.__doc__ = func.__doc__
        return handler

    return [(WEB_FETCH, bind(web_fetch)), (WEB_POST, bind(web_post))]
