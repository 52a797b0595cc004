"""Stage ⑪ (watcher policy) bypass classes: slow drips under thresholds, benign padding inside
a sequence window, renamed tools, argument obfuscation against loop detection, personality
loosening, a stalled or failing watcher, and racing decisions. Each test names one class."""

from __future__ import annotations

import math
import threading
from typing import Any

import attrs

from ethos_core.config.model import WatcherConfig
from ethos_core.types import AgentEvent, Context, Personality, SafetyPolicy, ToolCall, WatcherPolicy
from ethos_core.verdicts import Verdict
from ethos_core.watcher import Watcher, args_digest

CONFIG = WatcherConfig(max_tool_calls_per_minute=20, max_tokens_per_turn=1000, max_tokens_per_session=5000,
                       max_cost_per_session=2.0, max_consecutive_errors=3, max_consecutive_errors_total=4,
                       max_identical_calls=3, sequence_window_calls=5, sequence_window_seconds=60.0)
EXFIL = frozenset({"exfil"})


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


def ctx(session: str = "s1", turn: int = 1, policy: WatcherPolicy | None = None) -> Context:
    safety = SafetyPolicy(watcher=policy or WatcherPolicy())
    return Context(personality=Personality(id="p", directory="/tmp/p", safety=safety), session=session, turn=turn)


def make(config: WatcherConfig = CONFIG, **kw: Any) -> tuple[Watcher, Clock, list[Any]]:
    clock = Clock()
    audits: list[Any] = []
    return Watcher(config=config, clock=clock, emit=audits.append, **kw), clock, audits


def untrusted_read(turn: int = 1) -> AgentEvent:
    return AgentEvent("tool_end", tool="web_fetch", turn=turn, capabilities={"network", "untrusted_output"},
                      data={"ok": True, "untrusted": True, "secret_path": False})


# --- slow drip across turns -------------------------------------------------------------------


def test_slow_drip_tokens_under_turn_budget_hit_the_session_budget() -> None:
    w, _, _ = make()
    verdicts = []
    for turn in range(1, 7):  # 999 per turn, always under the turn budget of 1000
        w.observe(AgentEvent("usage", turn=turn, data={"input_tokens": 500, "output_tokens": 499}), ctx(turn=turn))
        verdicts.append(w.decide(ToolCall("t", {"turn": turn}), ctx(turn=turn)))
    assert all(d.rule != "watcher.tokens_turn" for d in verdicts)
    assert [d.verdict for d in verdicts[:5]] == [Verdict.ALLOW] * 5
    assert verdicts[5].rule == "watcher.tokens_session"  # 5994 > 5000
    w.close()


def test_slow_drip_calls_across_turns_hit_the_rate_window() -> None:
    w, clock, _ = make()
    decisions = []
    for turn in range(1, 8):  # 3 calls per turn, a new turn every 5 s: the window is time, not turns
        for i in range(3):
            decisions.append(w.decide(ToolCall("read", {"t": turn, "i": i}), ctx(turn=turn)))
        clock.now += 5
    assert decisions[19].verdict is Verdict.ALLOW and decisions[20].rule == "watcher.rate"
    w.close()


def test_slow_drip_failures_across_turns_stay_consecutive() -> None:
    w, _, _ = make()
    for turn in range(1, 5):  # one failure per turn: turn changes do not reset the streak
        w.observe(AgentEvent("tool_end", tool=f"tool{turn}", turn=turn, data={"ok": False}), ctx(turn=turn))
    assert w.decide(ToolCall("other"), ctx(turn=4)).rule == "watcher.errors_total"
    w.close()


def test_slow_drip_cost_just_under_then_over() -> None:
    w, _, _ = make()
    for turn in range(1, 5):
        w.observe(AgentEvent("usage", turn=turn, data={"cost": 0.5}), ctx(turn=turn))
    assert w.decide(ToolCall("t"), ctx(turn=4)).verdict is Verdict.ALLOW  # exactly 2.0
    w.observe(AgentEvent("usage", turn=5, data={"cost": 1e-9}), ctx(turn=5))
    assert w.decide(ToolCall("t", {"n": 1}), ctx(turn=5)).rule == "watcher.cost"
    w.close()


# --- sequence window padding ------------------------------------------------------------------


