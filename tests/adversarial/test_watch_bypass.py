"""Stage ⑤ (watcher observe) bypass classes: events crafted so the watcher under-counts,
forgets, or is blinded. Each test names one class; every one must fail closed."""

from __future__ import annotations

import math
import threading
from typing import Any

from ethos_core.config.model import WatcherConfig
from ethos_core.types import AgentEvent, Context, Personality, ToolCall
from ethos_core.verdicts import Verdict
from ethos_core.watcher import Watcher

CONFIG = WatcherConfig(max_tokens_per_turn=100, max_tokens_per_session=1000, max_cost_per_session=1.0,
                       max_consecutive_errors=2, max_consecutive_errors_total=3, sequence_window_calls=3,
                       sequence_window_seconds=30.0, max_tool_calls_per_minute=1000, max_identical_calls=1000)
EXFIL = frozenset({"exfil"})


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def ctx(session: str = "s1", turn: int = 1, bot: str | None = None) -> Context:
    return Context(personality=Personality(id="p", directory="/tmp/p"), session=session, turn=turn, bot=bot)


def make(**kw: Any) -> tuple[Watcher, Clock]:
    clock = Clock()
    return Watcher(config=CONFIG, clock=clock, emit=lambda e: None, **kw), clock


def usage(turn: int = 1, **data: Any) -> AgentEvent:
    return AgentEvent("usage", turn=turn, data=data)


def end(tool: str, **data: Any) -> AgentEvent:
    return AgentEvent("tool_end", tool=tool, turn=1, data=data)


def test_forged_event_session_field_is_ignored() -> None:
    w, _ = make()
    w.observe(AgentEvent("usage", session="someone-else", turn=1, data={"input_tokens": 500}), ctx("s1"))
    assert w.decide(ToolCall("t"), ctx("s1")).rule == "watcher.tokens_turn"
    assert w.decide(ToolCall("t"), ctx("someone-else")).verdict is Verdict.ALLOW
    w.close()


def test_forged_event_timestamp_does_not_age_a_taint() -> None:
    w, clock = make()
    w.observe(AgentEvent("tool_end", tool="web", turn=1, data={"ok": True, "untrusted": True}, ts=-1e9), ctx())
    for i in range(5):  # out of the call window: only the seconds window (watcher's own clock) is left
        w.decide(ToolCall("read", {"i": i}), ctx())
    assert w.decide(ToolCall("post", capabilities=EXFIL), ctx()).verdict is Verdict.DENY
    w.close()


def test_nan_and_infinite_usage_exhaust_the_budget() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        w, _ = make()
        w.observe(usage(input_tokens=bad), ctx())
        assert w.decide(ToolCall("t"), ctx()).rule == "watcher.tokens_turn", bad
        w.close()
    w, _ = make()
    w.observe(usage(cost=math.nan), ctx())
    assert w.decide(ToolCall("t"), ctx()).rule == "watcher.cost"
    w.close()


def test_negative_usage_does_not_refund_budget() -> None:
    w, _ = make()
    w.observe(usage(input_tokens=90), ctx())
    w.observe(usage(input_tokens=-1000, output_tokens=20), ctx())
    d = w.decide(ToolCall("t"), ctx())
    assert d.verdict is Verdict.APPROVE and d.rule == "watcher.tokens_turn"
    w.close()


def test_type_confused_usage_values_fail_closed() -> None:
    for bad in ("1", "0", True, [5], {"n": 1}, b"9"):
        w, _ = make()
        w.observe(usage(output_tokens=bad), ctx())
        assert w.decide(ToolCall("t"), ctx()).rule == "watcher.tokens_turn", bad
        w.close()


def test_float_overflow_in_accumulated_usage() -> None:
    w, _ = make()
    w.observe(usage(input_tokens=1e308, output_tokens=1e308), ctx())  # sum overflows to inf
    assert w.decide(ToolCall("t"), ctx()).rule == "watcher.tokens_turn"
    w.close()


def test_truthy_non_bool_ok_counts_as_failure() -> None:
    w, _ = make()
    for ok in ("true", 1, "yes"):
        w.observe(end("fetch", ok=ok), ctx())
    d = w.decide(ToolCall("fetch"), ctx())
    assert d.verdict is Verdict.APPROVE and d.rule in {"watcher.errors_total", "watcher.errors_tool"}
    w.close()


def test_missing_ok_counts_as_failure() -> None:
    w, _ = make()
    w.observe(end("fetch"), ctx())
    w.observe(end("fetch"), ctx())
    assert w.decide(ToolCall("fetch"), ctx()).rule == "watcher.errors_tool"
    w.close()


