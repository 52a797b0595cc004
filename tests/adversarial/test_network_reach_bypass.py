"""Stage ⑩ bypass classes: one named test per known way to reach something the floor denies.

The personality in these tests may reach ``allowed.test`` (ports 80/443) and ``*.allowed.test``;
the stub resolver points those names at a public address. Every other target must be refused,
with the rule id documented in docs/network.md. Servers, where needed, run on 127.0.0.1 and are
allowed explicitly for that test only.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from ethos_core.network import rules as R
from ethos_core.network.fetch import FetchRefused, SafeFetcher
from ethos_core.network.judge import judge_url, make_judge
from ethos_core.network.resolver import ResolutionError, StaticResolver
from ethos_core.types import Decision, NetworkRule

PUBLIC = "93.184.215.14"
REACH = (NetworkRule("allowed.test", (80, 443)), NetworkRule("*.allowed.test", (80, 443)))
RESOLVER = StaticResolver({"allowed.test": [PUBLIC], "www.allowed.test": [PUBLIC]})
SSRF = {v for k, v in vars(R).items() if k.startswith("SSRF_")}


def judge(url: str, **kw: Any) -> Decision:
    params: dict[str, Any] = {"reach": REACH, "reach_declared": True, "resolver": RESOLVER}
    params.update(kw)
    return judge_url(url, **params)[0]


def assert_denied(urls: Sequence[str], rules: set[str] | str, **kw: Any) -> None:
    wanted = {rules} if isinstance(rules, str) else rules
    for url in urls:
        decision = judge(url, **kw)
        assert decision.denied, f"{url!r} was allowed"
        assert decision.rule in wanted, f"{url!r}: {decision.rule} not in {sorted(wanted)}"


# --- IPv4 spellings ----------------------------------------------------------------------------


def test_ipv4_decimal_octal_hex_short_and_mixed_forms() -> None:
    loopback = [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://017700000001/",
        "http://0x7f000001/",
        "http://0x7F.1/",
        "http://127.1/",
        "http://127.0.1/",
        "http://0177.0.0.01/",
        "http://0x7f.0.0.1/",
        "http://0x7f.0x0.0x0.0x1/",
        "http://00000177.0x0000.0.1/",
        "http://127.0.0.1./",
        "http://127.000.000.001/",
        "http://0x7f.1./",
        "http://0X7F.00.0X0.1/",
    ]
    assert_denied(loopback, R.SSRF_LOOPBACK)
    metadata = [
        "http://2852039166/",
        "http://0xa9fea9fe/",
        "http://0251.0376.0251.0376/",
        "http://169.254.43518/",
        "http://0xa9.0xfe.0xa9fe/",
    ]
    assert_denied(metadata, R.SSRF_METADATA)
    assert_denied(["http://0/", "http://0.0.0.0/", "http://0x0/"], R.SSRF_UNSPECIFIED)
    assert_denied(["http://10.1/", "http://0xa.1/", "http://012.0.0.1/", "http://167772161/"], R.SSRF_PRIVATE)


def test_ipv4_invalid_numbers_are_refused_not_resolved() -> None:
    urls = [
        "http://256.0.0.1/",
        "http://1.2.3.4.5/",
        "http://0x100000000/",
        "http://4294967296/",
        "http://08.0.0.1/",
        "http://0xg.0.0.1/",
        "http://127.0.0.0x/",
        "http://allowed.test.1/",
        "http://1.256.1/",
    ]
    for url in urls:
        decision = judge(url)
        assert decision.denied and decision.rule in {R.URL_INVALID} | SSRF, (url, decision.rule)


# --- IPv6 forms --------------------------------------------------------------------------------


def test_ipv6_loopback_spellings() -> None:
    urls = ["http://[::1]/", "http://[0:0:0:0:0:0:0:1]/", "http://[::0001]/", "http://[0000::1]/", "http://[::1]:80/"]
    assert_denied(urls, R.SSRF_LOOPBACK)


def test_ipv6_zone_ids() -> None:
    assert_denied(["http://[fe80::1%25eth0]/", "http://[fe80::1%eth0]/", "http://[FE80::a%251]/"], R.SSRF_LINK_LOCAL)
    assert_denied(["http://[2606:4700::1%25eth0]/"], {R.URL_AMBIGUOUS, R.URL_INVALID})
    assert_denied(["http://[febf::1%25lo]/"], R.SSRF_LINK_LOCAL)  # all of fe80::/10, not just fe80::/64


def test_ipv4_mapped_compatible_and_siit() -> None:
    assert_denied(
        ["http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[0:0:0:0:0:ffff:127.0.0.1]/"], R.SSRF_LOOPBACK
    )
    assert_denied(["http://[::ffff:169.254.169.254]/", "http://[::ffff:a9fe:a9fe]/"], R.SSRF_METADATA)
    assert_denied(["http://[::127.0.0.1]/", "http://[::7f00:1]/"], R.SSRF_LOOPBACK)  # deprecated compatible
    assert_denied(["http://[::ffff:0:10.0.0.1]/"], R.SSRF_PRIVATE)  # SIIT translated


def test_nat64_prefixes() -> None:
    assert_denied(["http://[64:ff9b::127.0.0.1]/", "http://[64:ff9b::7f00:1]/"], R.SSRF_LOOPBACK)
    assert_denied(["http://[64:ff9b::169.254.169.254]/"], R.SSRF_METADATA)
    # Local-use prefix: the embedded address is found at each RFC 6052 position; the prefix is denied anyway.
    assert_denied(["http://[64:ff9b:1::a9fe:a9fe]/", "http://[64:ff9b:1:a9fe:a9:fe00::]/"], R.SSRF_METADATA)
    assert_denied(["http://[64:ff9b:1::808:808]/"], SSRF)  # some layout reads a reserved address; denied either way


def test_6to4_teredo_and_isatap() -> None:
    assert_denied(["http://[2002:7f00:1::]/", "http://[2002:7f00:0001:0:0:0:0:1]/"], R.SSRF_LOOPBACK)
    assert_denied(["http://[2002:a9fe:a9fe::1]/"], R.SSRF_METADATA)
    # Teredo: client address is XOR-obfuscated in the low 32 bits: ~127.0.0.1 = 80ff:fffe
    assert_denied(["http://[2001:0:808:808:0:0:80ff:fffe]/"], R.SSRF_LOOPBACK)
    assert_denied(["http://[2001:0:a9fe:a9fe::1]/"], R.SSRF_METADATA)  # Teredo server field
    assert_denied(["http://[2001:db9::5efe:10.0.0.1]/", "http://[2001:db9::200:5efe:a00:1]/"], R.SSRF_PRIVATE)  # ISATAP


# --- metadata and special names ---------------------------------------------------------------


def test_metadata_names_every_spelling() -> None:
    urls = [
        "http://metadata.google.internal/",
        "http://METADATA.GOOGLE.INTERNAL./",
        "http://metadata/",
        "http://ｍｅｔａｄａｔａ.google.internal/",
        "http://metadata。google。internal/",
        "http://metadata.goog/",
        "http://instance-data/",
    ]
    assert_denied(urls, R.SSRF_METADATA, reach=(NetworkRule("*.internal", (80,)),))


def test_localhost_names() -> None:
    urls = [
        "http://localhost/",
        "http://LOCALHOST./",
        "http://a.localhost/",
        "http://x.y.localhost./",
        "http://ｌｏｃａｌｈｏｓｔ/",
    ]
    assert_denied(urls, R.SSRF_LOOPBACK)


def test_allow_cidrs_cannot_open_metadata() -> None:
    reach = (
        NetworkRule("*.allowed.test", (80,)),
        NetworkRule("169.254.169.254", (80,)),
        NetworkRule("168.63.129.16", (80,)),
    )
    for cidrs in (("0.0.0.0/0", "::/0"), ("169.254.0.0/16",), ("168.63.129.16/32",), ("::ffff:0:0/96",)):
        assert_denied(
            [
                "http://169.254.169.254/",
                "http://168.63.129.16/",
                "http://[::ffff:169.254.169.254]/",
                "http://2852039166/",
            ],
            R.SSRF_METADATA,
            reach=reach,
            allow_cidrs=cidrs,
        )
    resolver = StaticResolver({"meta.allowed.test": ["169.254.169.254"]})
    assert_denied(
        ["http://meta.allowed.test/"], R.SSRF_METADATA, reach=reach, resolver=resolver, allow_cidrs=("0.0.0.0/0",)
    )


# --- Unicode and IDNA -------------------------------------------------------------------------


def test_fullwidth_and_ideographic_dots() -> None:
    assert_denied(
        ["http://１２７．０．０．１/", "http://127。0。0。1/", "http://127｡0｡0｡1/", "http://１２７．１/"],
        R.SSRF_LOOPBACK,
    )
    decision, target = judge_url(
        "https://ａｌｌｏｗｅｄ．ｔｅｓｔ/", reach=REACH, reach_declared=True, resolver=RESOLVER
    )
    assert decision.allowed and target is not None and target.host == "allowed.test"


def test_enclosed_alphanumerics() -> None:
    assert_denied(["http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", "http://⑫⑦.0.0.1/", "http://①②⑦.0.0.1/".replace("①②", "⑫")], R.SSRF_LOOPBACK)
    assert judge("http://ⓐⓛⓛⓞⓦⓔⓓ.ⓣⓔⓢⓣ/").allowed  # normalises to allowed.test, judged as that


def test_idn_lookalikes_never_match_latin_entries() -> None:
    assert_denied(["https://аllowed.test/", "https://allοwed.test/"], R.URL_CONFUSABLE)  # Cyrillic а / Greek ο mixed in
    assert_denied(["https://аⅼⅼоwеd.test/"], {R.URL_CONFUSABLE, R.REACH_HOST})
    assert_denied(["https://ѕсореԁ.test/", "https://xn--80ak6aa92e.test/"], R.REACH_HOST)  # whole-script look-alikes
    assert_denied(["https://xn--zz.test/", "https://xn--.test/"], R.URL_INVALID)  # broken punycode


def test_hidden_unicode_in_host_or_url() -> None:
    hidden = ["\u200b", "\u200d", "\u00ad", "\u202e", "\u2066", "\ufeff", "\u180e", "\u2060", "\U000e0041"]
    for ch in hidden:
        for url in (f"https://allowed{ch}.test/", f"https://allowed.test/{ch}path", f"https://{ch}allowed.test/"):
            decision = judge(url)
            assert decision.rule == R.URL_AMBIGUOUS, (repr(url), decision.rule)


def test_whitespace_and_control_characters() -> None:
    chars = [" ", "\t", "\n", "\r", "\0", "\x1b", "\x7f", "\x85", "\u00a0", "\u3000", "\u2028", "\u2029"]
    for ch in chars:
        for url in (f"https://allowed.test{ch}/", f"https://allowed.test/{ch}", f"http{ch}s://allowed.test/"):
            decision = judge(url)
            assert decision.denied and decision.rule in {R.URL_AMBIGUOUS, R.URL_INVALID, R.SCHEME_DENIED}, (
                repr(url),
                decision.rule,
            )
    assert judge(" https://allowed.test/").denied and judge("https://allowed.test/ ").denied


# --- parser differentials -----------------------------------------------------------------------


def test_userinfo_tricks() -> None:
    urls = [
        "https://allowed.test@127.0.0.1/",
        "https://127.0.0.1@allowed.test/",
        "https://user:pass@allowed.test/",
        "https://allowed.test:443@evil.example/",
        "https://@allowed.test/",
        "https://a%40b@allowed.test/",
        "https://allowed.test%40evil.example/",
    ]
    assert_denied(urls, R.URL_AMBIGUOUS)


def test_backslash_tricks() -> None:
    urls = [
        "https://allowed.test\\@evil.example/",
        "https:\\\\evil.example/",
        "https://evil.example\\.allowed.test/",
        "https://allowed.test/\\\\evil.example",
        "http:/\\evil.example/",
    ]
    assert_denied(urls, R.URL_AMBIGUOUS)


def test_fragment_and_query_tricks_keep_the_real_host() -> None:
    decision, target = judge_url(
        "https://allowed.test#@127.0.0.1/", reach=REACH, reach_declared=True, resolver=RESOLVER
    )
    assert (
        decision.allowed
        and target is not None
        and target.host == "allowed.test"
        and target.url == "https://allowed.test/"
    )
    decision, target = judge_url(
        "https://allowed.test?@127.0.0.1/", reach=REACH, reach_declared=True, resolver=RESOLVER
    )
    assert decision.allowed and target is not None and target.host == "allowed.test"
    assert_denied(
        [
            "https://evil.example#.allowed.test",
            "https://evil.example?.allowed.test",
            "https://evil.example/.allowed.test",
        ],
        R.REACH_HOST,
    )


def test_slash_and_scheme_variants() -> None:
    assert_denied(
        ["http:/allowed.test/", "http:allowed.test/", "http:///allowed.test/", "http:////allowed.test/"],
        R.URL_AMBIGUOUS,
    )
    assert_denied(
        [
            "file:///etc/passwd",
            "FILE://localhost/etc/passwd",
            "gopher://allowed.test/",
            "dict://allowed.test:11211/",
            "jar:http://allowed.test!/",
            "view-source:http://allowed.test/",
        ],
        R.SCHEME_DENIED,
    )
    assert_denied(["//allowed.test/", "allowed.test/", ":http://allowed.test/", "1http://allowed.test/"], R.URL_INVALID)
    assert judge("HTTPS://Allowed.Test/").allowed


def test_percent_encoded_hosts() -> None:
    assert_denied(
        ["http://%31%32%37.0.0.1/", "http://allowed%2etest/", "http://%6c%6f%63%61%6c%68%6f%73%74/"], R.URL_AMBIGUOUS
    )


def test_port_tricks() -> None:
    urls = [
        "https://allowed.test:0/",
        "https://allowed.test:65536/",
        "https://allowed.test:+443/",
        "https://allowed.test:0x1bb/",
        "https://allowed.test:/",
        "https://allowed.test:443:80/",
        "https://allowed.test:00000000443/",
        "https://allowed.test:-1/",
        "https://allowed.test:４４３/",
    ]
    assert_denied(urls, {R.URL_INVALID, R.URL_AMBIGUOUS})
    assert judge("https://allowed.test:8443/").rule == R.REACH_PORT
    assert judge("https://allowed.test:0443/").allowed  # leading zero is still port 443 everywhere


# --- networkReach wildcard confusion --------------------------------------------------------


def test_wildcard_suffix_confusion() -> None:
    reach = (NetworkRule("*.slack.com", (443,)),)
    resolver = StaticResolver({"slack.com": [PUBLIC], "hooks.slack.com": [PUBLIC]})
    assert_denied(
        [
            "https://slack.com/",
            "https://evilslack.com/",
            "https://slack.com.evil.example/",
            "https://hooks-slack.com/",
            "https://xslack.com/",
        ],
        R.REACH_HOST,
        reach=reach,
        resolver=resolver,
    )
    assert judge("https://hooks.slack.com./", reach=reach, resolver=resolver).allowed


# --- length edges -----------------------------------------------------------------------------


def test_length_edges_and_megabyte_inputs() -> None:
    assert judge("https://" + "a" * 64 + ".test/").rule == R.URL_INVALID
    assert judge("https://" + ".".join(["a" * 60] * 5) + ".test/").rule == R.URL_INVALID
    assert judge("https://allowed.test/" + "a" * 9000).rule == R.URL_INVALID
    for huge in (
        "https://" + "a." * 500_000 + "test/",
        "https://allowed.test/" + "%" * 1_000_000,
        "h" * 1_000_000,
        "https://[" + ":" * 1_000_000 + "]/",
    ):
        start = time.perf_counter()
        assert judge(huge).denied
        assert time.perf_counter() - start < 5  # linear-time refusal, generous bound


# --- DNS answer tricks -------------------------------------------------------------------------


def test_dns_answer_tricks() -> None:
    def with_answer(answer: Sequence[str]) -> Decision:
        return judge("https://www.allowed.test/", resolver=StaticResolver({"www.allowed.test": list(answer)}))

    assert with_answer([PUBLIC, "127.0.0.1"]).rule == R.SSRF_LOOPBACK
    assert with_answer(["::ffff:10.0.0.1", PUBLIC]).rule == R.SSRF_PRIVATE
    assert with_answer(["fe80::1%eth0"]).rule == R.SSRF_LINK_LOCAL
    assert with_answer(["2606:4700::1%eth0"]).rule == R.DNS_FAILED
    for weird in (["127.1"], ["0x7f000001"], ["not-an-ip"], [""], ["2130706433"]):
        assert with_answer(weird).rule == R.DNS_FAILED, weird

    class Raises:
        def resolve(self, host: str) -> list[str]:
            raise ResolutionError("NXDOMAIN")

    assert judge("https://www.allowed.test/", resolver=Raises()).rule == R.DNS_FAILED


# --- the fetch: redirects, rebinding races, judge failures ---------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    routes: dict[str, tuple[int, list[tuple[str, str]]]] = {}
    hits: list[str] = []

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self.hits.append(self.path)
        status, headers = self.routes.get(self.path, (200, []))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture
def local() -> Iterator[tuple[int, type[_Handler]]]:
    handler = type("H", (_Handler,), {"routes": {}, "hits": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd.server_address[1], handler
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _loopback_fetcher(port: int, resolver: Any = None, events: list[Any] | None = None) -> SafeFetcher:
    judge_fn = make_judge(
        reach=(NetworkRule("127.0.0.1", (port,)), NetworkRule("site.test", (port,))),
        reach_declared=True,
        resolver=resolver or StaticResolver({"site.test": ["127.0.0.1"]}),
        allow_cidrs=("127.0.0.1/32",),
    )
    return SafeFetcher(judge_fn, emit=None if events is None else events.append)


def test_redirect_location_tricks(local: tuple[int, type[_Handler]]) -> None:
    port, handler = local
    cases = {
        "/crlf": ("/x\r\n//169.254.169.254/", {R.URL_AMBIGUOUS, R.REDIRECT_DENIED}),
        "/tab": ("/\t/169.254.169.254/", {R.URL_AMBIGUOUS}),
        "/scheme-relative": ("http:169.254.169.254/", {R.REDIRECT_DENIED}),
        "/backslash": ("/\\169.254.169.254/", {R.URL_AMBIGUOUS}),
        "/proto-relative": ("//169.254.169.254/latest", {R.SSRF_METADATA}),
        "/decimal": ("http://2852039166/", {R.SSRF_METADATA}),
        "/mapped": ("http://[::ffff:a9fe:a9fe]/", {R.SSRF_METADATA}),
        "/userinfo": (f"http://site.test:{port}@169.254.169.254/", {R.URL_AMBIGUOUS}),
        "/file": ("file:///etc/passwd", {R.SCHEME_DENIED}),
        "/data": ("data:text/plain,hi", {R.SCHEME_DENIED}),
        "/other-port": (f"http://127.0.0.1:{port + 1 if port < 65535 else 1}/", {R.REACH_PORT}),
    }
    for path, (location, _rules) in cases.items():
        handler.routes[path] = (302, [("Location", location)])
    events: list[Any] = []
    with _loopback_fetcher(port, events=events) as fetcher:
        for path, (location, rules) in cases.items():
            try:
                fetcher.get(f"http://127.0.0.1:{port}{path}")
            except FetchRefused as refused:
                assert refused.rule in rules and refused.hop == 1, (path, refused.rule)
            except Exception as exc:  # noqa: BLE001 - the server may refuse to send a CR/LF header
                assert path == "/crlf", (path, exc)
            else:
                raise AssertionError(f"{path} -> {location!r} was followed")
    assert all(h.split("?")[0] in cases for h in handler.hits)
    assert all(e.category == "audit.block" and e.rule for e in events)


def test_rebinding_race_connections_only_reach_validated_addresses(local: tuple[int, type[_Handler]]) -> None:
    """Many threads fetch while the resolver flips between an allowed and a denied answer:
    every connection that is made goes to the validated address, every flip to a denied answer
    is refused before connecting, and the transport itself never resolves anything."""
    port, handler = local

    class Flipping:
        def __init__(self) -> None:
            self.count = 0
            self.lock = threading.Lock()

        def resolve(self, host: str) -> list[str]:
            with self.lock:
                self.count += 1
                return ["127.0.0.1"] if self.count % 2 else ["10.0.0.1"]

    resolver = Flipping()
    outcomes: list[str] = []
    with _loopback_fetcher(port, resolver=resolver) as fetcher:

        def worker() -> None:
            for _ in range(5):
                try:
                    fetcher.get(f"http://site.test:{port}/")
                    outcomes.append("ok")
                except FetchRefused as refused:
                    outcomes.append(refused.rule)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        connections = list(fetcher.transport.backend.connections)
    assert resolver.count == 20 and len(outcomes) == 20
    assert outcomes.count("ok") == 10 and outcomes.count(R.SSRF_PRIVATE) == 10
    assert connections and all(address == "127.0.0.1" for _host, address, _port in connections)
    assert len(handler.hits) == 10


def test_failing_or_misbehaving_judge_denies(local: tuple[int, type[_Handler]]) -> None:
    port, handler = local

    def raising(access: Any) -> Any:
        raise RuntimeError("plugin bug")

    def allow_without_target(access: Any) -> Any:
        return Decision.allow(judge("https://allowed.test/").stage), None

    for judge_fn in (raising, allow_without_target):
        with SafeFetcher(judge_fn) as fetcher, pytest.raises(FetchRefused):
            fetcher.get(f"http://127.0.0.1:{port}/")
    assert handler.hits == []
