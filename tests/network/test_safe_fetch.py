"""The safe fetch against real HTTP(S) servers on 127.0.0.1.

Every test allows only its own loopback server (``allow_cidrs=("127.0.0.1/32",)``) or uses a
judge that says so; the floor is never switched off.
"""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import brotli
import httpcore
import pytest
from conftest import AuditSink, Handler, LocalServer, ScriptedResolver, loopback_judge, make_tls

from ethos_core.config.model import GlobalConfig, NetworkConfig
from ethos_core.network import rules as R
from ethos_core.network.fetch import FetchError, FetchLimits, FetchRefused, SafeFetcher
from ethos_core.network.judge import make_judge
from ethos_core.network.resolver import StaticResolver
from ethos_core.network.transport import PinnedTransport, pinned
from ethos_core.runtime import HomePaths, Runtime
from ethos_core.types import NetworkRule, Personality, SafetyPolicy

MiB = 1024 * 1024


def fetcher_for(server: LocalServer, audit: AuditSink | None = None, **kw: Any) -> SafeFetcher:
    return SafeFetcher(loopback_judge("127.0.0.1", ports=[server.port]), emit=audit, **kw)


def test_plain_get_and_keepalive(server: LocalServer, audit: AuditSink) -> None:
    server.routes["/hello"] = lambda h: h.reply(200, b"hi there", [("Content-Type", "text/plain; charset=utf-8")])
    with fetcher_for(server, audit) as fetcher:
        first = fetcher.get(server.url("/hello"))
        second = fetcher.get(server.url("/hello"))
        assert first.status == 200 and first.text() == "hi there" and second.body == b"hi there"
        assert first.address == "127.0.0.1"
        assert len(fetcher.transport.backend.connections) == 1  # the second request reused it
    assert audit.events == []
    assert server.seen[0].headers["accept-encoding"].startswith("gzip")


def test_refused_first_hop_is_audited_and_never_connects(server: LocalServer, audit: AuditSink) -> None:
    fetcher = SafeFetcher(loopback_judge("127.0.0.1", ports=[1]), emit=audit)
    with pytest.raises(FetchRefused) as info:
        fetcher.get(server.url("/"))
    fetcher.close()
    assert info.value.rule == R.REACH_PORT and server.seen == []
    event = audit.events[0]
    assert (event.category, event.stage, event.rule, event.verdict) == (
        "audit.block",
        "network_reach",
        R.REACH_PORT,
        "deny",
    )


@pytest.mark.parametrize(
    ("final", "rule"),
    [
        ("file:///etc/passwd", R.SCHEME_DENIED),
        ("gopher://127.0.0.1:70/_GET", R.SCHEME_DENIED),
        ("http://169.254.169.254/latest/meta-data/", R.SSRF_METADATA),
        ("http://2852039166/latest/meta-data/", R.SSRF_METADATA),
        ("http://metadata.google.internal/computeMetadata/v1/", R.SSRF_METADATA),
        ("http://10.0.0.5/admin", R.SSRF_PRIVATE),
        ("http://[::ffff:192.168.1.1]/", R.SSRF_PRIVATE),
        ("http://127.0.0.2/", R.SSRF_LOOPBACK),
    ],
)
def test_redirect_chain_301_302_307_to_denied_target(
    server: LocalServer, audit: AuditSink, final: str, rule: str
) -> None:
    server.routes["/a"] = lambda h: h.redirect(301, "/b")
    server.routes["/b"] = lambda h: h.redirect(302, server.url("/c"))
    server.routes["/c"] = lambda h: h.redirect(307, final)
    with fetcher_for(server, audit) as fetcher, pytest.raises(FetchRefused) as info:
        fetcher.get(server.url("/a"))
    assert info.value.rule == rule and info.value.hop == 3
    assert [s.path for s in server.seen] == ["/a", "/b", "/c"]
    assert audit.rules == [rule] and audit.events[0].data["hop"] == 3
    assert len(audit.events[0].data["chain"]) == 3