def test_untrusted_flag_encodings_still_taint() -> None:
    for flag in ("yes", 1, "false", ["x"]):
        w, _ = make()
        w.observe(end("web", ok=True, untrusted=flag), ctx())
        assert w.decide(ToolCall("post", capabilities=EXFIL), ctx()).verdict is Verdict.DENY, flag
        w.close()


def test_untrusted_capability_taints_even_when_flag_says_trusted() -> None:
    w, _ = make()
    w.observe(AgentEvent("tool_end", tool="inbox", turn=1, capabilities={"untrusted_output"},
                         data={"ok": True, "untrusted": False}), ctx())
    assert w.decide(ToolCall("post", capabilities=EXFIL), ctx()).verdict is Verdict.DENY
    w.close()


def test_turn_number_rewind_does_not_reset_turn_budget() -> None:
    w, _ = make()
    w.observe(usage(turn=5, input_tokens=60), ctx(turn=5))
    w.observe(usage(turn=4, input_tokens=60), ctx(turn=5))  # a late or forged earlier-turn event
    assert w.decide(ToolCall("t"), ctx(turn=5)).rule == "watcher.tokens_turn"
    w.close()


def test_tool_name_variants_cannot_dodge_the_total_error_count() -> None:
    w, _ = make()
    for name in ("fetch", "fetch\u200b", "ｆｅｔｃｈ"):  # zero-width and fullwidth variants
        w.observe(end(name, ok=False), ctx())
    assert w.decide(ToolCall("fetch"), ctx()).verdict is Verdict.APPROVE
    w.close()


def test_approval_event_with_non_bool_or_string_rules_resets_nothing() -> None:
    w, _ = make()
    w.observe(usage(input_tokens=500), ctx())
    w.observe(AgentEvent("approval", turn=1, data={"approved": "true", "rules": ["watcher.tokens_turn"]}), ctx())
    w.observe(AgentEvent("approval", turn=1, data={"approved": True, "rules": "watcher.tokens_turn"}), ctx())
    w.observe(AgentEvent("approval", turn=1, data={"approved": True, "rules": ["watcher.tokens_turn\u200b"]}), ctx())
    assert w.decide(ToolCall("t"), ctx()).rule == "watcher.tokens_turn"
    w.close()


def test_unknown_event_kinds_and_megabyte_payloads_are_harmless() -> None:
    w, _ = make()
    huge = "A" * 1_000_000 + "\u202e\u200b"
    w.observe(AgentEvent("mystery", tool=huge, turn=1, data={"x": huge}), ctx())
    w.observe(AgentEvent("model_text", turn=1, data={"text": huge}), ctx())
    w.observe(usage(input_tokens=101), ctx())
    assert w.decide(ToolCall("t"), ctx()).rule == "watcher.tokens_turn"
    assert w.health()["rule_errors"] == 0
    w.close()


def test_queue_flood_pauses_instead_of_dropping_silently() -> None:
    gate = threading.Event()
    entered = threading.Event()

    def stall(event: AgentEvent) -> None:
        entered.set()
        gate.wait(10)

    w, _ = make(queue_capacity=8, stall_hook=stall, decide_timeout=0.05)
    w.observe(usage(), ctx("flood"))
    assert entered.wait(10)
    for _ in range(20):  # the first is being applied; 8 more fit, 12 are dropped
        w.observe(usage(), ctx("flood"))
    gate.set()
    w.stall_hook = None
    assert w.drain()
    d = w.decide(ToolCall("t"), ctx("flood"))
    assert (d.verdict, d.rule, d.evidence["cause"]) == (Verdict.APPROVE, "watcher.stalled", "queue_full")
    assert w.health()["events_dropped"] == 12 and w.health()["status"] == "degraded"
    assert w.decide(ToolCall("t"), ctx("other")).verdict is Verdict.ALLOW
    w.observe(AgentEvent("approval", turn=1, data={"approved": True, "rules": ["watcher.stalled"]}), ctx("flood"))
    assert w.decide(ToolCall("t", {"n": 2}), ctx("flood")).verdict is Verdict.ALLOW
    w.close()


def test_racing_observers_and_decider_see_every_event() -> None:
    w, _ = make()
    w2 = Watcher(config=WatcherConfig(max_tokens_per_turn=10**9, max_tokens_per_session=3999), emit=lambda e: None)
    barrier = threading.Barrier(5)

    def produce() -> None:
        barrier.wait()
        for _ in range(1000):
            w2.observe(usage(input_tokens=1), ctx())

    threads = [threading.Thread(target=produce) for _ in range(4)]
    for t in threads:
        t.start()
    barrier.wait()
    for t in threads:
        t.join()
    assert w2.decide(ToolCall("t"), ctx()).rule == "watcher.tokens_session"  # 4000 > 3999
    w.close()
    w2.close()
