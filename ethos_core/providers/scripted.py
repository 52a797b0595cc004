"""The ``scripted`` provider: replays a JSON script of model turns (tests and ``ethos demo``).

Script: a JSON list of turns, each ``{"text": "...", "tool_calls": [{"name": ..., "args": {...}}],
"usage": {...}}``. Each ``chat`` call returns the next turn; past the end it returns an empty
final answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ethos_core.providers.base import Message, ModelTurn, ProviderError, StreamEvent
from ethos_core.types import ToolCall, ToolSpec


def turn_from_json(item: Mapping[str, Any], index: int) -> ModelTurn:
    if not isinstance(item, Mapping):
        raise ProviderError(f"script turn {index} must be an object")
    calls = []
    for j, c in enumerate(item.get("tool_calls") or ()):
        if not isinstance(c, Mapping) or not isinstance(c.get("name"), str):
            raise ProviderError(f"script turn {index} tool call {j} needs a name")
        calls.append(ToolCall(name=c["name"], args=dict(c.get("args") or {}), call_id=str(c.get("id") or f"call_{index}_{j}")))
    return ModelTurn(text=str(item.get("text") or ""), tool_calls=tuple(calls), usage=dict(item.get("usage") or {}),
                     stop_reason="tool_use" if calls else "end_turn")


class ScriptedProvider:
    def __init__(self, turns: Sequence[Mapping[str, Any]] | Sequence[ModelTurn], name: str = "scripted"):
        self.name = name
        self._turns: list[ModelTurn] = [t if isinstance(t, ModelTurn) else turn_from_json(t, i)  # type: ignore[arg-type]
                                        for i, t in enumerate(turns)]
        self._lock = threading.Lock()
        self.requests: list[tuple[tuple[Message, ...], tuple[str, ...]]] = []

    @classmethod
    def from_file(cls, path: str | Path, name: str = "scripted") -> ScriptedProvider:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ProviderError(f"cannot read script {path}: {exc}") from None
        if not isinstance(data, list):
            raise ProviderError(f"script {path} must be a JSON list of turns")
        return cls(data, name=name)

    def chat(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), *, timeout: float | None = None) -> ModelTurn:
        with self._lock:
            self.requests.append((tuple(messages), tuple(t.name for t in tools)))
            if not self._turns:
                return ModelTurn(text="", stop_reason="end_turn")
            return self._turns.pop(0)

    def stream(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), *,
               timeout: float | None = None) -> Iterator[StreamEvent]:
        turn = self.chat(messages, tools, timeout=timeout)
        if turn.text:
            yield StreamEvent("text", text=turn.text)
        yield StreamEvent("done", turn=turn)

    def complete(self, messages: Sequence[Message], timeout: float | None = None) -> str:
        return self.chat(messages, (), timeout=timeout).text