def test_redirect_limit(server: LocalServer, audit: AuditSink) -> None:
    server.routes["/loop"] = lambda h: h.redirect(302, "/loop")
    with fetcher_for(server, audit) as fetcher, pytest.raises(FetchRefused) as info:
        fetcher.get(server.url("/loop"))
    assert info.value.rule == R.REDIRECT_TOO_MANY and len(server.seen) == 6
    limited = fetcher_for(server, limits=FetchLimits(max_redirects=50))
    with limited, pytest.raises(FetchRefused):
        limited.get(server.url("/loop"))  # the ceiling of 5 holds whatever the config says
    assert len(server.seen) == 12


def test_relative_and_protocol_relative_locations(make_server: Callable[..., LocalServer]) -> None:
    a, b = make_server(), make_server()
    a.routes["/start"] = lambda h: h.redirect(301, "next?x=1")
    a.routes["/next"] = lambda h: h.redirect(302, f"//b.test:{b.port}/landing")
    b.routes["/landing"] = lambda h: h.redirect(303, "?final=1")
    b.routes["/"] = lambda h: h.reply(200, b"done")
    b.routes["/landing"] = lambda h: h.redirect(303, "/?final=1") if "final" not in h.path else h.reply(200, b"x")
    judge = loopback_judge(
        "a.test", "b.test", ports=[a.port, b.port], resolve={"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]}
    )
    with SafeFetcher(judge) as fetcher:
        response = fetcher.get(f"http://a.test:{a.port}/start")
    assert response.body == b"done"
    assert [s.path for s in a.seen] == ["/start", "/next?x=1"]
    assert [s.path for s in b.seen] == ["/landing", "/?final=1"]
    assert response.hops[-1] == f"http://b.test:{b.port}/?final=1"
    assert b.seen[0].headers["host"] == f"b.test:{b.port}"


def test_credentials_dropped_across_origins(make_server: Callable[..., LocalServer]) -> None:
    a, b = make_server(), make_server()
    a.routes["/same"] = lambda h: h.redirect(302, "/same2")
    a.routes["/same2"] = lambda h: h.redirect(302, f"http://b.test:{b.port}/other")
    b.routes["/other"] = lambda h: h.redirect(302, f"http://a.test:{a.port}/back")
    a.routes["/back"] = lambda h: h.reply(200, b"ok")
    judge = loopback_judge(
        "a.test", "b.test", ports=[a.port, b.port], resolve={"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]}
    )
    headers = {"Authorization": "Bearer t0ken", "Cookie": "s=1", "Proxy-Authorization": "Basic x", "X-Trace": "keep"}
    with SafeFetcher(judge) as fetcher:
        assert fetcher.get(f"http://a.test:{a.port}/same", headers=headers).body == b"ok"
    first, same_origin, back = a.seen
    assert first.headers["authorization"] == "Bearer t0ken" and first.headers["cookie"] == "s=1"
    assert same_origin.headers["authorization"] == "Bearer t0ken"
    assert "proxy-authorization" not in first.headers  # never forwarded at all
    other = b.seen[0]
    for seen in (other, back):  # dropped on the cross-origin hop and for the rest of the chain
        assert "authorization" not in seen.headers and "cookie" not in seen.headers
        assert seen.headers["x-trace"] == "keep"


def test_post_body_rules_on_redirect(
    server: LocalServer, make_server: Callable[..., LocalServer], audit: AuditSink
) -> None:
    other = make_server()
    server.routes["/post303"] = lambda h: h.redirect(303, "/got")
    server.routes["/got"] = lambda h: h.reply(200, h.command.encode())
    server.routes["/post307"] = lambda h: h.redirect(307, "/got")
    server.routes["/post307x"] = lambda h: h.redirect(307, other.url("/got"))
    judge = loopback_judge("127.0.0.1", ports=[server.port, other.port])
    with SafeFetcher(judge, emit=audit) as fetcher:
        assert fetcher.post(server.url("/post303"), content="data").body == b"GET"
        assert fetcher.post(server.url("/post307"), content="data").body == b"POST"
        assert server.seen[-1].body == b"data"
        with pytest.raises(FetchRefused) as info:
            fetcher.post(server.url("/post307x"), content="secret body")
    assert info.value.rule == R.REDIRECT_DENIED and other.seen == []


def test_rebinding_connection_goes_to_validated_address(server: LocalServer, audit: AuditSink) -> None:
    """The resolver answers an allowed address first, then a private one. The connection for the
    first fetch goes to the validated address (no second lookup anywhere); the second judgment
    sees the private answer and refuses before any connection."""
    server.routes["/"] = lambda h: h.reply(200, b"validated")
    resolver = ScriptedResolver({"rebind.test": [["127.0.0.1"], ["10.0.0.1"]]})
    judge = make_judge(
        reach=(NetworkRule("rebind.test", (server.port,)),),
        reach_declared=True,
        resolver=resolver,
        allow_cidrs=("127.0.0.1/32",),
    )
    with SafeFetcher(judge, emit=audit) as fetcher:
        response = fetcher.get(f"http://rebind.test:{server.port}/")
        assert response.body == b"validated" and response.address == "127.0.0.1"
        assert resolver.calls == ["rebind.test"]  # the transport never resolved the name itself
        with pytest.raises(FetchRefused) as info:
            fetcher.get(f"http://rebind.test:{server.port}/")
        assert info.value.rule == R.SSRF_PRIVATE
        assert fetcher.transport.backend.connections == [("rebind.test", "127.0.0.1", server.port)]
    assert len(server.seen) == 1 and audit.rules == [R.SSRF_PRIVATE]


def test_transport_refuses_without_a_pin(server: LocalServer) -> None:
    import httpx

    transport = PinnedTransport()
    try:
        with pytest.raises(httpx.ConnectError):
            transport.handle_request(httpx.Request("GET", server.url("/")))
        with pinned("other.test", server.port, ["127.0.0.1"]), pytest.raises(httpx.ConnectError):
            transport.handle_request(httpx.Request("GET", server.url("/")))
        with (
            pinned("127.0.0.1", server.port + 1 if server.port < 65535 else 1, ["127.0.0.1"]),
            pytest.raises(httpx.ConnectError),
        ):
            transport.handle_request(httpx.Request("GET", server.url("/")))
    finally:
        transport.close()
    assert server.seen == []
    assert isinstance(transport.backend, httpcore.NetworkBackend)


def test_address_fallback_in_resolver_order(server: LocalServer) -> None:
    server.routes["/"] = lambda h: h.reply(200, b"v4")
    judge = make_judge(
        reach=(NetworkRule("dual.test", (server.port,)),),
        reach_declared=True,
        resolver=StaticResolver({"dual.test": ["::1", "127.0.0.1"]}),
        allow_cidrs=("127.0.0.1/32", "::1/128"),
    )
    with SafeFetcher(judge) as fetcher:
        response = fetcher.get(f"http://dual.test:{server.port}/")
    assert response.body == b"v4" and response.address == "127.0.0.1"


def test_tls_verified_against_hostname_not_address(make_server: Callable[..., LocalServer], tmp_path: Path) -> None:
    tls = make_tls(tmp_path, "pinned.test")
    server = make_server(tls=tls.server)
    server.routes["/"] = lambda h: h.reply(200, b"secure")
    server.routes["/down"] = lambda h: h.redirect(302, f"http://pinned.test:{server.port}/")
    resolve = {"pinned.test": ["127.0.0.1"], "wrong.test": ["127.0.0.1"]}
    judge = loopback_judge("pinned.test", "wrong.test", ports=[server.port], resolve=resolve)
    audit = AuditSink()
    with SafeFetcher(judge, verify=tls.client, emit=audit) as fetcher:
        assert fetcher.get(f"https://pinned.test:{server.port}/").body == b"secure"
        assert server.seen[0].headers["host"] == f"pinned.test:{server.port}"
        with pytest.raises(FetchError):
            fetcher.get(f"https://wrong.test:{server.port}/")  # certificate is for pinned.test
        with pytest.raises(FetchRefused) as info:
            fetcher.get(f"https://pinned.test:{server.port}/down")
    assert info.value.rule == R.REDIRECT_DENIED and audit.rules == [R.REDIRECT_DENIED]
    with pytest.raises(ValueError):
        PinnedTransport(verify=False)


def test_environment_proxies_are_ignored(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes["/"] = lambda h: h.reply(200, b"direct")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # nothing listens there
    with fetcher_for(server) as fetcher:
        assert fetcher.get(server.url("/")).body == b"direct"


# --- limits ----------------------------------------------------------------------------------


def _limits(**kw: Any) -> FetchLimits:
    return FetchLimits(max_response_bytes=kw.pop("max_response_bytes", MiB), **kw)


def test_oversize_response_with_and_without_length(server: LocalServer, audit: AuditSink) -> None:
    big = b"x" * (2 * MiB)
    server.routes["/len"] = lambda h: h.reply(200, big)
    server.routes["/stream"] = lambda h: h.reply(200, big, length=False)
    server.routes["/fits"] = lambda h: h.reply(200, b"y" * MiB)
    with fetcher_for(server, audit, limits=_limits()) as fetcher:
        for path in ("/len", "/stream"):
            with pytest.raises(FetchRefused) as info:
                fetcher.get(server.url(path))
            assert info.value.rule == R.RESPONSE_TOO_LARGE
        assert len(fetcher.get(server.url("/fits")).body) == MiB
    assert audit.rules == [R.RESPONSE_TOO_LARGE, R.RESPONSE_TOO_LARGE]


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", lambda data: brotli.compress(data, quality=5)),
    ],
)
def test_compression_bombs(
    server: LocalServer, audit: AuditSink, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    bomb = compress(b"\0" * (8 * MiB))  # 8x the cap; the ratio, not the size, is the attack
    assert len(bomb) < 64 * 1024
    small = compress(b"hello " * 1000)
    server.routes["/bomb"] = lambda h: h.reply(200, bomb, [("Content-Encoding", encoding)])
    server.routes["/ok"] = lambda h: h.reply(200, small, [("Content-Encoding", encoding)])
    with fetcher_for(server, audit, limits=_limits()) as fetcher:
        assert fetcher.get(server.url("/ok")).body == b"hello " * 1000
        with pytest.raises(FetchRefused) as info:
            fetcher.get(server.url("/bomb"))
    assert info.value.rule == R.RESPONSE_BOMB and audit.rules == [R.RESPONSE_BOMB]


def test_unknown_or_stacked_encoding_refused(server: LocalServer) -> None:
    server.routes["/zstd"] = lambda h: h.reply(200, b"\x28\xb5\x2f\xfd", [("Content-Encoding", "zstd")])
    twice = gzip.compress(gzip.compress(b"a" * 100))
    server.routes["/twice"] = lambda h: h.reply(200, twice, [("Content-Encoding", "gzip, gzip")])
    with fetcher_for(server) as fetcher:
        for path in ("/zstd", "/twice"):
            with pytest.raises(FetchRefused) as info:
                fetcher.get(server.url(path))
            assert info.value.rule == R.RESPONSE_BAD_ENCODING


def test_header_size_cap(server: LocalServer) -> None:
    server.routes["/h"] = lambda h: h.reply(200, b"", [(f"X-Pad-{i}", "p" * 1000) for i in range(80)])
    with (
        fetcher_for(server, limits=_limits(max_header_bytes=32 * 1024)) as fetcher,
        pytest.raises(FetchRefused) as info,
    ):
        fetcher.get(server.url("/h"))
    assert info.value.rule == R.RESPONSE_HEADERS_TOO_LARGE


def test_read_timeout(server: LocalServer, audit: AuditSink) -> None:
    def slow(h: Handler) -> None:
        h.server.owner.release.wait(5)

    server.routes["/slow"] = slow
    with fetcher_for(server, audit, limits=_limits(read_timeout=0.2)) as fetcher, pytest.raises(FetchRefused) as info:
        fetcher.get(server.url("/slow"))
    server.release.set()
    assert info.value.rule == R.FETCH_TIMEOUT and audit.rules == [R.FETCH_TIMEOUT]


def test_total_deadline_against_trickling_server(server: LocalServer) -> None:
    def trickle(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100")
        h.end_headers()
        for _ in range(100):
            if h.server.owner.release.wait(0.05):
                return
            h.wfile.write(b"x")
            h.wfile.flush()

    server.routes["/trickle"] = trickle
    limits = _limits(read_timeout=1.0, total_timeout=0.3)
    start = time.monotonic()
    with fetcher_for(server, limits=limits) as fetcher, pytest.raises(FetchRefused) as info:
        fetcher.get(server.url("/trickle"))
    server.release.set()
    assert info.value.rule == R.FETCH_TIMEOUT
    assert time.monotonic() - start < 5  # bounded, not a speed assertion


def test_head_reads_no_body(server: LocalServer) -> None:
    server.routes["/"] = lambda h: h.reply(200, b"body")
    with fetcher_for(server) as fetcher:
        response = fetcher.head(server.url("/"))
    assert response.status == 200 and response.body == b"" and server.seen[0].method == "HEAD"


def test_caller_host_header_dropped_and_crlf_refused(server: LocalServer, audit: AuditSink) -> None:
    server.routes["/"] = lambda h: h.reply(200, b"ok")
    with fetcher_for(server, audit) as fetcher:
        fetcher.get(server.url("/"), headers={"Host": "internal-admin", "Transfer-Encoding": "chunked"})
        assert server.seen[0].headers["host"] == f"127.0.0.1:{server.port}"
        with pytest.raises(FetchRefused) as info:
            fetcher.get(server.url("/"), headers={"X-Evil": "a\r\nHost: internal"})
        assert info.value.rule == R.REQUEST_BAD_HEADER
        with pytest.raises(FetchRefused) as info:
            fetcher.get(server.url("/"), headers={"Bad Name": "v"})
        assert info.value.rule == R.REQUEST_BAD_HEADER
    with fetcher_for(server, limits=FetchLimits(max_request_bytes=10)) as small, pytest.raises(FetchRefused) as info:
        small.post(server.url("/"), content=b"x" * 11)
    assert info.value.rule == R.REQUEST_TOO_LARGE


# --- secret placeholders ---------------------------------------------------------------------


def test_secret_substitution_runs_per_hop_and_refuses_unbound_hosts(
    make_server: Callable[..., LocalServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, dict[str, str]]] = []

    def substitute(headers: dict[str, str], body: bytes | None, host: str, bindings: Any, values: Any) -> Any:
        calls.append((host, dict(headers)))
        out = dict(headers)
        refused = []
        for key, value in headers.items():
            if "{{secret:gh}}" in value:
                if host in bindings.get("gh", ()):
                    out[key] = value.replace("{{secret:gh}}", values["gh"])
                else:
                    refused.append("gh")
        return out, body, refused

    import ethos_core.network.fetch as fetch_module

    monkeypatch.setattr(fetch_module, "_load_substituter", lambda: substitute)
    a, b = make_server(), make_server()
    a.routes["/"] = lambda h: h.reply(200, b"a")
    a.routes["/away"] = lambda h: h.redirect(302, f"http://b.test:{b.port}/")
    b.routes["/"] = lambda h: h.reply(200, b"b")
    judge = loopback_judge(
        "a.test", "b.test", ports=[a.port, b.port], resolve={"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]}
    )
    audit = AuditSink()
    fetcher = SafeFetcher(judge, emit=audit, secret_bindings={"gh": ("a.test",)}, secret_values={"gh": "s3cr3t"})
    with fetcher:
        fetcher.get(f"http://a.test:{a.port}/", headers={"X-Token": "{{secret:gh}}"})
        assert a.seen[0].headers["x-token"] == "s3cr3t"
        with pytest.raises(FetchRefused) as info:
            fetcher.get(f"http://b.test:{b.port}/", headers={"X-Token": "{{secret:gh}}"})
        assert info.value.rule == R.SECRET_UNBOUND_HOST and b.seen == []
        # A custom header survives a cross-origin redirect, but substitution runs again for the
        # new host on the original placeholder, so the secret does not follow.
        with pytest.raises(FetchRefused) as info:
            fetcher.get(f"http://a.test:{a.port}/away", headers={"X-Token": "{{secret:gh}}"})
        assert info.value.rule == R.SECRET_UNBOUND_HOST and info.value.hop == 1 and b.seen == []
    assert [c[0] for c in calls] == ["a.test", "b.test", "a.test", "b.test"]
    assert all("s3cr3t" not in str(c[1]) for c in calls)
    assert tuple(audit.events[-1].data["secrets"]) == ("gh",) and "s3cr3t" not in repr(audit.events)


def test_broken_substitution_fails_closed(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import ethos_core.network.fetch as fetch_module

    def broken(*_: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(fetch_module, "_load_substituter", lambda: broken)
    with fetcher_for(server) as fetcher, pytest.raises(FetchRefused) as info:
        fetcher.get(server.url("/"))
    assert info.value.rule == R.SECRET_SUBSTITUTION_FAILED and server.seen == []

    def unimportable() -> Any:
        raise ImportError("half-written module")

    monkeypatch.setattr(fetch_module, "_load_substituter", unimportable)
    with fetcher_for(server) as fetcher, pytest.raises(FetchRefused) as info:
        fetcher.get(server.url("/"))
    assert info.value.rule == R.SECRET_SUBSTITUTION_FAILED and server.seen == []


# --- construction from a runtime -------------------------------------------------------------


def test_for_personality_uses_runtime_services(server: LocalServer, tmp_path: Path) -> None:
    server.routes["/"] = lambda h: h.reply(200, b"from runtime")
    config = GlobalConfig(network=NetworkConfig(allow_cidrs=("127.0.0.1/32",), max_redirects=2))
    runtime = Runtime(HomePaths(tmp_path), config=config)
    runtime.services["dns_resolver"] = StaticResolver({"svc.test": ["127.0.0.1"]})
    personality = Personality(
        "researcher",
        str(tmp_path),
        safety=SafetyPolicy(network_reach=(NetworkRule("svc.test", (server.port,)),), network_declared=True),
    )
    with SafeFetcher.for_personality(runtime, personality, session="s1") as fetcher:
        assert fetcher.limits.redirects == 2
        assert fetcher.get(f"http://svc.test:{server.port}/").body == b"from runtime"
        with pytest.raises(FetchRefused):
            fetcher.get("http://169.254.169.254/")
    event = runtime.services["audit_memory"][0]
    assert event.rule == R.SSRF_METADATA and event.personality == "researcher" and event.session == "s1"
    assert event.severity == "critical"


def test_real_placeholder_module_binds_secrets_to_hosts(make_server: Callable[..., LocalServer]) -> None:
    pytest.importorskip("ethos_core.secrets.placeholders")
    a, b = make_server(), make_server()
    a.routes["/"] = lambda h: h.reply(200, b"a")
    b.routes["/"] = lambda h: h.reply(200, b"b")
    judge = loopback_judge(
        "a.test", "b.test", ports=[a.port, b.port], resolve={"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]}
    )
    audit = AuditSink()
    with SafeFetcher(judge, emit=audit, secret_bindings={"gh": ("a.test",)}, secret_values={"gh": "s3cr3t"}) as fetcher:
        fetcher.post(
            f"http://a.test:{a.port}/", headers={"Authorization": "token {{secret:gh}}"}, content="{{secret:gh}}"
        )
        assert a.seen[0].headers["authorization"] == "token s3cr3t" and a.seen[0].body == b"s3cr3t"
        with pytest.raises(FetchRefused) as info:
            fetcher.post(f"http://b.test:{b.port}/", content="leak {{secret:gh}}")
    assert info.value.rule == R.SECRET_UNBOUND_HOST and b.seen == []
    assert "s3cr3t" not in repr(audit.events)
