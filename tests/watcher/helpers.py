"""Shared helpers for the watcher tests: an injectable clock, contexts and a watcher factory."""

from __future__ import annotations

from typing import Any

from ethos_core.config.model import WatcherConfig
from ethos_core.types import AgentEvent, AuditEvent, Context, Personality, SafetyPolicy, ToolCall, WatcherPolicy
from ethos_core.watcher import Watcher

SMALL = WatcherConfig(
    max_tool_calls_per_minute=1000,
    max_tokens_per_turn=100,
    max_tokens_per_session=250,
    max_cost_per_session=1.0,
    max_consecutive_errors=2,
    max_consecutive_errors_total=3,
    max_identical_calls=2,
    sequence_window_calls=3,
    sequence_window_seconds=30.0,
)


class FakeClock:
    """A monotonic clock the test moves by hand: no sleeping, no flakiness."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def ctx(session: str = "s1", turn: int = 1, *, bot: str | None = None, policy: WatcherPolicy | None = None,
        personality: str = "p") -> Context:
    safety = SafetyPolicy(watcher=policy or WatcherPolicy())
    return Context(personality=Personality(id=personality, directory="/tmp/p", safety=safety), session=session,
                   turn=turn, bot=bot)


def make(config: WatcherConfig = SMALL, **kw: Any) -> tuple[Watcher, FakeClock, list[AuditEvent]]:
    audits: list[AuditEvent] = []
    clock = FakeClock()
    kw.setdefault("emit", audits.append)
    return Watcher(config=config, clock=clock, **kw), clock, audits


def usage(inp: Any = 0, out: Any = 0, cost: Any = None, turn: int = 1) -> AgentEvent:
    data: dict[str, Any] = {"input_tokens": inp, "output_tokens": out}
    if cost is not None:
        data["cost"] = cost
    return AgentEvent("usage", turn=turn, data=data)


def tool_end(tool: str, ok: Any = True, *, untrusted: Any = False, secret_path: Any = False, turn: int = 1,
             capabilities: frozenset[str] = frozenset()) -> AgentEvent:
    return AgentEvent("tool_end", tool=tool, turn=turn, capabilities=capabilities,
                      data={"ok": ok, "untrusted": untrusted, "secret_path": secret_path})


def call(name: str = "read_file", caps: frozenset[str] | set[str] = frozenset(), **args: Any) -> ToolCall:
    return ToolCall(name, args, capabilities=frozenset(caps))


def rules(audits: list[AuditEvent]) -> list[str]:
    return [a.rule or "" for a in audits if a.category == "audit.watcher"]
