"""web_fetch / web_post: specs, handlers on the safe fetch, refusals surfacing as BoundaryError."""

from __future__ import annotations

import pytest
from conftest import AuditSink, LocalServer, loopback_judge

from ethos_core.errors import BoundaryError
from ethos_core.network import rules as R
from ethos_core.network.fetch import SafeFetcher
from ethos_core.tools.registry import ToolRegistry
from ethos_core.tools.web import ToolArgumentError, make_web_tools
from ethos_core.types import Capability, ToolCall


def test_specs_register_and_declare_roles() -> None:
    registry = ToolRegistry()
    for spec, handler in make_web_tools():
        registry.add(spec, handler)
    fetch, post = registry.get("web_fetch"), registry.get("web_post")
    assert fetch is not None and post is not None
    assert {Capability.NETWORK, Capability.UNTRUSTED_OUTPUT} <= fetch.spec.capabilities
    assert Capability.EXFIL not in fetch.spec.capabilities
    assert {Capability.NETWORK, Capability.EXFIL} <= post.spec.capabilities
    assert [(r.name, r.kind) for r in fetch.spec.arg_roles] == [("url", "url")]
    assert [(r.name, r.kind) for r in post.spec.arg_roles] == [("url", "url")]


def test_web_fetch_and_post_through_safe_fetch(server: LocalServer) -> None:
    server.routes["/page"] = lambda h: h.reply(200, "héllo".encode(), [("Content-Type", "text/html; charset=utf-8")])
    server.routes["/img"] = lambda h: h.reply(200, b"\x89PNG....", [("Content-Type", "image/png")])
    server.routes["/echo"] = lambda h: h.reply(
        201, h.server.owner.seen[-1].body, [("Content-Type", "application/json")]
    )
    tools = dict((spec.name, handler) for spec, handler in make_web_tools())
    with SafeFetcher(loopback_judge("127.0.0.1", ports=[server.port])) as fetcher:
        page = tools["web_fetch"]({"url": server.url("/page")}, fetcher)
        assert page.startswith("HTTP 200") and "héllo" in page and "text/html" in page
        assert "binary content" in tools["web_fetch"]({"url": server.url("/img")}, fetcher)
        assert "[truncated" in tools["web_fetch"]({"url": server.url("/page"), "max_chars": 2}, fetcher)
        posted = tools["web_post"]({"url": server.url("/echo"), "body": '{"a": 1}'}, fetcher)
        assert posted.startswith("HTTP 201") and '{"a": 1}' in posted
        assert server.seen[-1].headers["content-type"] == "application/json"
        with pytest.raises(ToolArgumentError):
            tools["web_fetch"]({"url": server.url("/page"), "method": "POST"}, fetcher)
        with pytest.raises(ToolArgumentError):
            tools["web_post"]({"url": server.url("/echo")}, fetcher)


def test_refusal_raises_boundary_error_and_audits(server: LocalServer, audit: AuditSink) -> None:
    fetcher = SafeFetcher(loopback_judge("127.0.0.1", ports=[server.port]), emit=audit)
    sessions: list[object] = []

    def factory(session: object) -> SafeFetcher:
        sessions.append(session)
        return fetcher

    tools = dict((spec.name, handler) for spec, handler in make_web_tools(factory))
    call = ToolCall("web_fetch", {"url": "http://169.254.169.254/latest/meta-data/"})
    with fetcher, pytest.raises(BoundaryError) as info:
        tools["web_fetch"](call, "session-1")  # the registry shape: handler(call, session)
    assert sessions == ["session-1"]
    assert info.value.rule == R.SSRF_METADATA
    assert audit.events[0].data["tool"] == "web_fetch"


def test_no_fetcher_is_an_error_not_a_fallback() -> None:
    handler = make_web_tools()[0][1]
    with pytest.raises(RuntimeError):
        handler(ToolCall("web_fetch", {"url": "https://example.org/"}), object())