def test_benign_calls_interleaved_cannot_slip_the_sequence_window() -> None:
    w, _, _ = make()
    w.observe(untrusted_read(), ctx())
    for i in range(12):  # more padding than the 5-call window, but inside 60 s
        assert w.decide(ToolCall("list_dir", {"i": i}), ctx()).verdict is Verdict.ALLOW
    d = w.decide(ToolCall("send_mail", capabilities=EXFIL), ctx())
    assert (d.verdict, d.rule) == (Verdict.DENY, "watcher.sequence") and d.evidence["calls_since"] == 13
    w.close()


def test_waiting_out_the_clock_cannot_slip_the_call_window() -> None:
    w, clock, _ = make()
    w.observe(untrusted_read(), ctx())
    clock.now += 3600
    assert w.decide(ToolCall("send_mail", capabilities=EXFIL), ctx()).verdict is Verdict.DENY
    w.close()


def test_a_new_turn_does_not_clear_the_taint() -> None:
    w, _, _ = make()
    w.observe(untrusted_read(turn=1), ctx(turn=1))
    assert w.decide(ToolCall("send_mail", capabilities=EXFIL), ctx(turn=2)).verdict is Verdict.DENY
    w.close()


def test_a_later_benign_result_does_not_clear_the_taint() -> None:
    w, _, _ = make()
    w.observe(untrusted_read(), ctx())
    w.observe(AgentEvent("tool_end", tool="calc", turn=1, data={"ok": True, "untrusted": False}), ctx())
    assert w.decide(ToolCall("send_mail", capabilities=EXFIL), ctx()).verdict is Verdict.DENY
    w.close()


# --- renamed tools ----------------------------------------------------------------------------


def test_renamed_tool_with_exfil_capability_is_terminated() -> None:
    for name in ("totally_safe_logger", "read_file", "noop", "ｈｔｔｐ_post"):
        w, _, _ = make()
        w.observe(untrusted_read(), ctx())
        assert w.decide(ToolCall(name, {"data": "x"}, capabilities=EXFIL | {"fs.read"}), ctx()).verdict is Verdict.DENY, name
        w.close()


def test_tool_name_alone_never_decides() -> None:
    w, _, _ = make()
    w.observe(untrusted_read(), ctx())
    assert w.decide(ToolCall("http_post_exfiltrate", capabilities={"fs.read"}), ctx()).verdict is Verdict.ALLOW
    w.close()


def test_renamed_reader_with_untrusted_capability_still_taints() -> None:
    w, _, _ = make()
    w.observe(AgentEvent("tool_end", tool="calculator", turn=1, capabilities={"untrusted_output"},
                         data={"ok": True}), ctx())
    assert w.decide(ToolCall("notify", capabilities=EXFIL), ctx()).verdict is Verdict.DENY
    w.close()


# --- loop obfuscation -------------------------------------------------------------------------


def test_argument_obfuscation_does_not_hide_a_loop() -> None:
    variants: list[dict[str, Any]] = [
        {"path": "/tmp/a.txt", "n": 1},
        {"n": 1, "path": "/tmp/a.txt"},  # key order
        {"path": "/tmp/a\u200b.txt", "n": 1.0},  # zero-width space, 1 vs 1.0
        {"path": "／tmp／a.txt", "n": 1},  # fullwidth solidus (NFKC)
        {"path": " /tmp/a.txt\t", "n": 1},  # padding whitespace
        {"path": "/tmp/a\u2066.txt", "n": 1},  # bidi isolate
    ]
    assert len({args_digest(v) for v in variants}) == 1
    w, _, _ = make()
    verdicts = [w.decide(ToolCall("read_file", v), ctx()).verdict for v in variants]
    assert verdicts[:3] == [Verdict.ALLOW] * 3 and set(verdicts[3:]) == {Verdict.APPROVE}
    w.close()


def test_benign_interleaving_does_not_reset_loop_counts() -> None:
    w, _, _ = make()
    decisions = []
    for i in range(4):
        decisions.append(w.decide(ToolCall("search", {"q": "same"}), ctx()))
        w.decide(ToolCall("calc", {"i": i}), ctx())
    assert decisions[3].rule == "watcher.loop"
    w.close()


def test_megabyte_arguments_digest_consistently() -> None:
    big = "x" * 1_000_000
    a = {"body": big + "\u200b", "to": "a"}
    b = {"to": "a", "body": big}
    assert args_digest(a) == args_digest(b)
    assert args_digest({"body": big + "y"}) != args_digest({"body": big})


def test_deeply_nested_arguments_fail_closed() -> None:
    w, _, _ = make()
    deep: Any = "leaf"
    for _ in range(100_000):
        deep = [deep]
    call = ToolCall("t")
    object.__setattr__(call, "args", {"a": deep})  # bypass the freezing converter on purpose
    d = w.decide(call, ctx())
    assert (d.verdict, d.rule) == (Verdict.APPROVE, "watcher.crashed")
    w.close()


