"""Provider wire formats against fake servers on 127.0.0.1: tool calls, streaming, errors, retries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ethos_core.providers import (
    AnthropicProvider,
    Message,
    OpenAIProvider,
    ProviderError,
    RetryPolicy,
    ScriptedProvider,
    build_provider,
)
from ethos_core.types import ToolCall, ToolSpec

from .fake_servers import anthropic_stream, anthropic_tool_answer, openai_stream, openai_tool_answer, serve

TOOLS = [ToolSpec(name="read_file", description="read", parameters={"type": "object", "properties": {"path": {"type": "string"}}})]
NO_SLEEP = RetryPolicy(attempts=3, sleep=lambda s: None)


def conversation() -> list[Message]:
    return [
        Message("system", "be careful"),
        Message("user", "read my notes"),
        Message("assistant", "", tool_calls=(ToolCall("read_file", {"path": "a"}, call_id="c0"),)),
        Message("tool", "file body", tool_call_id="c0"),
    ]


def test_openai_tool_call_and_wire_shape() -> None:
    with serve(lambda body, h: (200, {"content-type": "application/json"}, openai_tool_answer())) as (url, seen):
        provider = OpenAIProvider("local", url + "/v1", "llama3", api_key="sk-test-key-123", retry=NO_SLEEP)
        turn = provider.chat(conversation(), TOOLS)
    assert turn.tool_calls == (ToolCall("read_file", {"path": "notes.txt"}, call_id="call_1"),)
    assert turn.usage == {"input_tokens": 12, "output_tokens": 7}
    path, body, headers = seen[0]
    assert path == "/v1/chat/completions" and headers["authorization"] == "Bearer sk-test-key-123"
    assert body["tools"][0]["function"]["name"] == "read_file"
    assert body["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"path": "a"}'
    assert body["messages"][3] == {"role": "tool", "content": "file body", "tool_call_id": "c0"}


def test_openai_streaming_assembles_text_and_tool_calls() -> None:
    with serve(lambda body, h: (200, {"content-type": "text/event-stream"}, openai_stream())) as (url, seen):
        events = list(OpenAIProvider("local", url + "/v1", "m", retry=NO_SLEEP).stream(conversation(), TOOLS))
    assert [e.text for e in events if e.kind == "text"] == ["Hel", "lo"]
    turn = events[-1].turn
    assert turn is not None and turn.text == "Hello"
    assert turn.tool_calls == (ToolCall("web_fetch", {"url": "https://x.test/"}, call_id="call_9"),)
    assert turn.usage == {"input_tokens": 5, "output_tokens": 3}
    assert seen[0][1]["stream"] is True


def test_retries_on_429_then_succeeds_and_honours_retry_after() -> None:
    calls = {"n": 0}
    slept: list[float] = []

    def responder(body: dict[str, Any], h: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        calls["n"] += 1
        if calls["n"] < 3:
            return 429, {"retry-after": "0.25"}, b'{"error": {"message": "slow down"}}'
        return 200, {}, openai_tool_answer()

    with serve(responder) as (url, _):
        provider = OpenAIProvider("local", url, "m", retry=RetryPolicy(attempts=4, sleep=slept.append))
        assert provider.chat(conversation()).tool_calls
    assert calls["n"] == 3 and slept == [0.25, 0.25]


def test_persistent_5xx_raises_after_attempts() -> None:
    with serve(lambda b, h: (503, {}, b"{}")) as (url, seen):
        with pytest.raises(ProviderError, match="after 3 attempts"):
            OpenAIProvider("local", url, "m", retry=NO_SLEEP).chat(conversation())
    assert len(seen) == 3


def test_client_errors_are_not_retried_and_keys_never_echoed() -> None:
    with serve(lambda b, h: (401, {}, b'{"error": {"message": "invalid api key"}}')) as (url, seen):
        with pytest.raises(ProviderError) as info:
            OpenAIProvider("local", url, "m", api_key="sk-secret-value-xyz", retry=NO_SLEEP).chat(conversation())
    assert len(seen) == 1 and "invalid api key" in str(info.value) and "sk-secret-value-xyz" not in str(info.value)


def test_malformed_tool_arguments_are_marked_not_crashing() -> None:
    bad = json.loads(openai_tool_answer())
    bad["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = "{not json"
    with serve(lambda b, h: (200, {}, json.dumps(bad).encode())) as (url, _):
        turn = OpenAIProvider("local", url, "m", retry=NO_SLEEP).chat(conversation())
    assert turn.tool_calls[0].args == {"__invalid_arguments__": "{not json"}


def test_anthropic_tool_use_and_wire_shape() -> None:
    with serve(lambda b, h: (200, {}, anthropic_tool_answer())) as (url, seen):
        turn = AnthropicProvider("claude", "claude-x", "sk-ant-test", base_url=url, retry=NO_SLEEP).chat(conversation(), TOOLS)
    assert turn.text == "Let me look." and turn.stop_reason == "tool_use"
    assert turn.tool_calls == (ToolCall("read_file", {"path": "notes.txt"}, call_id="toolu_1"),)
    path, body, headers = seen[0]
    assert path == "/v1/messages" and headers["x-api-key"] == "sk-ant-test" and headers["anthropic-version"]
    assert body["system"] == "be careful"
    assert body["messages"][1]["content"][0]["type"] == "tool_use"
    assert body["messages"][2]["content"][0] == {"type": "tool_result", "tool_use_id": "c0", "content": "file body"}
    assert body["tools"][0]["input_schema"]["type"] == "object"


def test_anthropic_streaming() -> None:
    with serve(lambda b, h: (200, {"content-type": "text/event-stream"}, anthropic_stream())) as (url, _):
        events = list(AnthropicProvider("c", "m", None, base_url=url, retry=NO_SLEEP).stream(conversation(), TOOLS))
    turn = events[-1].turn
    assert turn is not None and turn.text == "Hi there" and turn.usage == {"input_tokens": 11, "output_tokens": 15}
    assert turn.tool_calls == (ToolCall("web_fetch", {"url": "https://x.test/"}, call_id="toolu_2"),)


def test_anthropic_overloaded_529_is_retried() -> None:
    calls = {"n": 0}

    def responder(b: dict[str, Any], h: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        calls["n"] += 1
        return (529, {}, b"{}") if calls["n"] == 1 else (200, {}, anthropic_tool_answer())

    with serve(responder) as (url, _):
        assert AnthropicProvider("c", "m", None, base_url=url, retry=NO_SLEEP).chat(conversation()).tool_calls


def test_scripted_provider_replays_and_ends(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"tool_calls": [{"name": "read_file", "args": {"path": "x"}}]}, {"text": "done"}]))
    p = ScriptedProvider.from_file(script)
    assert p.chat([])
    assert p.chat([]).text == "done"
    assert p.chat([]).text == "" and len(p.requests) == 3
    script.write_text('{"not": "a list"}')
    with pytest.raises(ProviderError):
        ScriptedProvider.from_file(script)


def test_build_provider_resolves_secret_refs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ethos_core.engine import Engine
    from tests.conftest import make_home

    monkeypatch.setenv("LOCAL_LLM_KEY", "sk-local-abcdefghijklmnopqrstuvwxyz")
    home = make_home(tmp_path / "h", config=(
        "providers:\n  local:\n    type: openai\n    baseUrl: http://127.0.0.1:9/v1\n    model: m\n"
        "    apiKey: ${secrets:local_llm_key}\n  gone:\n    type: openai\n    baseUrl: http://127.0.0.1:9/v1\n"
        "    model: m\n    apiKey: ${secrets:missing_ref_q}\n"))
    with Engine.from_home(home, autoload=False) as engine:
        provider = build_provider(engine, "local")
        assert isinstance(provider, OpenAIProvider) and provider.api_key == "sk-local-abcdefghijklmnopqrstuvwxyz"
        with pytest.raises(Exception, match="missing_ref_q"):
            build_provider(engine, "gone")
        with pytest.raises(ProviderError, match="no provider"):
            build_provider(engine, "nope")
