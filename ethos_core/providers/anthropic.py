"""Anthropic Messages API: tool use, streaming (SSE), timeouts and backoff on 429/5xx/529."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from ethos_core.providers.base import (
    HttpProvider,
    Message,
    ModelTurn,
    ProviderError,
    RetryPolicy,
    StreamEvent,
    iter_sse,
    parse_arguments,
    post_with_retries,
    tool_schema,
)
from ethos_core.types import ToolCall, ToolSpec, thaw

API_VERSION = "2023-06-01"


def to_wire(messages: Sequence[Message]) -> tuple[str, list[dict[str, Any]]]:
    """(system, messages) in Messages-API shape; tool results become user tool_result blocks."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            block = {"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.content}
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
            continue
        if m.role == "assistant" and m.tool_calls:
            blocks: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
            blocks += [{"type": "tool_use", "id": c.call_id, "name": c.name, "input": thaw(c.args)} for c in m.tool_calls]
            out.append({"role": "assistant", "content": blocks})
            continue
        out.append({"role": m.role, "content": m.content})
    return system, out


class AnthropicProvider(HttpProvider):
    def __init__(self, name: str, model: str, api_key: str | None, base_url: str = "https://api.anthropic.com", *,
                 max_tokens: int = 4096, timeout: float = 60.0, retry: RetryPolicy | None = None,
                 client: httpx.Client | None = None):
        self.name = name
        self.model = model
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._own_client(client)

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return headers

    def _body(self, messages: Sequence[Message], tools: Sequence[ToolSpec], stream: bool) -> dict[str, Any]:
        system, wire = to_wire(messages)
        body: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens, "messages": wire}
        if system:
            body["system"] = system
        if tools:
            body["tools"] = [{"name": s["name"], "description": s["description"], "input_schema": s["parameters"]}
                             for s in (tool_schema(t) for t in tools)]
        if stream:
            body["stream"] = True
        return body

    def chat(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), *, timeout: float | None = None) -> ModelTurn:
        response = post_with_retries(self.client, f"{self.base_url}/v1/messages", json_body=self._body(messages, tools, False),
                                     headers=self._headers(), retry=self.retry, timeout=timeout or self.timeout)
        try:
            data = response.json()
            blocks = data["content"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(f"unexpected Messages answer: {type(exc).__name__}") from None
        text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        calls = tuple(ToolCall(name=str(b["name"]), args=parse_arguments(b.get("input")), call_id=str(b.get("id", "")))
                      for b in blocks if b.get("type") == "tool_use")
        usage = data.get("usage") or {}
        return ModelTurn(text=text, tool_calls=calls, stop_reason=str(data.get("stop_reason") or "end_turn"),
                         usage={"input_tokens": int(usage.get("input_tokens") or 0),
                                "output_tokens": int(usage.get("output_tokens") or 0)})

    def stream(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), *,
               timeout: float | None = None) -> Iterator[StreamEvent]:
        text: list[str] = []
        blocks: dict[int, dict[str, Any]] = {}
        usage = {"input_tokens": 0, "output_tokens": 0}
        stop = "end_turn"
        with self.client.stream("POST", f"{self.base_url}/v1/messages", json=self._body(messages, tools, True),
                                headers=self._headers(), timeout=timeout or self.timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise ProviderError(f"provider answered HTTP {response.status_code}")
            for event, data in iter_sse(response):
                try:
                    payload = json.loads(data)
                except ValueError:
                    raise ProviderError("malformed stream event") from None
                kind = payload.get("type", event)
                if kind == "message_start":
                    usage["input_tokens"] = int(((payload.get("message") or {}).get("usage") or {}).get("input_tokens") or 0)
                elif kind == "content_block_start":
                    block = payload.get("content_block") or {}
                    blocks[int(payload.get("index", 0))] = {"type": block.get("type"), "id": block.get("id", ""),
                                                             "name": block.get("name", ""), "json": ""}
                elif kind == "content_block_delta":
                    delta = payload.get("delta") or {}
                    slot = blocks.setdefault(int(payload.get("index", 0)), {"type": "text", "json": ""})
                    if delta.get("type") == "text_delta":
                        text.append(delta.get("text", ""))
                        yield StreamEvent("text", text=delta.get("text", ""))
                    elif delta.get("type") == "input_json_delta":
                        slot["json"] += delta.get("partial_json", "")
                elif kind == "message_delta":
                    stop = (payload.get("delta") or {}).get("stop_reason") or stop
                    usage["output_tokens"] = int((payload.get("usage") or {}).get("output_tokens") or 0)
                elif kind == "error":
                    raise ProviderError(f"stream error: {(payload.get('error') or {}).get('type', 'unknown')}")
                elif kind == "message_stop":
                    break
        calls = tuple(ToolCall(name=b["name"], args=parse_arguments(b["json"] or "{}"), call_id=b["id"])
                      for _, b in sorted(blocks.items()) if b.get("type") == "tool_use")
        yield StreamEvent("done", turn=ModelTurn(text="".join(text), tool_calls=calls, usage=usage, stop_reason=stop))

