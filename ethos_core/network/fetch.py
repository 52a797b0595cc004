"""The safe fetch: HTTP(S) egress that can only go where stage ⑩ said it may.

Invariant: every request hop — the first URL and each redirect target — is judged by the judge
the fetcher was built with (scheme, host, every resolved address, networkReach; the engine
routes this through the whole stage ⑩ including plugins), and the connection for that hop is
pinned to exactly the addresses that judgment validated (:mod:`ethos_core.network.transport`).
Redirects are followed by this code, never by httpx: at most ``max_redirects`` (≤ 5),
relative and protocol-relative ``Location`` resolved against the current URL, https→http
downgrades refused, ``Authorization``, ``Cookie`` and ``Proxy-Authorization`` dropped for the
rest of the chain once any hop leaves the first origin, and a request body never resent to
another origin. Environment proxy variables are ignored (a proxy would connect somewhere the
judge never saw). Responses are bounded while streaming: header bytes, wire bytes, decoded bytes
(compression bombs) and total time. Every refusal raises :class:`FetchRefused` and emits one
``audit.block`` event with the stable rule id.

Secret placeholders: when :mod:`ethos_core.secrets.placeholders` exists, its
``substitute_for_egress(headers, body, host, bindings, values)`` runs once per hop on the
caller's original headers and body, so a secret bound to one host is never sent to another
(refused names → ``secret.unbound_host``, the request is not sent).

Not covered: what the response says (it is untrusted content; stage ⑭ wraps it), DNS-over-HTTPS
or other covert channels to hosts networkReach allows, HTTP/2, async callers.
"""

from __future__ import annotations

import importlib
import importlib.util
import ssl
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

import attrs
import httpx

from ethos_core.config.model import NetworkConfig
from ethos_core.errors import BoundaryError, EthosError
from ethos_core.network import rules as R
from ethos_core.network.decode import ACCEPT_ENCODING, BoundedDecoder, DecodedTooLarge, UnsupportedEncoding
from ethos_core.network.judge import STAGE, Judge, JudgedTarget, make_judge, with_pipeline
from ethos_core.network.transport import PinnedTransport, pinned
from ethos_core.network.url import _SCHEME_RE, UrlRefused, _screen_characters, parse_url
from ethos_core.types import AuditEvent, Decision, Personality, UrlAccess

MAX_REDIRECTS_CEILING = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
# Set by the fetch itself or meaningless/dangerous from a caller (Host would pick another
# virtual host behind the validated address).
DROPPED_REQUEST_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "accept-encoding",
    }
)
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
USER_AGENT = "ethos-safe-fetch/0.1"


