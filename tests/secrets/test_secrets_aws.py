"""AWS Secrets Manager resolver against moto's standalone server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from ethos_core.errors import SecretResolutionError
from ethos_core.secrets.aws import AwsSecretsResolver

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _client(endpoint: str) -> Any:
    return boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=endpoint)


def test_fetches_once_and_caches(endpoint: str) -> None:
    _client(endpoint).create_secret(Name="ethos/prod", SecretString=json.dumps({"github": "ghp_abc123456789", "slack": "xoxb-1"}))
    resolver = AwsSecretsResolver("ethos/prod", region="us-east-1", endpoint_url=endpoint)
    assert resolver.name == "aws"
    assert resolver.resolve("github") == "ghp_abc123456789"
    # rotate server-side: the process keeps the value it fetched at startup
    _client(endpoint).put_secret_value(SecretId="ethos/prod", SecretString=json.dumps({"github": "rotated"}))
    assert resolver.resolve("github") == "ghp_abc123456789"
    assert resolver.resolve("missing") is None
    assert resolver.refs() == ["github", "slack"]


def test_plain_string_secret_is_served_under_its_name(endpoint: str) -> None:
    _client(endpoint).create_secret(Name="single-token", SecretString="plain-value-123")
    resolver = AwsSecretsResolver("single-token", region="us-east-1", endpoint_url=endpoint)
    assert resolver.resolve("single-token") == "plain-value-123"


def test_missing_secret_is_a_clear_error_without_values(endpoint: str) -> None:
    resolver = AwsSecretsResolver("does/not/exist", region="us-east-1", endpoint_url=endpoint)
    with pytest.raises(SecretResolutionError, match="ResourceNotFoundException"):
        resolver.resolve("x")
