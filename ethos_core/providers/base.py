"""The LLM provider protocol and its value types.

A provider endpoint is operator configuration, not agent-controlled egress: providers talk to
their configured base URL with their own httpx client (a local endpoint such as Ollama on
127.0.0.1 is allowed for that provider only). Keys come only from ``${secrets:ref}``.
"""

from __future__ import annotations

import json
import random
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, Self

import attrs
import httpx

from ethos_core.errors import EthosError
from ethos_core.types import ToolCall, ToolSpec, thaw


class ProviderError(EthosError):
    """The provider failed after retries, or answered something unusable."""


def _calls_tuple(value: Iterable[ToolCall]) -> tuple[ToolCall, ...]:
    return tuple(value)


@attrs.frozen
class Message:
    """One chat message. ``tool_calls`` on assistant messages; ``tool_call_id`` on tool results."""

    role: str  # "system" | "user" | "assistant" | "tool"
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_calls_tuple)
    tool_call_id: str | None = None
    name: str | None = None


@attrs.frozen
class ModelTurn:
    """What the model answered: text and/or tool calls, usage, and why it stopped."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_calls_tuple)
    usage: Mapping[str, Any] = attrs.field(factory=dict)
    stop_reason: str = "stop"


@attrs.frozen
class StreamEvent:
    """A streaming delta: ``kind`` is ``text`` (``text`` holds the delta) or ``done`` (``turn`` set)."""

    kind: str
    text: str = ""
    turn: ModelTurn | None = None


class LLMProvider(Protocol):
    name: str

    def chat(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), *, timeout: float | None = None) -> ModelTurn: ...

    def stream(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), *,
               timeout: float | None = None) -> Iterator[StreamEvent]: ...

    def complete(self, messages: Sequence[Message], timeout: float | None = None) -> str: ...


class HttpProvider:
    """Shared lifecycle of the HTTP providers: one pooled client, closed on ``close()`` or when
    the provider is dropped; ``complete`` is ``chat`` without tools (for tier-2 reviewers)."""

    client: httpx.Client

    def _own_client(self, client: httpx.Client | None) -> None:
        self.client = client or httpx.Client(trust_env=False)
        self._finalizer = weakref.finalize(self, self.client.close)

    def chat(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), *, timeout: float | None = None) -> ModelTurn:
        raise NotImplementedError

    def complete(self, messages: Sequence[Message], timeout: float | None = None) -> str:
        return self.chat(messages, (), timeout=timeout).text

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


@attrs.define
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return float(min(self.max_delay, max(0.0, float(retry_after))))
            except ValueError:
                pass
        return float(min(self.max_delay, self.base_delay * (2 ** attempt))) * (0.5 + random.random() / 2)  # noqa: S311


def post_with_retries(client: httpx.Client, url: str, *, json_body: Mapping[str, Any], headers: Mapping[str, str],
                      retry: RetryPolicy, timeout: float | None) -> httpx.Response:
    """POST with backoff on 429/5xx and transport errors; raises ProviderError at the end."""
    last = ""
    for attempt in range(retry.attempts):
        try:
            response = client.post(url, json=dict(json_body), headers=dict(headers), timeout=timeout)
        except httpx.TimeoutException:
            last = "timed out"
        except httpx.TransportError as exc:
            last = f"transport error: {type(exc).__name__}"
        else:
            if response.status_code < 400:
                return response
            if response.status_code not in RETRY_STATUSES:
                raise ProviderError(f"provider answered HTTP {response.status_code}: {_error_text(response)}")
            last = f"HTTP {response.status_code}"
            if attempt + 1 < retry.attempts:
                retry.sleep(retry.delay(attempt, response.headers.get("retry-after")))
                continue
            break
        if attempt + 1 < retry.attempts:
            retry.sleep(retry.delay(attempt, None))
    raise ProviderError(f"provider failed after {retry.attempts} attempts ({last})")


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("message", err))[:200]
        if err:
            return str(err)[:200]
    return json.dumps(body)[:200]


def tool_schema(spec: ToolSpec) -> dict[str, Any]:
    params = thaw(spec.parameters) if spec.parameters else {"type": "object", "properties": {}}
    return {"name": spec.name, "description": spec.description, "parameters": params}


def parse_arguments(raw: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """Tool-call arguments from the wire; malformed JSON becomes an empty mapping with a marker."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except ValueError:
        return {"__invalid_arguments__": raw[:2000]}
    return value if isinstance(value, dict) else {"__invalid_arguments__": raw[:2000]}


def iter_sse(response: httpx.Response) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a server-sent-events body."""
    event = "message"
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    if data:
        yield event, "\n".join(data)
