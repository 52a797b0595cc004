"""Behaviour of the watcher: every rule's threshold and reset, isolation, terminate mid-batch,
audit once per transition, owner acknowledgement, health and fail-closed states."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from ethos_core.config.model import WatcherConfig
from ethos_core.stages import Stage
from ethos_core.types import AgentEvent, WatcherPolicy
from ethos_core.verdicts import Verdict
from ethos_core.watcher import Watcher

from .helpers import SMALL, FakeClock, call, ctx, make, rules, tool_end, usage

EXFIL = frozenset({"exfil"})


@pytest.fixture
def env() -> Iterator[tuple[Watcher, FakeClock, list]]:
    w, clock, audits = make()
    yield w, clock, audits
    w.close()


def test_quiet_session_is_allowed(env) -> None:
    w, _, audits = env
    d = w.decide(call(), ctx())
    assert d.verdict is Verdict.ALLOW and d.stage is Stage.WATCHER_POLICY and d.rule == "watcher.ok"
    assert w.current("s1").verdict is Verdict.ALLOW
    assert w.current("never-seen").verdict is Verdict.ALLOW
    assert audits == []


# --- rate -------------------------------------------------------------------------------------


def test_rate_threshold_and_window_reset() -> None:
    w, clock, audits = make(WatcherConfig(max_tool_calls_per_minute=3))
    c = ctx()
    verdicts = [w.decide(call(path=str(i)), c).verdict for i in range(3)]
    assert verdicts == [Verdict.ALLOW] * 3
    d = w.decide(call(path="x"), c)
    assert (d.verdict, d.rule, d.evidence["action"]) == (Verdict.APPROVE, "watcher.rate", "pause")
    assert d.evidence["calls_in_window"] == 3 and d.evidence["limit"] == 3
    assert w.current("s1").rule == "watcher.rate"
    clock.advance(61)
    assert w.decide(call(path="y"), c).verdict is Verdict.ALLOW
    assert rules(audits) == ["watcher.rate"]
    w.close()


# --- tokens and cost --------------------------------------------------------------------------


def test_tokens_per_turn_threshold_and_turn_reset(env) -> None:
    w, _, audits = env
    w.observe(usage(60, 40), ctx())  # exactly the budget: allowed
    assert w.decide(call(), ctx()).verdict is Verdict.ALLOW
    w.observe(usage(0, 1), ctx())
    d = w.decide(call(path="b"), ctx())
    assert (d.verdict, d.rule) == (Verdict.APPROVE, "watcher.tokens_turn")
    assert d.evidence["tokens"] == 101 and d.evidence["limit"] == 100
    assert w.current("s1").rule == "watcher.tokens_turn"  # visible without a call
    # a new turn starts with an empty per-turn budget
    assert w.decide(call(path="c"), ctx(turn=2)).verdict is Verdict.ALLOW
    w.observe(usage(10, 0, turn=2), ctx(turn=2))
    assert w.decide(call(path="d"), ctx(turn=2)).verdict is Verdict.ALLOW
    assert rules(audits) == ["watcher.tokens_turn"]


def test_tokens_per_session_threshold_survives_turns(env) -> None:
    w, _, _ = env
    for turn in range(1, 4):  # 3 × 90 = 270 > 250, each turn under its own budget of 100
        w.observe(usage(45, 45, turn=turn), ctx(turn=turn))
    d = w.decide(call(), ctx(turn=3))
    assert (d.verdict, d.rule) == (Verdict.APPROVE, "watcher.tokens_session")
    assert d.evidence["tokens"] == 270


def test_total_tokens_key_is_read_when_split_is_absent(env) -> None:
    w, _, _ = env
    w.observe(AgentEvent("usage", turn=1, data={"total_tokens": 101}), ctx())
    assert w.decide(call(), ctx()).rule == "watcher.tokens_turn"


def test_cost_threshold(env) -> None:
    w, _, _ = env
    w.observe(usage(cost=0.5), ctx())
    w.observe(usage(cost=0.5), ctx())
    assert w.decide(call(), ctx()).verdict is Verdict.ALLOW  # exactly 1.0
    w.observe(usage(cost=0.01), ctx())
    d = w.decide(call(path="2"), ctx())
    assert (d.verdict, d.rule) == (Verdict.APPROVE, "watcher.cost")


# --- compounding errors -----------------------------------------------------------------------


def test_errors_per_tool_force_approval_and_success_reset(env) -> None:
    w, _, audits = env
    w.observe(tool_end("fetch", ok=False), ctx())
    assert w.decide(call("fetch"), ctx()).verdict is Verdict.ALLOW
    w.observe(tool_end("fetch", ok=False), ctx())
    d = w.decide(call("fetch", path="1"), ctx())
    assert (d.verdict, d.rule, d.evidence["action"]) == (Verdict.APPROVE, "watcher.errors_tool", "force_approval")
    assert d.evidence["tool"] == "fetch" and d.evidence["consecutive_failures"] == 2
    assert w.decide(call("other"), ctx()).verdict is Verdict.ALLOW  # other tools unaffected
    w.observe(tool_end("fetch", ok=True), ctx())
    assert w.decide(call("fetch", path="2"), ctx()).verdict is Verdict.ALLOW
    assert rules(audits) == ["watcher.errors_tool"]


def test_errors_total_across_tools_and_error_events(env) -> None:
    w, _, _ = env
    w.observe(tool_end("a", ok=False), ctx())
    w.observe(tool_end("b", ok=False), ctx())
    w.observe(AgentEvent("error", turn=1, data={"message": "provider 500"}), ctx())
    d = w.decide(call("c"), ctx())
    assert (d.verdict, d.rule) == (Verdict.APPROVE, "watcher.errors_total")
    assert d.evidence["consecutive_failures"] == 3
    w.observe(tool_end("c", ok=True), ctx())
    assert w.decide(call("c", path="x"), ctx()).verdict is Verdict.ALLOW


# --- loops ------------------------------------------------------------------------------------


def test_loop_threshold_and_turn_reset(env) -> None:
    w, _, audits = env
    same = call("search", q="weather")
    assert [w.decide(same, ctx()).verdict for _ in range(2)] == [Verdict.ALLOW, Verdict.ALLOW]
    assert w.decide(call("search", q="news"), ctx()).verdict is Verdict.ALLOW  # different args
    d = w.decide(same, ctx())
    assert (d.verdict, d.rule) == (Verdict.APPROVE, "watcher.loop")
    assert d.evidence["repeats"] == 3 and d.evidence["tool"] == "search"
    assert w.decide(same, ctx()).rule == "watcher.loop"
    assert w.decide(same, ctx(turn=2)).verdict is Verdict.ALLOW  # a new turn
    assert rules(audits) == ["watcher.loop"]


# --- suspicious sequences ---------------------------------------------------------------------


@pytest.mark.parametrize("event", [
    tool_end("web_fetch", untrusted=True),
    tool_end("read_file", secret_path=True),
    tool_end("inbox", capabilities=frozenset({"untrusted_output"})),
    tool_end("web_fetch", ok=False, untrusted=True),  # an error page is still outside content
])
def test_sequence_taint_then_exfil_terminates(env, event: AgentEvent) -> None:
    w, _, audits = env
    w.observe(event, ctx())
    d = w.decide(call("http_post", EXFIL, url="https://x.test"), ctx())
    assert (d.verdict, d.rule, d.evidence["action"]) == (Verdict.DENY, "watcher.sequence", "terminate")
    assert d.evidence["after_tool"] == event.tool
    assert rules(audits) == ["watcher.sequence"]
    assert audits[0].severity == "critical" and audits[0].verdict == "deny"


def test_sequence_without_taint_or_without_exfil_is_allowed(env) -> None:
    w, _, _ = env
    assert w.decide(call("http_post", EXFIL), ctx()).verdict is Verdict.ALLOW
    w.observe(tool_end("web_fetch", untrusted=True), ctx())
    assert w.decide(call("write_file", {"fs.write"}), ctx()).verdict is Verdict.ALLOW


def test_sequence_window_expires_only_when_calls_and_seconds_both_pass(env) -> None:
    w, clock, _ = env
    w.observe(tool_end("web_fetch", untrusted=True), ctx())
    for i in range(3):  # window_calls = 3: the exfil would be the 4th call after the read
        w.decide(call(path=str(i)), ctx())
    assert w.decide(call("mail", EXFIL), ctx()).verdict is Verdict.DENY  # still within 30 s
    w2, clock2, _ = make()
    w2.observe(tool_end("web_fetch", untrusted=True), ctx())
    clock2.advance(31)
    assert w2.decide(call("mail", EXFIL), ctx()).verdict is Verdict.DENY  # 1st call after the read
    for i in range(3):
        w2.decide(call(path=str(i)), ctx(turn=2))
    assert w2.decide(call("mail", EXFIL), ctx(turn=2)).verdict is Verdict.ALLOW  # both windows passed
    w2.close()


def test_terminate_mid_batch_denies_the_rest_of_the_turn(env) -> None:
    w, _, audits = env
    w.observe(tool_end("web_fetch", untrusted=True), ctx())
    batch = [call("read_file", path="a"), call("upload", EXFIL, path="a"), call("list_dir", path="/")]
    decisions = [w.decide(c, ctx()) for c in batch]
    assert [d.verdict for d in decisions] == [Verdict.ALLOW, Verdict.DENY, Verdict.DENY]
    assert decisions[2].rule == "watcher.sequence"
    assert w.current("s1").verdict is Verdict.DENY
    assert rules(audits) == ["watcher.sequence"]  # one terminate, one audit row
    assert w.decide(call("list_dir", path="/"), ctx(turn=2)).verdict is Verdict.ALLOW


# --- isolation --------------------------------------------------------------------------------


def test_sessions_and_bots_never_share_counters(env) -> None:
    w, _, _ = env
    w.observe(usage(101), ctx("chat-1"))
    w.observe(tool_end("web_fetch", untrusted=True), ctx("chat-1"))
    assert w.decide(call(), ctx("chat-1")).rule == "watcher.tokens_turn"
    assert w.decide(call(), ctx("chat-2")).verdict is Verdict.ALLOW
    assert w.decide(call("post", EXFIL), ctx("chat-2")).verdict is Verdict.ALLOW
    # the same chat key under another bot is another session
    w.observe(usage(101), ctx("chat-9", bot="bot-a"))
    assert w.decide(call(), ctx("chat-9", bot="bot-a")).rule == "watcher.tokens_turn"
    assert w.decide(call(), ctx("chat-9", bot="bot-b")).verdict is Verdict.ALLOW
    assert w.current("chat-9", bot="bot-a").rule == "watcher.tokens_turn"
    assert w.current("chat-9", bot="bot-b").verdict is Verdict.ALLOW


def test_forget_drops_a_finished_session(env) -> None:
    w, _, _ = env
    w.observe(usage(101), ctx("done"))
    assert w.decide(call(), ctx("done")).verdict is Verdict.APPROVE
    w.forget("done")
    assert w.current("done").verdict is Verdict.ALLOW


# --- personality overrides --------------------------------------------------------------------


def test_personality_override_tightens_limits(env) -> None:
    w, _, _ = env
    tight = WatcherPolicy(max_tokens_per_turn=10)
    w.observe(usage(11), ctx(policy=tight))
    assert w.decide(call(), ctx(policy=tight)).rule == "watcher.tokens_turn"


def test_personality_override_cannot_loosen(env) -> None:
    w, _, _ = env
    loose = WatcherPolicy(max_tokens_per_turn=10**9, sequence_window_calls=0, sequence_window_seconds=0.0)
    w.observe(usage(101), ctx(policy=loose))
    assert w.decide(call(), ctx(policy=loose)).rule == "watcher.tokens_turn"
    w.observe(tool_end("web_fetch", untrusted=True), ctx("s2", policy=loose))
    assert w.decide(call("post", EXFIL), ctx("s2", policy=loose)).verdict is Verdict.DENY


def test_personality_widens_sequence_window_to_tighten(env) -> None:
    w, clock, _ = env
    longer = WatcherPolicy(sequence_window_seconds=600.0)
    w.observe(tool_end("web_fetch", untrusted=True), ctx(policy=longer))
    for i in range(5):
        w.decide(call(path=str(i)), ctx(policy=longer))
    clock.advance(300)
    assert w.decide(call("post", EXFIL), ctx(policy=longer)).verdict is Verdict.DENY


def test_global_config_comes_from_the_runtime(tmp_path) -> None:
    from ethos_core.config.model import GlobalConfig
    from ethos_core.runtime import HomePaths, Runtime

    rt = Runtime(home=HomePaths(tmp_path), config=GlobalConfig(watcher=WatcherConfig(max_tokens_per_turn=5)))
    w = Watcher(rt)
    w.observe(usage(6), ctx())
    assert w.decide(call(), ctx()).rule == "watcher.tokens_turn"
    assert [e.category for e in rt.services["audit_memory"]] == ["audit.watcher"]
    w.close()


# --- ordering, acknowledgement, audit ---------------------------------------------------------


def test_decision_reflects_every_event_observed_before_it(env) -> None:
    w, _, _ = env
    big = make(WatcherConfig(max_tokens_per_turn=4999, max_tokens_per_session=10**9))[0]
    for _ in range(5000):
        big.observe(usage(1), ctx())
    d = big.decide(call(), ctx())
    assert d.rule == "watcher.tokens_turn" and d.evidence["tokens"] == 5000
    big.close()


def test_owner_acknowledgement_resets_a_pause_but_never_a_terminate(env) -> None:
    w, _, audits = env
    w.observe(usage(101), ctx())
    assert w.decide(call(), ctx()).rule == "watcher.tokens_turn"
    w.observe(AgentEvent("approval", turn=1, data={"approved": True, "rules": ["watcher.tokens_turn"]}), ctx())
    assert w.decide(call(path="2"), ctx()).verdict is Verdict.ALLOW
    w.observe(usage(101), ctx())  # a fresh budget, then a fresh audit row
    assert w.decide(call(path="3"), ctx()).rule == "watcher.tokens_turn"
    assert rules(audits) == ["watcher.tokens_turn", "watcher.tokens_turn"]
    w.observe(tool_end("web_fetch", untrusted=True), ctx("t"))
    assert w.decide(call("post", EXFIL), ctx("t")).verdict is Verdict.DENY
    w.observe(AgentEvent("approval", turn=1, data={"approved": True, "rules": ["watcher.sequence"]}), ctx("t"))
    assert w.decide(call("list"), ctx("t")).verdict is Verdict.DENY


@pytest.mark.parametrize("rule, events", [
    ("watcher.cost", [usage(cost=2.0)]),
    ("watcher.tokens_session", [usage(100, turn=1), usage(100, turn=2), usage(100, turn=3)]),
    ("watcher.errors_total", [tool_end("a", ok=False), tool_end("b", ok=False), tool_end("c", ok=False)]),
])
def test_acknowledgement_per_rule(env, rule: str, events: list[AgentEvent]) -> None:
    w, _, _ = env
    for e in events:
        w.observe(e, ctx(turn=e.turn))
    turn = events[-1].turn
    assert w.decide(call(), ctx(turn=turn)).rule == rule
    w.observe(AgentEvent("approval", turn=turn, data={"approved": True, "rules": [rule]}), ctx(turn=turn))
    assert w.decide(call(path="after"), ctx(turn=turn)).verdict is Verdict.ALLOW


def test_audit_row_carries_rule_action_and_evidence(env) -> None:
    w, _, audits = env
    w.observe(tool_end("fetch", ok=False), ctx(bot="b1", personality="researcher"))
    w.observe(tool_end("fetch", ok=False), ctx(bot="b1", personality="researcher"))
    w.decide(call("fetch"), ctx(bot="b1", personality="researcher"))
    (row,) = audits
    assert row.category == "audit.watcher" and row.rule == "watcher.errors_tool" and row.code == "watcher.errors_tool"
    assert row.stage == "watcher_policy" and row.verdict == "approve" and row.personality == "researcher"
    assert row.session == "s1" and row.turn == 1 and row.source == "ethos.builtin.watcher_policy"
    assert row.data["action"] == "force_approval" and row.data["consecutive_failures"] == 2
    assert row.data["bot"] == "b1" and row.data["tool"] == "fetch"


def test_the_strictest_finding_is_reported_and_the_rest_listed(env) -> None:
    w, _, audits = env
    w.observe(usage(101), ctx())
    w.observe(tool_end("web_fetch", untrusted=True), ctx())
    d = w.decide(call("post", EXFIL), ctx())
    assert d.rule == "watcher.sequence" and "watcher.tokens_turn" in d.evidence["also"]
    assert sorted(rules(audits)) == ["watcher.sequence", "watcher.tokens_turn"]


# --- fail closed ------------------------------------------------------------------------------


def test_crashing_rule_pauses_only_its_session(env) -> None:
    w, _, audits = env

    def broken(*_: object) -> None:
        raise RuntimeError("rule bug")

    w._handlers["usage"] = broken  # a rule that raises
    w.observe(usage(1), ctx("bad"))
    d = w.decide(call(), ctx("bad"))
    assert (d.verdict, d.rule) == (Verdict.APPROVE, "watcher.crashed")
    assert w.decide(call(), ctx("good")).verdict is Verdict.ALLOW
    h = w.health()
    assert h["ok"] is False and h["status"] == "degraded" and h["crashed_sessions"] == 1
    w.observe(AgentEvent("approval", turn=1, data={"approved": True, "rules": ["watcher.crashed"]}), ctx("bad"))
    assert w.decide(call(path="x"), ctx("bad")).verdict is Verdict.ALLOW
    assert "watcher.crashed" in rules(audits)


def test_dead_watcher_thread_pauses_every_session() -> None:
    w, _, audits = make(start=False)
    w.observe(usage(1), ctx())
    d = w.decide(call(), ctx())
    assert (d.verdict, d.rule) == (Verdict.APPROVE, "watcher.crashed")
    assert w.current("s1").rule == "watcher.crashed"
    assert w.current("unknown").rule == "watcher.crashed"
    h = w.health()
    assert h["ok"] is False and h["status"] == "crashed" and h["thread_alive"] is False
    assert [(a.rule, a.session) for a in audits] == [("watcher.crashed", "s1"), ("watcher.crashed", "unknown")]


def test_closed_watcher_pauses_and_reports_closed(env) -> None:
    w, _, _ = env
    w.close()
    w.observe(usage(1), ctx())
    assert w.decide(call(), ctx()).rule == "watcher.stalled"
    assert w.health()["status"] == "closed"


def test_failing_audit_sink_keeps_the_decision_and_retries() -> None:
    calls: list[object] = []

    def sink(event: object) -> None:
        calls.append(event)
        raise OSError("disk full")

    w, _, _ = make(emit=sink)
    w.observe(usage(101), ctx())
    assert w.decide(call(), ctx()).rule == "watcher.tokens_turn"
    assert w.decide(call(path="2"), ctx()).rule == "watcher.tokens_turn"
    assert len(calls) == 2 and w.health()["audit_errors"] == 2
    w.close()


def test_health_reports_counters(env) -> None:
    w, _, _ = env
    for _ in range(10):
        w.observe(usage(1), ctx())
    assert w.drain()
    h = w.health()
    assert h["ok"] is True and h["status"] == "ok" and h["events_processed"] == 10
    assert h["thresholds"]["max_tokens_per_turn"] == SMALL.max_tokens_per_turn


def test_concurrent_observers_lose_nothing(env) -> None:
    w, _, _ = env
    big = make(WatcherConfig(max_tokens_per_turn=10**9, max_tokens_per_session=10**9))[0]

    def produce() -> None:
        for _ in range(500):
            big.observe(usage(1), ctx())

    threads = [threading.Thread(target=produce) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert big.decide(call(), ctx()).verdict is Verdict.ALLOW
    assert big._sessions[("", "s1")].tokens_session == 4000
    assert big.health()["events_dropped"] == 0
    big.close()


def test_events_queued_while_the_thread_sleeps_are_applied_by_the_next_decision() -> None:
    # observe() wakes an idle watcher thread at most once per interval (or for a batch); events
    # queued in between are applied, in order, by the decision that needs them.
    w, _, _ = make()
    try:
        assert w.drain()
        for i in range(5):  # back to back: at most the first one wakes the thread
            w.observe(tool_end(f"t{i}", ok=False), ctx())
        w.observe(tool_end("reader", untrusted=True), ctx())
        d = w.decide(call("post", EXFIL), ctx())
        assert d.verdict is Verdict.DENY and d.rule == "watcher.sequence"
        h = w.health()
        assert h["events_processed"] == h["events_observed"] == 6 and h["status"] in ("ok", "degraded")
    finally:
        w.close()