@attrs.frozen
class FetchLimits:
    """Bounds of one fetch. ``max_redirects`` is clamped to 5; decoded bytes default to the
    wire cap."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_response_bytes: int = 10 * 1024 * 1024
    max_decompressed_bytes: int | None = None
    max_header_bytes: int = 64 * 1024
    max_redirects: int = MAX_REDIRECTS_CEILING
    max_request_bytes: int = 10 * 1024 * 1024

    @property
    def decoded_cap(self) -> int:
        return self.max_response_bytes if self.max_decompressed_bytes is None else self.max_decompressed_bytes

    @property
    def redirects(self) -> int:
        return max(0, min(self.max_redirects, MAX_REDIRECTS_CEILING))

    @classmethod
    def from_config(cls, network: NetworkConfig) -> FetchLimits:
        return cls(
            connect_timeout=network.connect_timeout,
            read_timeout=network.read_timeout,
            total_timeout=max(network.connect_timeout + network.read_timeout, 60.0),
            max_response_bytes=network.max_response_bytes,
            max_redirects=network.max_redirects,
        )


@attrs.frozen
class FetchResponse:
    """A completed exchange: final URL, status, headers, decoded body and the URLs visited."""

    url: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    hops: tuple[str, ...]
    address: str | None = None

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    def text(self) -> str:
        """Body decoded with the declared charset (UTF-8 otherwise), invalid bytes replaced."""
        charset = "utf-8"
        for param in (self.header("content-type") or "").split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                charset = value.strip().strip('"')
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


class FetchRefused(BoundaryError):
    """The safe fetch refused a hop or a response. ``decision`` carries stage, rule and reason."""

    def __init__(self, decision: Decision, url: str, hop: int = 0):
        super().__init__("fetch", url, decision.rule, decision.reason)
        self.decision = decision
        self.hop = hop


class FetchError(EthosError):
    """The exchange failed for a reason that is not a policy refusal (refused connection,
    protocol error). Nothing was bypassed; the caller may retry."""


Emit = Callable[[AuditEvent], None]
Substituter = Callable[..., Any]


def _peer_address(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    try:
        peer = stream.get_extra_info("server_addr") if stream is not None else None
    except Exception:  # noqa: BLE001 - informational only
        return None
    return str(peer[0]) if isinstance(peer, tuple) and peer else None


def _load_substituter() -> Substituter | None:
    """``ethos_core.secrets.placeholders.substitute_for_egress`` if that module exists.

    A module that exists but fails to import, or lacks the function, raises: a broken
    substitution layer must not silently send placeholders (or skip host binding).
    """
    if importlib.util.find_spec("ethos_core.secrets.placeholders") is None:
        return None
    module = importlib.import_module("ethos_core.secrets.placeholders")
    func: Substituter = module.substitute_for_egress
    return func


@attrs.define
class _Chain:
    """State carried across the hops of one fetch."""

    method: str
    body: bytes | None
    headers: dict[str, str]
    tool: str | None
    deadline: float
    first_origin: tuple[str, str, int] | None = None
    crossed: bool = False
    visited: list[str] = attrs.field(factory=list)


class SafeFetcher:
    """HTTP(S) client for agents. Build one per personality (its judge carries the policy).

    ``judge`` maps a :class:`UrlAccess` to ``(Decision, JudgedTarget | None)`` — see
    :func:`ethos_core.network.judge.make_judge` and :func:`~ethos_core.network.judge.with_pipeline`.
    ``emit`` receives one ``audit.block`` :class:`AuditEvent` per refusal.
    """

    def __init__(
        self,
        judge: Judge,
        *,
        emit: Emit | None = None,
        limits: FetchLimits | None = None,
        verify: ssl.SSLContext | bool = True,
        secret_bindings: Mapping[str, Any] | None = None,
        secret_values: Mapping[str, str] | None = None,
        personality: str | None = None,
        session: str | None = None,
        transport: PinnedTransport | None = None,
    ):
        self.judge = judge
        self.emit = emit
        self.limits = limits or FetchLimits()
        self.secret_bindings: Mapping[str, Any] = dict(secret_bindings or {})
        self.secret_values: Mapping[str, str] = dict(secret_values or {})
        self.personality = personality
        self.session = session
        self.transport = transport or PinnedTransport(verify=verify)
        self._substituter: Substituter | None = None
        self._substituter_error: str | None = None
        try:
            self._substituter = _load_substituter()
        except Exception as exc:  # noqa: BLE001 - remembered; every request is then refused
            self._substituter_error = f"{type(exc).__name__}: {exc}"

    @classmethod
    def for_personality(
        cls,
        runtime: Any,
        personality: Personality,
        *,
        stage: Callable[[UrlAccess], Decision] | None = None,
        tool_hosts: Iterable[str] | None = None,
        session: str | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> SafeFetcher:
        """The fetcher the engine gives a personality's tools: its networkReach, the global
        allow-CIDRs and limits, ``runtime.service("dns_resolver")`` when attached, the
        personality's secret bindings, and ``stage`` (``pipeline.network_reach`` bound to the
        session context) judging every hop on top of the floor."""
        from ethos_core.network.resolver import Resolver, SystemResolver

        attached = runtime.service("dns_resolver")
        resolver: Resolver = attached if attached is not None else SystemResolver()
        floor = make_judge(
            reach=personality.safety.network_reach,
            reach_declared=personality.safety.network_declared,
            resolver=resolver,
            allow_cidrs=runtime.config.network.allow_cidrs,
            tool_hosts=tool_hosts,
        )
        return cls(
            with_pipeline(floor, stage) if stage is not None else floor,
            emit=runtime.emit,
            limits=FetchLimits.from_config(runtime.config.network),
            verify=verify,
            secret_bindings=runtime.config.secrets.bindings,
            secret_values=runtime.secret_values,
            personality=personality.id,
            session=session,
        )

    # --- public API ------------------------------------------------------------------------

    def get(self, url: str, **kw: Any) -> FetchResponse:
        return self.request("GET", url, **kw)

    def head(self, url: str, **kw: Any) -> FetchResponse:
        return self.request("HEAD", url, **kw)

    def post(self, url: str, **kw: Any) -> FetchResponse:
        return self.request("POST", url, **kw)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
        tool: str | None = None,
    ) -> FetchResponse:
        """Send ``method url`` through the judge, following redirects; raise :class:`FetchRefused`
        (audited) on any refusal and :class:`FetchError` on transport failure."""
        body = content.encode("utf-8") if isinstance(content, str) else content
        chain = _Chain(
            method=method.upper(),
            body=body,
            headers={},
            tool=tool,
            deadline=time.monotonic() + self.limits.total_timeout,
        )
        if body is not None and len(body) > self.limits.max_request_bytes:
            self._refuse(
                chain, url, 0, R.REQUEST_TOO_LARGE, f"request body exceeds {self.limits.max_request_bytes} bytes"
            )
        chain.headers = self._clean_headers(chain, url, headers or {})
        current = url
        hop = 0
        previous: JudgedTarget | None = None
        while True:
            target = self._judge_hop(chain, current, hop, previous)
            response = self._exchange(chain, current, hop, target)
            location = response.headers.get("location")
            if response.status_code not in REDIRECT_STATUSES or location is None:
                return self._finish(chain, current, hop, target, response)
            response.close()
            hop += 1
            if hop > self.limits.redirects:
                self._refuse(chain, current, hop, R.REDIRECT_TOO_MANY, f"more than {self.limits.redirects} redirects")
            current = self._next_url(chain, target, location, hop)
            self._rewrite_for_redirect(chain, response.status_code, target, current, hop)
            previous = target

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> SafeFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- hops ------------------------------------------------------------------------------

    def _judge_hop(self, chain: _Chain, url: str, hop: int, previous: JudgedTarget | None) -> JudgedTarget:
        if previous is not None and previous.scheme == "https" and url[:5].lower() == "http:":
            self._refuse(chain, url, hop, R.REDIRECT_DENIED, "redirect from https to plain http refused")
        try:
            decision, target = self.judge(UrlAccess(url, method=chain.method, tool=chain.tool))
        except Exception as exc:  # noqa: BLE001 - a failing judge denies
            decision, target = Decision.deny(STAGE, "builtin.error", f"judge failed: {type(exc).__name__}"), None
        if target is None or not decision.allowed:
            self._refuse_decision(chain, url, hop, decision)
        assert target is not None
        if chain.first_origin is None:
            chain.first_origin = target.origin
        elif target.origin != chain.first_origin:
            chain.crossed = True
        chain.visited.append(target.url)
        return target

    def _exchange(self, chain: _Chain, url: str, hop: int, target: JudgedTarget) -> httpx.Response:
        headers = {k: v for k, v in chain.headers.items() if not (chain.crossed and k.lower() in CREDENTIAL_HEADERS)}
        headers, body = self._substitute(chain, url, hop, target, headers, chain.body)
        if not any(k.lower() == "user-agent" for k in headers):
            headers["User-Agent"] = USER_AGENT
        headers["Accept-Encoding"] = ACCEPT_ENCODING
        remaining = chain.deadline - time.monotonic()
        if remaining <= 0:
            self._refuse(chain, url, hop, R.FETCH_TIMEOUT, "total time limit reached")
        timeout = {
            "connect": min(self.limits.connect_timeout, remaining),
            "read": min(self.limits.read_timeout, remaining),
            "write": min(self.limits.read_timeout, remaining),
            "pool": min(self.limits.connect_timeout, remaining),
        }
        request = httpx.Request(
            chain.method, target.url, headers=headers, content=body, extensions={"timeout": timeout}
        )
        with pinned(target.host, target.port, target.addresses):
            try:
                response = self.transport.handle_request(request)
            except httpx.TimeoutException as exc:
                self._refuse(chain, url, hop, R.FETCH_TIMEOUT, f"{type(exc).__name__} talking to {target.host}")
            except httpx.HTTPError as exc:
                raise FetchError(f"fetching {target.url} failed: {type(exc).__name__}: {exc}") from exc
        header_bytes = sum(len(k) + len(v) + 4 for k, v in response.headers.raw)
        if header_bytes > self.limits.max_header_bytes:
            response.close()
            self._refuse(
                chain,
                url,
                hop,
                R.RESPONSE_HEADERS_TOO_LARGE,
                f"response headers exceed {self.limits.max_header_bytes} bytes",
            )
        return response

    def _finish(
        self, chain: _Chain, url: str, hop: int, target: JudgedTarget, response: httpx.Response
    ) -> FetchResponse:
        address = _peer_address(response)
        try:
            body = self._read_body(chain, url, hop, response)
        finally:
            response.close()
        return FetchResponse(
            url=target.url,
            status=response.status_code,
            reason=response.reason_phrase,
            headers=tuple((k, v) for k, v in response.headers.multi_items()),
            body=body,
            hops=tuple(chain.visited),
            address=address,
        )

    def _read_body(self, chain: _Chain, url: str, hop: int, response: httpx.Response) -> bytes:
        if chain.method == "HEAD":
            return b""
        cap = self.limits.max_response_bytes
        declared = response.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > cap:
            self._refuse(chain, url, hop, R.RESPONSE_TOO_LARGE, f"Content-Length {declared} exceeds {cap} bytes")
        try:
            decoder = BoundedDecoder(response.headers.get("content-encoding", ""), self.limits.decoded_cap)
        except UnsupportedEncoding as exc:
            self._refuse(chain, url, hop, R.RESPONSE_BAD_ENCODING, str(exc))
        parts: list[bytes] = []
        received = 0
        try:
            for chunk in response.iter_raw():
                received += len(chunk)
                if received > cap:
                    self._refuse(chain, url, hop, R.RESPONSE_TOO_LARGE, f"response body exceeds {cap} bytes")
                parts.append(decoder.feed(chunk))
                if time.monotonic() > chain.deadline:
                    self._refuse(chain, url, hop, R.FETCH_TIMEOUT, "total time limit reached while reading")
            parts.append(decoder.flush())
        except DecodedTooLarge:
            self._refuse(chain, url, hop, R.RESPONSE_BOMB, f"decoded body exceeds {self.limits.decoded_cap} bytes")
        except UnsupportedEncoding as exc:
            self._refuse(chain, url, hop, R.RESPONSE_BAD_ENCODING, str(exc))
        except httpx.TimeoutException as exc:
            self._refuse(chain, url, hop, R.FETCH_TIMEOUT, f"{type(exc).__name__} while reading the body")
        except httpx.HTTPError as exc:
            raise FetchError(f"reading {url} failed: {type(exc).__name__}: {exc}") from exc
        return b"".join(parts)

    def _next_url(self, chain: _Chain, target: JudgedTarget, location: str, hop: int) -> str:
        if not location:
            self._refuse(chain, location, hop, R.REDIRECT_DENIED, "redirect with an empty Location")
        try:
            _screen_characters(location)
        except UrlRefused as refusal:
            self._refuse(chain, location, hop, refusal.rule, f"redirect Location: {refusal.reason}")
        m = _SCHEME_RE.match(location)
        if m is not None:
            scheme = location[: m.end() - 1].lower()
            if scheme in ("http", "https") and not location[m.end() :].startswith("//"):
                self._refuse(chain, location, hop, R.REDIRECT_DENIED, f"ambiguous Location {location[:80]!r}")
            return location  # absolute: judged as is (other schemes → scheme.denied)
        if location.startswith("//"):
            return f"{target.scheme}:{location}"
        return urllib.parse.urljoin(target.url, location)

    def _rewrite_for_redirect(self, chain: _Chain, status: int, target: JudgedTarget, new_url: str, hop: int) -> None:
        if status == 303 and chain.method != "HEAD" or status in (301, 302) and chain.method == "POST":
            chain.method = "GET"
            chain.body = None
            chain.headers = {k: v for k, v in chain.headers.items() if k.lower() != "content-type"}
            return
        if chain.body is not None and status in (307, 308):
            try:
                same = parse_url(new_url).origin == target.origin
            except UrlRefused:
                return  # the judge refuses this hop next, with the precise rule
            if not same:
                self._refuse(
                    chain, new_url, hop, R.REDIRECT_DENIED, "redirect would resend the request body to another origin"
                )

    # --- headers and secrets ---------------------------------------------------------------

    def _clean_headers(self, chain: _Chain, url: str, headers: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in headers.items():
            name, value = str(name), str(value)
            if not name or not set(name) <= _TOKEN:
                self._refuse(chain, url, 0, R.REQUEST_BAD_HEADER, f"invalid header name {name[:40]!r}")
            if any(ch in value for ch in "\r\n\0") or len(value) > 16 * 1024:
                self._refuse(chain, url, 0, R.REQUEST_BAD_HEADER, f"invalid value for header {name!r}")
            if name.lower() in DROPPED_REQUEST_HEADERS:
                continue
            for existing in [k for k in out if k.lower() == name.lower()]:
                del out[existing]
            out[name] = value
        return out

    def _substitute(
        self,
        chain: _Chain,
        url: str,
        hop: int,
        target: JudgedTarget,
        headers: dict[str, str],
        body: bytes | None,
    ) -> tuple[dict[str, str], bytes | None]:
        if self._substituter_error is not None:
            self._refuse(
                chain,
                url,
                hop,
                R.SECRET_SUBSTITUTION_FAILED,
                f"placeholder module unusable ({self._substituter_error})",
            )
        if self._substituter is None:
            return headers, body
        try:
            new_headers, new_body, refused = self._substituter(
                headers, body, target.host, self.secret_bindings, self.secret_values
            )
        except Exception as exc:  # noqa: BLE001 - never send when substitution failed
            self._refuse(
                chain, url, hop, R.SECRET_SUBSTITUTION_FAILED, f"placeholder substitution failed: {type(exc).__name__}"
            )
        names = sorted(str(n) for n in (refused or ()))
        if names:
            self._refuse(
                chain,
                url,
                hop,
                R.SECRET_UNBOUND_HOST,
                f"secret placeholder(s) {', '.join(names)} are not bound to {target.host}; request not sent",
                extra={"secrets": names},
            )
        items = new_headers.items() if isinstance(new_headers, Mapping) else new_headers
        out_headers = {str(k): str(v) for k, v in items}
        out_body = new_body.encode("utf-8") if isinstance(new_body, str) else new_body
        return out_headers, out_body

    # --- refusals --------------------------------------------------------------------------

    def _refuse(
        self, chain: _Chain, url: str, hop: int, rule: str, reason: str, extra: Mapping[str, Any] | None = None
    ) -> NoReturn:
        self._refuse_decision(chain, url, hop, Decision.deny(STAGE, rule, reason), extra)

    def _refuse_decision(
        self, chain: _Chain, url: str, hop: int, decision: Decision, extra: Mapping[str, Any] | None = None
    ) -> NoReturn:
        if self.emit is not None:
            data: dict[str, Any] = {
                "url": url,
                "method": chain.method,
                "hop": hop,
                "chain": list(chain.visited),
                "reason": decision.reason,
            }
            if chain.tool:
                data["tool"] = chain.tool
            data.update(extra or {})
            self.emit(
                AuditEvent(
                    category="audit.block",
                    severity="critical" if decision.rule == R.SSRF_METADATA else "warning",
                    personality=self.personality,
                    session=self.session,
                    stage=STAGE.value,
                    rule=decision.rule,
                    verdict=str(decision.verdict),
                    source=decision.source or "ethos.network.fetch",
                    data=data,
                )
            )
        raise FetchRefused(decision, url, hop)