# --- personality policy -----------------------------------------------------------------------


def test_personality_cannot_loosen_any_threshold() -> None:
    loose = WatcherPolicy(**{f.name: (10**12 if not f.name.startswith("sequence") else 0)
                             for f in attrs.fields(WatcherPolicy)})
    w, _, _ = make()
    th = w.thresholds(ctx(policy=loose))
    assert th == w.global_thresholds
    w.close()


def test_malformed_personality_thresholds_are_strictest() -> None:
    w, _, _ = make()
    junk = WatcherPolicy(max_tokens_per_turn=math.nan, max_identical_calls=True,  # type: ignore[arg-type]
                         sequence_window_seconds=math.nan)
    th = w.thresholds(ctx(policy=junk))
    assert th.max_tokens_per_turn == 0 and th.max_identical_calls == 0 and th.sequence_window_seconds == math.inf
    w.close()


# --- stalled or failing watcher ---------------------------------------------------------------


def test_stalled_watcher_thread_pauses_the_session() -> None:
    gate = threading.Event()
    entered = threading.Event()

    def stall(event: AgentEvent) -> None:
        if event.kind == "model_text":
            entered.set()
            gate.wait(10)

    w, _, audits = make(stall_hook=stall, decide_timeout=0.05)
    w.observe(AgentEvent("model_text", turn=1), ctx())
    assert entered.wait(10)
    w.observe(untrusted_read(), ctx())  # queued behind the stuck event
    d = w.decide(ToolCall("read"), ctx())
    assert (d.verdict, d.rule, d.evidence["cause"]) == (Verdict.APPROVE, "watcher.stalled", "deadline")
    assert w.current("s1").rule == "watcher.stalled"
    h = w.health()
    assert h["ok"] is False and h["status"] == "stalled" and h["stalled_decisions"] >= 2
    assert [a.rule for a in audits] == ["watcher.stalled"]
    gate.set()
    # once the watcher catches up, the queued untrusted read is applied before the next decision
    assert w.decide(ToolCall("post", capabilities=EXFIL), ctx()).verdict is Verdict.DENY
    assert w.health()["status"] == "ok"
    w.close()


def test_stall_never_weakens_a_terminate() -> None:
    gate = threading.Event()
    entered = threading.Event()

    def stall(event: AgentEvent) -> None:
        if event.kind == "model_text":
            entered.set()
            gate.wait(10)

    w, _, _ = make(stall_hook=stall, decide_timeout=0.05)
    w.observe(untrusted_read(), ctx())
    assert w.decide(ToolCall("post", capabilities=EXFIL), ctx()).verdict is Verdict.DENY
    w.observe(AgentEvent("model_text", turn=1), ctx())
    assert entered.wait(10)
    w.observe(AgentEvent("usage", turn=1, data={"input_tokens": 1}), ctx())
    d = w.decide(ToolCall("read"), ctx())
    assert d.verdict is Verdict.DENY and "watcher.stalled" in d.evidence["also"]
    gate.set()
    w.close()


def test_exception_inside_decide_pauses_rather_than_allows() -> None:
    w, _, _ = make()

    def boom(*_: Any) -> Any:
        raise ValueError("bug in a rule")

    w._findings = boom  # type: ignore[method-assign]
    d = w.decide(ToolCall("t"), ctx())
    assert (d.verdict, d.rule) == (Verdict.APPROVE, "watcher.crashed")
    assert w.health()["rule_errors"] == 1
    w.close()


# --- races ------------------------------------------------------------------------------------


def test_parallel_decisions_cannot_overshoot_the_rate_limit() -> None:
    w, _, _ = make()
    results: list[Verdict] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker(k: int) -> None:
        barrier.wait()
        for i in range(10):
            v = w.decide(ToolCall("read", {"k": k, "i": i}), ctx()).verdict
            with lock:
                results.append(v)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(Verdict.ALLOW) == 20 and len(results) == 80
    w.close()


def test_parallel_batch_after_terminate_is_denied_everywhere() -> None:
    w, _, _ = make()
    w.observe(untrusted_read(), ctx())
    assert w.decide(ToolCall("post", capabilities=EXFIL), ctx()).verdict is Verdict.DENY
    out: list[Verdict] = []

    def worker(i: int) -> None:
        out.append(w.decide(ToolCall("read", {"i": i}), ctx()).verdict)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [Verdict.DENY] * 6
    w.close()
