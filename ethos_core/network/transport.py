"""An httpx transport that connects only to addresses the judge validated (DNS pinning).

Invariant: a TCP connection is opened only while a :func:`pinned` block for exactly that host
and port is active in the current context, and only to the addresses that block names — tried
in order. There is no DNS lookup in this transport at all, so a resolver that answers
differently the second time (DNS rebinding) cannot move the connection. The URL keeps the
hostname, so the ``Host`` header, TLS SNI and certificate verification all use the hostname,
and the connection pool is keyed by hostname (a pooled connection always goes to an address
that was validated for that hostname). No proxy is configured and none is read from the
environment.

Not covered: HTTP/2 (disabled), async use, Unix sockets (refused).
"""

from __future__ import annotations

import contextlib
import contextvars
import ssl
import typing
from collections.abc import Iterable, Iterator

import attrs
import httpcore
import httpx


@attrs.frozen
class Pin:
    host: str
    port: int
    addresses: tuple[str, ...]


_CURRENT_PIN: contextvars.ContextVar[Pin | None] = contextvars.ContextVar("ethos_network_pin", default=None)


@contextlib.contextmanager
def pinned(host: str, port: int, addresses: Iterable[str]) -> Iterator[Pin]:
    """Allow connections to ``host:port`` — at ``addresses`` only — inside this block."""
    pin = Pin(host.strip("[]").lower(), port, tuple(addresses))
    token = _CURRENT_PIN.set(pin)
    try:
        yield pin
    finally:
        _CURRENT_PIN.reset(token)


class PinnedBackend(httpcore.NetworkBackend):
    """Network backend that replaces name resolution by the active :class:`Pin`."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()
        self.connections: list[tuple[str, str, int]] = []  # (host, address, port), for audits and tests

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        pin = _CURRENT_PIN.get()
        wanted = host.strip("[]").lower()
        if pin is None or pin.host != wanted or pin.port != port or not pin.addresses:
            raise httpcore.ConnectError(f"no validated address for {host}:{port}; refusing to connect")
        last: Exception | None = None
        for address in pin.addresses:
            try:
                stream = self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            self.connections.append((wanted, address, port))
            return stream
        assert last is not None
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not reachable through the safe fetch")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


def _translate(exc: Exception, request: httpx.Request | None) -> Exception:
    for core, mapped in _EXCEPTIONS:
        if isinstance(exc, core):
            if request is None:
                return mapped(str(exc))
            return mapped(str(exc), request=request)  # type: ignore[call-arg]
    return exc


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: typing.Iterable[bytes], request: httpx.Request):
        self._stream = stream
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except httpcore.TimeoutException as exc:
            raise _translate(exc, self._request) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise _translate(exc, self._request) from exc

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class PinnedTransport(httpx.BaseTransport):
    """httpx transport over an httpcore pool whose only way out is :class:`PinnedBackend`."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 20,
        max_keepalive_connections: int = 10,
        keepalive_expiry: float = 30.0,
    ) -> None:
        if isinstance(verify, ssl.SSLContext):
            context = verify
        elif verify:
            context = httpx.create_ssl_context()
        else:
            raise ValueError("the safe fetch always verifies TLS; pass an SSLContext to trust another CA")
        self.backend = PinnedBackend()
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=self.backend,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool.handle_request(core_request)
        except Exception as exc:  # noqa: BLE001 - translated, not swallowed
            raise _translate(exc, request) from exc
        assert isinstance(response.stream, typing.Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream, request),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()
