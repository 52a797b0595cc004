"""Fixtures for the network tests: real HTTP(S) servers on 127.0.0.1 and recording audit sinks."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from ethos_core.network.judge import Judge, make_judge
from ethos_core.network.resolver import ResolutionError
from ethos_core.types import AuditEvent, NetworkRule

Route = Callable[["Handler"], None]


@attrs.define
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalServer.HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path
        self.server.owner.seen.append(Seen(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body))
        route = self.server.owner.routes.get(path.split("?", 1)[0])
        if route is None:
            self.reply(404, b"not found")
            return
        route(self)

    do_GET = do_POST = do_HEAD = do_PUT = _handle

    def reply(
        self, status: int, body: bytes = b"", headers: Sequence[tuple[str, str]] = (), length: bool = True
    ) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        if not length:
            self.close_connection = True

    def redirect(self, status: int, location: str) -> None:
        self.reply(status, b"", [("Location", location)])


class LocalServer:
    """A threaded HTTP/1.1 (keep-alive) server on 127.0.0.1 with routes set by the test."""

    class HTTPServer(http.server.ThreadingHTTPServer):
        daemon_threads = True
        owner: LocalServer

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.release = threading.Event()
        self.httpd = self.HTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.owner = self
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls is not None else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def route(self, path: str) -> Callable[[Route], Route]:
        def register(fn: Route) -> Route:
            self.routes[path] = fn
            return fn

        return register

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def make_server() -> Iterator[Callable[..., LocalServer]]:
    servers: list[LocalServer] = []

    def factory(tls: ssl.SSLContext | None = None) -> LocalServer:
        server = LocalServer(tls)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.close()


@pytest.fixture
def server(make_server: Callable[..., LocalServer]) -> LocalServer:
    return make_server()


class AuditSink:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def __call__(self, event: AuditEvent) -> None:
        self.events.append(event)

    @property
    def rules(self) -> list[str | None]:
        return [e.rule for e in self.events]


@pytest.fixture
def audit() -> AuditSink:
    return AuditSink()


LOOPBACK_ONLY = ("127.0.0.1/32",)


def loopback_judge(*hosts: str, ports: Sequence[int], resolve: dict[str, Sequence[str]] | None = None) -> Judge:
    """A judge that explicitly allows this test's own loopback server (127.0.0.1/32 only)."""
    from ethos_core.network.resolver import StaticResolver

    return make_judge(
        reach=tuple(NetworkRule(h, tuple(ports)) for h in hosts),
        reach_declared=True,
        resolver=StaticResolver(resolve or {}),
        allow_cidrs=LOOPBACK_ONLY,
    )


class ScriptedResolver:
    """Answers successive lookups of a host with successive scripted answers (rebinding)."""

    def __init__(self, script: dict[str, list[Sequence[str]]]):
        self.script = {h: list(a) for h, a in script.items()}
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def resolve(self, host: str) -> Sequence[str]:
        with self.lock:
            self.calls.append(host)
            answers = self.script.get(host)
            if not answers:
                raise ResolutionError(f"{host}: no scripted answer")
            return tuple(answers.pop(0) if len(answers) > 1 else answers[0])


# --- TLS material ---------------------------------------------------------------------------


@attrs.frozen
class TlsMaterial:
    server: ssl.SSLContext
    client: ssl.SSLContext


def make_tls(tmp: Path, hostname: str) -> TlsMaterial:
    """A throwaway CA and a leaf certificate for ``hostname``; the client context trusts the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ethos test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path, ca_path = tmp / "leaf.pem", tmp / "leaf.key", tmp / "ca.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_path, key_path)
    client_ctx = ssl.create_default_context(cafile=str(ca_path))
    return TlsMaterial(server_ctx, client_ctx)


def is_loopback(text: str) -> bool:
    return ipaddress.ip_address(text).is_loopback
