"""OpenAI-compatible Chat Completions (OpenAI, vLLM, llama.cpp server, Ollama, LM Studio,
OpenRouter): tool calling, streaming (SSE), timeouts and backoff on 429/5xx."""

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


def to_wire(messages: Sequence[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        item: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            item["tool_calls"] = [
                {"id": c.call_id, "type": "function",
                 "function": {"name": c.name, "arguments": json.dumps(thaw(c.args))}} for c in m.tool_calls]
        if m.role == "tool":
            item["tool_call_id"] = m.tool_call_id or ""
        out.append(item)
    return out


class OpenAIProvider(HttpProvider):
    """Chat Completions client. ``base_url`` ends before ``/chat/completions`` (e.g. ``…/v1``)."""

    def __init__(self, name: str, base_url: str, model: str, api_key: str | None = None, *,
                 timeout: float = 60.0, retry: RetryPolicy | None = None, client: httpx.Client | None = None):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._own_client(client)

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    def _body(self, messages: Sequence[Message], tools: Sequence[ToolSpec], stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": to_wire(messages)}
        if tools:
            body["tools"] = [{"type": "function", "function": tool_schema(t)} for t in tools]
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def chat(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), *, timeout: float | None = None) -> ModelTurn:
        response = post_with_retries(self.client, f"{self.base_url}/chat/completions",
                                     json_body=self._body(messages, tools, False), headers=self._headers(),
                                     retry=self.retry, timeout=timeout or self.timeout)
        try:
            data = response.json()
            choice = data["choices"][0]
            msg = choice["message"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProviderError(f"unexpected Chat Completions answer: {type(exc).__name__}") from None
        calls = tuple(
            ToolCall(name=str(c["function"]["name"]), args=parse_arguments(c["function"].get("arguments")),
                     call_id=str(c.get("id", "")))
            for c in msg.get("tool_calls") or ()
        )
        return ModelTurn(text=msg.get("content") or "", tool_calls=calls, usage=_usage(data.get("usage")),
                         stop_reason=str(choice.get("finish_reason") or "stop"))

    def stream(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), *,
               timeout: float | None = None) -> Iterator[StreamEvent]:
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage: dict[str, Any] = {}
        finish = "stop"
        with self.client.stream("POST", f"{self.base_url}/chat/completions", json=self._body(messages, tools, True),
                                headers=self._headers(), timeout=timeout or self.timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise ProviderError(f"provider answered HTTP {response.status_code}")
            for _event, data in iter_sse(response):
                if data.strip() == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise ProviderError("malformed stream chunk") from None
                if chunk.get("usage"):
                    usage = _usage(chunk["usage"])
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        text.append(delta["content"])
                        yield StreamEvent("text", text=delta["content"])
                    for tc in delta.get("tool_calls") or ():
                        slot = calls.setdefault(int(tc.get("index", 0)), {"id": "", "name": "", "arguments": ""})
                        slot["id"] = tc.get("id") or slot["id"]
                        fn = tc.get("function") or {}
                        slot["name"] += fn.get("name") or ""
                        slot["arguments"] += fn.get("arguments") or ""
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        turn = ModelTurn(text="".join(text), usage=usage, stop_reason=finish, tool_calls=tuple(
            ToolCall(name=c["name"], args=parse_arguments(c["arguments"]), call_id=c["id"]) for _, c in sorted(calls.items())))
        yield StreamEvent("done", turn=turn)



def _usage(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    return {"input_tokens": int(raw.get("prompt_tokens") or 0), "output_tokens": int(raw.get("completion_tokens") or 0)}
