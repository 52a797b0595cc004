"""The watcher service: an out-of-band observer of every session's AgentEvent stream.

Invariants:
- ``observe`` never blocks and never raises: it stamps the event with the watcher's clock and
  appends it to one bounded FIFO consumed by the watcher thread, off the agent's call path.
- ``decide`` / ``current`` reflect every event observed for that session before the call: they
  wait (with a deadline) until the watcher thread has processed it. A watcher that misses the
  deadline (stalled), lost an event (queue full), failed in a rule (crashed), died or was closed
  answers APPROVE (``watcher.stalled`` / ``watcher.crashed``): the session pauses, never runs blind.
- State is per session key ``(ctx.bot, ctx.session)``: two chats of one bot, or one chat key
  under two bots, never share a counter.
- A terminate (DENY) is sticky for the rest of its turn: every remaining call of a parallel
  batch is denied too, and ``current`` reports it until the turn number advances.
- Every transition of a rule to non-allow is audited once as ``audit.watcher`` (rule id, action,
  evidence); repeated checks of an unchanged condition are not re-audited.

Not covered: calls refused by stages 7–10 never reach stage 11 and are not counted; the watcher
trusts the engine for event content (``ok``, ``untrusted``, ``secret_path``, usage figures, tool
capabilities); a process-wide hang (the GIL held forever) stops the loop and the watcher alike.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ethos_core.config.model import WatcherConfig
from ethos_core.stages import Stage
from ethos_core.types import AgentEvent, AuditEvent, Context, Decision, ToolCall, WatcherPolicy
from ethos_core.verdicts import Verdict
from ethos_core.watcher import rules as R
from ethos_core.watcher.rules import Thresholds

log = logging.getLogger("ethos.watcher")

SessionKey = tuple[str, str]
StallHook = Callable[[AgentEvent], None]

_VERDICT_OF_ACTION: Mapping[str, Verdict] = {
    R.PAUSE: Verdict.APPROVE,
    R.FORCE_APPROVAL: Verdict.APPROVE,
    R.TERMINATE: Verdict.DENY,
}
_SESSION_WIDE: frozenset[str] = frozenset(
    {R.RATE, R.TOKENS_TURN, R.TOKENS_SESSION, R.COST, R.ERRORS_TOTAL, R.STALLED, R.CRASHED}
)
_ACKABLE: frozenset[str] = _SESSION_WIDE | {R.ERRORS_TOOL, R.LOOP}
_SOURCE = Stage.WATCHER_POLICY.builtin_name
_ALLOW = Decision.allow(Stage.WATCHER_POLICY, R.OK, "no watcher rule triggered")
_MAX_RATE_ENTRIES = 100_000
_WAKE_BATCH = 64  # queued events that wake an idle watcher thread at once
_WAKE_INTERVAL = 0.05  # else at most one wake-up per this many seconds (the idle wait is 0.25 s)
_MAX_POLICY_CACHE = 256


@attrs.frozen
class Finding:
    """One rule that fired: ``key`` identifies the condition for once-per-transition audit."""

    rule: str
    action: str
    reason: str
    key: str
    evidence: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def verdict(self) -> Verdict:
        return _VERDICT_OF_ACTION[self.action]


@attrs.frozen
class Taint:
    """The latest read of untrusted content or of a secret-bearing path in a session."""

    ts: float
    calls_at: int  # the session's decided-call count when the read was processed
    tool: str
    kind: str  # "untrusted" | "secret_path"


@attrs.define(eq=False)
class SessionState:
    """Counters of one session. Event fields are written by the watcher thread only; call
    fields by ``decide`` under ``lock``; cross-thread hand-offs are single assignments."""

    key: SessionKey
    lock: threading.Lock = attrs.field(factory=threading.Lock)
    last_ctx: Context | None = None
    last_seq: int = 0  # global sequence number of the latest event enqueued for this session
    dropped: int = 0  # events lost to a full queue (fail closed until acknowledged)
    dropped_acked: int = 0
    # written by the watcher thread
    events: int = 0
    event_turn: int = 0
    tokens_turn: float = 0.0
    tokens_session: float = 0.0
    cost: float = 0.0
    errors_tool: dict[str, int] = attrs.field(factory=dict)
    errors_total: int = 0
    taint: Taint | None = None
    crashed: str | None = None
    rate_floor: float = -math.inf  # an acknowledged rate pause forgets calls before this time
    loop_generation: int = 0
    # written by decide (under lock)
    call_turn: int = 0
    calls_total: int = 0
    rate_times: deque[float] = attrs.field(factory=lambda: deque(maxlen=_MAX_RATE_ENTRIES))
    loop_counts: dict[tuple[str, str], int] = attrs.field(factory=dict)
    loop_generation_seen: int = 0
    terminated: tuple[int, Finding] | None = None
    active: set[str] = attrs.field(factory=set)


def session_key(ctx: Context) -> SessionKey:
    return (ctx.bot or "", ctx.session)


class Watcher:
    """One per engine, attached as ``runtime.services["watcher"]``.

    :param runtime: supplies ``config.watcher`` (global thresholds) and ``emit`` (audit).
    :param config: global thresholds when there is no runtime (tests, benchmarks).
    :param emit: audit sink override; default ``runtime.emit`` (or nothing without a runtime).
    :param clock: time source of the rule windows (injectable; seconds, monotonic).
    :param queue_capacity: events buffered before ``observe`` drops (and the session pauses).
    :param decide_timeout: real seconds ``decide``/``current`` wait for the queue to drain.
    :param stall_hook: called by the watcher thread before each event (fault injection).
    """

    def __init__(
        self,
        runtime: Any = None,
        *,
        config: WatcherConfig | None = None,
        emit: Callable[[AuditEvent], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        queue_capacity: int = 65_536,
        decide_timeout: float = 0.5,
        stall_hook: StallHook | None = None,
        start: bool = True,
    ) -> None:
        if config is None and runtime is not None:
            config = getattr(getattr(runtime, "config", None), "watcher", None)
        self._global = R.global_thresholds(config)
        self._policy_cache: dict[WatcherPolicy | None, Thresholds] = {}
        self._last_policy: tuple[object, Thresholds] = (object(), self._global)
        self._emit = emit if emit is not None else (runtime.emit if runtime is not None else None)
        self._clock = clock
        self._clock_is_real = clock is time.monotonic
        self._capacity = max(1, int(queue_capacity))
        self._decide_timeout = float(decide_timeout)
        self.stall_hook = stall_hook

        self._queue: deque[tuple[SessionState, int, float, float, AgentEvent]] = deque()
        self._lock = threading.Lock()  # enqueue order == sequence order; session creation
        self._proc_lock = threading.Lock()  # one applier of events at a time, in queue order
        self._sessions: dict[SessionKey, SessionState] = {}
        self._seq = 0
        self._processed = 0
        self._notify_at = math.inf
        self._cond = threading.Condition(threading.Lock())
        self._wake = threading.Event()
        self._idle = False
        self._last_wake = -math.inf  # time.monotonic() of the last wake-up from observe
        self._closing = False
        self._closed = False
        self._progress_real = time.monotonic()
        self._dropped = 0
        self._stalls = 0
        self._rule_errors = 0
        self._audit_errors = 0
        self._last_error: str | None = None
        self._thread_error: str | None = None
        self._handlers: dict[str, Callable[[SessionState, float, AgentEvent], None]] = {
            "usage": self._on_usage,
            "tool_end": self._on_tool_end,
            "error": self._on_error,
            "approval": self._on_approval,
        }
        self._thread = threading.Thread(target=self._run, name="ethos-watcher", daemon=True)
        if start:
            self._thread.start()

    # --- thresholds --------------------------------------------------------------------------

    @property
    def global_thresholds(self) -> Thresholds:
        return self._global

    def thresholds(self, ctx: Context) -> Thresholds:
        """Effective thresholds of ``ctx``'s personality (global floor, tighten-only override)."""
        policy = ctx.personality.safety.watcher
        last = self._last_policy  # one tuple, swapped atomically: safe across sessions' threads
        if last[0] is policy:  # the same frozen object as last time: skip hashing its fields
            return last[1]
        cached = self._policy_cache.get(policy)
        if cached is None:
            if len(self._policy_cache) >= _MAX_POLICY_CACHE:
                self._policy_cache.clear()
            cached = self._policy_cache[policy] = R.effective_thresholds(self._global, policy)
        self._last_policy = (policy, cached)
        return cached

    # --- producer side (the agent's loop) ----------------------------------------------------

    def _session(self, key: SessionKey) -> SessionState:
        sess = self._sessions.get(key)
        if sess is None:
            with self._lock:
                sess = self._sessions.get(key)
                if sess is None:
                    sess = self._sessions[key] = SessionState(key)
        return sess

    def observe(self, event: AgentEvent, ctx: Context) -> None:
        """Queue ``event`` for the watcher thread. Never blocks; a full queue or a closed
        watcher drops the event and the session pauses (``watcher.stalled``) until acknowledged."""
        key = (ctx.bot or "", ctx.session)
        now = self._clock()
        real = now if self._clock_is_real else time.monotonic()
        with self._lock:
            sess = self._sessions.get(key)
            if sess is None:
                sess = self._sessions[key] = SessionState(key)
            sess.last_ctx = ctx
            if self._closing or len(self._queue) >= self._capacity:
                sess.dropped += 1
                self._dropped += 1
                return
            self._seq += 1
            sess.last_seq = self._seq
            self._queue.append((sess, self._seq, now, real, event))
        # Wake an idle thread only for a batch, or when it was last woken a while ago: a wake-up
        # per event costs the agent's thread more (the woken thread takes the GIL) than applying
        # the event itself, which the next decide/current does anyway when the thread sleeps.
        if self._idle and (len(self._queue) >= _WAKE_BATCH or real - self._last_wake >= _WAKE_INTERVAL):
            self._last_wake = real
            self._wake.set()

    # --- consumer side (the watcher thread) --------------------------------------------------

    def _run(self) -> None:
        queue = self._queue
        try:
            while True:
                if not queue:
                    if self._closing:
                        return
                    self._idle = True
                    if not queue and not self._closing:
                        self._wake.wait(0.25)
                        self._wake.clear()
                    self._idle = False
                    continue
                with self._proc_lock:
                    self._process(512, math.inf, on_thread=True)
        except BaseException as exc:  # the thread is dying: say why, wake every waiter
            self._thread_error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            with self._cond:
                self._cond.notify_all()

    def _process(self, limit: int, until: float, *, on_thread: bool) -> None:
        """Apply up to ``limit`` queued events (stopping once ``until`` is processed).

        Caller holds ``_proc_lock``, so events are applied one at a time in queue order whether
        the watcher thread or a waiting ``decide`` (helping an idle thread) applies them.
        """
        popleft = self._queue.popleft
        handlers = self._handlers
        hook = self.stall_hook if on_thread else None
        for _ in range(limit):
            if self._processed >= until:
                return
            try:
                sess, seq, now, _real, event = popleft()
            except IndexError:
                return
            try:
                if hook is not None:
                    hook(event)
                turn = event.turn
                if turn > sess.event_turn:
                    sess.event_turn = turn
                    sess.tokens_turn = 0.0
                sess.events += 1
                handler = handlers.get(event.kind)
                if handler is not None:
                    handler(sess, now, event)
            except Exception as exc:  # noqa: BLE001 - a failing rule pauses its session
                self._rule_errors += 1
                self._last_error = f"{type(exc).__name__}: {exc}"
                sess.crashed = self._last_error
                log.warning("watcher rule failed for session %r: %r", sess.key, exc)
            self._processed = seq
            self._progress_real = time.monotonic()
            if seq >= self._notify_at:
                with self._cond:
                    self._notify_at = math.inf
                    self._cond.notify_all()

    def _on_usage(self, sess: SessionState, now: float, event: AgentEvent) -> None:
        data = event.data
        if "input_tokens" in data or "output_tokens" in data:
            tokens = R.amount(data.get("input_tokens")) + R.amount(data.get("output_tokens"))
        else:
            tokens = R.amount(data.get("total_tokens"))
        sess.tokens_turn += tokens
        sess.tokens_session += tokens
        sess.cost += R.amount(data.get("cost"))

    def _on_tool_end(self, sess: SessionState, now: float, event: AgentEvent) -> None:
        data = event.data
        tool = event.tool or ""
        if data.get("ok") is True:
            sess.errors_tool.pop(tool, None)
            sess.errors_total = 0
        else:
            sess.errors_tool[tool] = sess.errors_tool.get(tool, 0) + 1
            sess.errors_total += 1
        if R.flag(data.get("secret_path")):
            sess.taint = Taint(now, sess.calls_total, tool, "secret_path")
        elif R.flag(data.get("untrusted")) or not R.UNTRUSTED_CAPABILITIES.isdisjoint(event.capabilities):
            sess.taint = Taint(now, sess.calls_total, tool, "untrusted")

    def _on_error(self, sess: SessionState, now: float, event: AgentEvent) -> None:
        if event.tool:
            sess.errors_tool[event.tool] = sess.errors_tool.get(event.tool, 0) + 1
        sess.errors_total += 1

    def _on_approval(self, sess: SessionState, now: float, event: AgentEvent) -> None:
        """The owner answered a watcher pause: reset the counters of the acknowledged rules."""
        data = event.data
        if data.get("approved") is not True:
            return
        named = data.get("rules", ())
        rules = {r for r in (named if isinstance(named, (tuple, list, frozenset)) else ()) if isinstance(r, str)}
        for rule in rules & _ACKABLE:
            if rule == R.RATE:
                sess.rate_floor = now
            elif rule == R.TOKENS_TURN:
                sess.tokens_turn = 0.0
            elif rule == R.TOKENS_SESSION:
                sess.tokens_session = 0.0
            elif rule == R.COST:
                sess.cost = 0.0
            elif rule == R.ERRORS_TOOL:
                sess.errors_tool = {}
            elif rule == R.ERRORS_TOTAL:
                sess.errors_total = 0
            elif rule == R.LOOP:
                sess.loop_generation += 1
            elif rule == R.STALLED:
                sess.dropped_acked = sess.dropped
            elif rule == R.CRASHED:
                sess.crashed = None

    # --- waiting for the queue ---------------------------------------------------------------

    def _await(self, target: int) -> str:
        """``ok`` once every event up to ``target`` is processed; else stalled/crashed/closed."""
        if self._closed:
            return "closed"
        if self._processed >= target:
            return "ok" if self._thread.is_alive() else "crashed"
        if not self._thread.is_alive():
            return "crashed"
        # Help an idle watcher thread instead of paying two thread wake-ups; when the thread is
        # busy (or stuck inside an event) the lock is held and we wait for it with the deadline.
        if self._proc_lock.acquire(blocking=False):
            try:
                self._process(1 << 30, target, on_thread=False)
            finally:
                self._proc_lock.release()
            if self._processed >= target:
                return "ok"
        deadline = time.monotonic() + self._decide_timeout
        with self._cond:
            while True:
                if target < self._notify_at:
                    self._notify_at = target
                if self._processed >= target:
                    return "ok"
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    break
                self._cond.wait(remaining)
        if not self._thread.is_alive():
            return "crashed"
        self._stalls += 1
        return "stalled"

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every event observed so far is processed (tests, benchmarks, shutdown)."""
        deadline = time.monotonic() + timeout
        target = self._seq
        with self._cond:
            while self._processed < target:
                if target < self._notify_at:
                    self._notify_at = target
                if self._processed >= target:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(remaining)
        return True

    # --- evaluation ---------------------------------------------------------------------------

    def _status_finding(self, status: str, sess: SessionState) -> Finding:
        """The pause for a status other than ``ok`` (stalled, crashed or closed)."""
        if status == "crashed":
            return Finding(R.CRASHED, R.PAUSE, "the watcher thread is not running; the session waits for its owner",
                           R.CRASHED, {"error": self._thread_error or "watcher thread not running"})
        cause = "closed" if status == "closed" else "deadline"
        return Finding(R.STALLED, R.PAUSE,
                       f"the watcher has not caught up with this session's events ({cause}); the session waits for its owner",
                       R.STALLED, {"cause": cause, "pending_events": max(0, sess.last_seq - self._processed),
                                   "deadline_s": self._decide_timeout})

    def _findings(self, sess: SessionState, th: Thresholds, turn: int, now: float, call: ToolCall | None,
                  digest: str | None) -> list[Finding]:
        out: list[Finding] = []
        if sess.terminated is not None and turn <= sess.terminated[0]:
            out.append(sess.terminated[1])
        if sess.crashed is not None:
            out.append(Finding(R.CRASHED, R.PAUSE, "a watcher rule failed for this session; it waits for its owner",
                               R.CRASHED, {"error": sess.crashed}))
        if sess.dropped > sess.dropped_acked:
            out.append(Finding(R.STALLED, R.PAUSE, "watcher events of this session were lost (queue full); it waits for its owner",
                               R.STALLED, {"cause": "queue_full", "dropped_events": sess.dropped - sess.dropped_acked}))
        tokens_turn = sess.tokens_turn if sess.event_turn >= turn else 0.0
        if tokens_turn > th.max_tokens_per_turn:
            out.append(Finding(R.TOKENS_TURN, R.PAUSE, f"this turn used {_num(tokens_turn)} model tokens, over the "
                               f"per-turn budget of {_num(th.max_tokens_per_turn)}", R.TOKENS_TURN,
                               {"tokens": _num(tokens_turn), "limit": _num(th.max_tokens_per_turn)}))
        if sess.tokens_session > th.max_tokens_per_session:
            out.append(Finding(R.TOKENS_SESSION, R.PAUSE, f"this session used {_num(sess.tokens_session)} model tokens, "
                               f"over the budget of {_num(th.max_tokens_per_session)}", R.TOKENS_SESSION,
                               {"tokens": _num(sess.tokens_session), "limit": _num(th.max_tokens_per_session)}))
        if sess.cost > th.max_cost_per_session:
            out.append(Finding(R.COST, R.PAUSE, f"this session cost {_num(sess.cost)}, over the budget of "
                               f"{_num(th.max_cost_per_session)}", R.COST,
                               {"cost": _num(sess.cost), "limit": _num(th.max_cost_per_session)}))
        if sess.errors_total >= th.max_consecutive_errors_total:
            out.append(Finding(R.ERRORS_TOTAL, R.PAUSE, f"{sess.errors_total} tool failures in a row", R.ERRORS_TOTAL,
                               {"consecutive_failures": sess.errors_total, "limit": _num(th.max_consecutive_errors_total)}))
        times = sess.rate_times
        horizon = max(now - R.RATE_WINDOW_SECONDS, sess.rate_floor)
        while times and times[0] <= horizon:
            times.popleft()
        if len(times) >= th.max_tool_calls_per_minute:
            out.append(Finding(R.RATE, R.PAUSE, f"{len(times)} tool calls in the last minute reach the limit of "
                               f"{_num(th.max_tool_calls_per_minute)}", R.RATE,
                               {"calls_in_window": len(times), "limit": _num(th.max_tool_calls_per_minute),
                                "window_s": R.RATE_WINDOW_SECONDS}))
        if call is None or digest is None:
            return out
        failures = sess.errors_tool.get(call.name, 0)
        if failures >= th.max_consecutive_errors:
            out.append(Finding(R.ERRORS_TOOL, R.FORCE_APPROVAL, f"{call.name!r} failed {failures} times in a row; "
                               "this call needs approval", f"{R.ERRORS_TOOL}:{call.name}",
                               {"tool": call.name, "consecutive_failures": failures, "limit": _num(th.max_consecutive_errors)}))
        repeats = sess.loop_counts.get((call.name, digest), 0) + 1
        if repeats > th.max_identical_calls:
            out.append(Finding(R.LOOP, R.PAUSE, f"the same {call.name!r} call was requested {repeats} times this turn",
                               f"{R.LOOP}:{call.name}:{digest}",
                               {"tool": call.name, "args_digest": digest, "repeats": repeats,
                                "limit": _num(th.max_identical_calls)}))
        taint = sess.taint
        exfil = call.capabilities & R.EXFIL_CAPABILITIES
        if exfil and taint is not None:
            nth_call = sess.calls_total - taint.calls_at + 1
            age = now - taint.ts
            if nth_call <= th.sequence_window_calls or age <= th.sequence_window_seconds:
                out.append(Finding(
                    R.SEQUENCE, R.TERMINATE,
                    f"{call.name!r} can move data out ({', '.join(sorted(exfil))}) and comes {nth_call} call(s) / "
                    f"{age:.1f}s after {taint.tool!r} read {'a secret-bearing path' if taint.kind == 'secret_path' else 'untrusted content'}; "
                    "the turn is terminated", f"{R.SEQUENCE}:{turn}",
                    {"tool": call.name, "capabilities": sorted(exfil), "after_tool": taint.tool, "taint": taint.kind,
                     "calls_since": nth_call, "seconds_since": round(age, 3),
                     "window_calls": _num(th.sequence_window_calls), "window_s": _num(th.sequence_window_seconds)}))
        return out

    @staticmethod
    def _reduce(findings: list[Finding]) -> Decision:
        if not findings:
            return _ALLOW
        best = max(findings, key=lambda f: (f.verdict, -R.RULE_PRIORITY.get(f.rule, 99)))
        evidence: dict[str, Any] = {"action": best.action, **best.evidence}
        others = sorted({f.rule for f in findings} - {best.rule})
        if others:
            evidence["also"] = others
        return Decision(best.verdict, Stage.WATCHER_POLICY, best.rule, best.reason, source=_SOURCE, evidence=evidence)

    def _transitions(self, sess: SessionState, findings: list[Finding], call_keys: frozenset[str]) -> list[Finding]:
        """Findings that just became active (to audit); forget conditions that cleared."""
        firing = {f.key for f in findings}
        fresh = [f for f in findings if f.key not in sess.active]
        sess.active.difference_update(
            {k for k in sess.active if k not in firing and (k in _SESSION_WIDE or k in call_keys)}
        )
        sess.active.update(f.key for f in fresh)
        return fresh

    def _audit(self, sess: SessionState, ctx: Context | None, turn: int, fresh: list[Finding], tool: str | None) -> None:
        if self._emit is None:
            return
        for f in fresh:
            data: dict[str, Any] = {"action": f.action, "reason": f.reason, "bot": sess.key[0] or None,
                                    **f.evidence}
            if tool is not None:
                data.setdefault("tool", tool)
            event = AuditEvent(
                category="audit.watcher", code=f.rule,
                severity="critical" if f.action == R.TERMINATE else "warning",
                personality=ctx.personality.id if ctx is not None else None,
                session=sess.key[1], turn=turn, stage=Stage.WATCHER_POLICY.value, rule=f.rule,
                verdict=str(f.verdict), source=_SOURCE, data=data,
            )
            try:
                self._emit(event)
            except Exception as exc:  # noqa: BLE001 - the decision is already non-allow
                self._audit_errors += 1
                self._last_error = f"audit: {type(exc).__name__}: {exc}"
                with sess.lock:
                    sess.active.discard(f.key)  # retry the audit on the next check
                log.warning("watcher could not audit %s: %r", f.rule, exc)

    # --- the stage ⑪ API ---------------------------------------------------------------------

    def decide(self, call: ToolCall, ctx: Context) -> Decision:
        """Stage ⑪: the watcher's decision for ``call`` after every earlier event of the session.

        ALLOW, APPROVE (pause / force approval) or DENY (terminate: the turn ends, and every later
        call of the same turn is denied as well). The call is counted (rate, loops, sequence
        windows) whatever the verdict.
        """
        key = (ctx.bot or "", ctx.session)  # session_key(ctx), inlined on the per-call path
        sess = self._sessions.get(key) or self._session(key)
        try:
            sess.last_ctx = ctx
            status = self._await(sess.last_seq)
            th = self.thresholds(ctx)
            digest = R.args_digest(call.args)
            turn = ctx.turn
            with sess.lock:
                now = self._clock()
                if turn > sess.call_turn:
                    sess.call_turn = turn
                    sess.loop_counts.clear()
                if sess.loop_generation_seen != sess.loop_generation:
                    sess.loop_generation_seen = sess.loop_generation
                    sess.loop_counts.clear()
                findings = self._findings(sess, th, turn, now, call, digest)
                if status != "ok":
                    findings.append(self._status_finding(status, sess))
                decision = self._reduce(findings) if findings else _ALLOW
                if decision.verdict is Verdict.DENY and (sess.terminated is None or sess.terminated[0] < turn):
                    best = next(f for f in findings if f.rule == decision.rule and f.verdict is Verdict.DENY)
                    sess.terminated = (turn, best)
                sess.calls_total += 1
                sess.rate_times.append(now)
                loop_key = (call.name, digest)
                sess.loop_counts[loop_key] = sess.loop_counts.get(loop_key, 0) + 1
                # Nothing firing and nothing active: no transition (the common case, so skip the keys).
                fresh = self._transitions(
                    sess, findings, frozenset({f"{R.ERRORS_TOOL}:{call.name}", f"{R.LOOP}:{call.name}:{digest}"})
                ) if findings or sess.active else []
        except Exception as exc:  # noqa: BLE001 - fail closed: pause, and say so in health
            return self._crashed_decision(sess, ctx, exc, call.name)
        if fresh:
            self._audit(sess, ctx, turn, fresh, call.name)
        return decision

    def current(self, session: str, *, bot: str | None = None) -> Decision:
        """The session's standing decision at a step boundary (no call): budgets, errors,
        a terminate of this turn, stall and crash. ALLOW for a session never seen."""
        key = (bot or "", session)
        sess = self._sessions.get(key)
        if sess is None:
            if self._thread.is_alive() and not self._closed:
                return _ALLOW
            sess = self._session(key)
        ctx = sess.last_ctx
        try:
            status = self._await(sess.last_seq)
            th = self.thresholds(ctx) if ctx is not None else self._global
            with sess.lock:
                turn = max(sess.call_turn, sess.event_turn)
                findings = self._findings(sess, th, turn, self._clock(), None, None)
                if status != "ok":
                    findings.append(self._status_finding(status, sess))
                decision = self._reduce(findings)
                fresh = self._transitions(sess, findings, frozenset())
        except Exception as exc:  # noqa: BLE001
            return self._crashed_decision(sess, ctx, exc, None)
        self._audit(sess, ctx, turn, fresh, None)
        return decision

    def _crashed_decision(self, sess: SessionState, ctx: Context | None, exc: Exception, tool: str | None) -> Decision:
        self._rule_errors += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        log.warning("watcher evaluation failed for session %r: %r", sess.key, exc)
        finding = Finding(R.CRASHED, R.PAUSE, "the watcher failed while evaluating this call; the session waits for its owner",
                          R.CRASHED, {"error": self._last_error})
        fresh: list[Finding] = []
        with sess.lock:
            if R.CRASHED not in sess.active:
                sess.active.add(R.CRASHED)
                fresh = [finding]
        turn = ctx.turn if ctx is not None else 0
        self._audit(sess, ctx, turn, fresh, tool)
        return self._reduce([finding])

    # --- lifecycle and health ----------------------------------------------------------------

    def forget(self, session: str, *, bot: str | None = None) -> None:
        """Drop a finished session's state (the engine calls this when the session ends for good)."""
        with self._lock:
            self._sessions.pop((bot or "", session), None)

    def health(self) -> dict[str, Any]:
        """``ok`` and ``status``: ok | degraded (a session crashed or lost events) | stalled | crashed | closed."""
        alive = self._thread.is_alive()
        depth = len(self._queue)
        now_real = time.monotonic()
        oldest = 0.0
        if depth:
            try:
                head_real = self._queue[0][3]
            except IndexError:
                head_real = now_real
            oldest = max(0.0, now_real - max(head_real, self._progress_real))
        sessions = list(self._sessions.values())
        crashed_sessions = sum(1 for s in sessions if s.crashed is not None)
        lossy_sessions = sum(1 for s in sessions if s.dropped > s.dropped_acked)
        if self._closed:
            status, reason = "closed", "the watcher is closed"
        elif not alive:
            status, reason = "crashed", f"watcher thread is not running ({self._thread_error or 'not started'})"
        elif depth and oldest > self._decide_timeout:
            status, reason = "stalled", f"watcher thread made no progress for {oldest:.2f}s with {depth} events queued"
        elif crashed_sessions or lossy_sessions:
            status, reason = "degraded", (f"{crashed_sessions} session(s) paused by a failing rule, "
                                          f"{lossy_sessions} by lost events")
        else:
            status, reason = "ok", None
        return {
            "ok": status == "ok",
            "status": status,
            "reason": reason,
            "thread_alive": alive,
            "queue_depth": depth,
            "queue_capacity": self._capacity,
            "oldest_pending_s": round(oldest, 6),
            "events_observed": self._seq,
            "events_processed": self._processed,
            "events_dropped": self._dropped,
            "sessions": len(sessions),
            "crashed_sessions": crashed_sessions,
            "lossy_sessions": lossy_sessions,
            "stalled_decisions": self._stalls,
            "rule_errors": self._rule_errors,
            "audit_errors": self._audit_errors,
            "last_error": self._last_error,
            "thresholds": attrs.asdict(self._global),
        }

    def close(self, timeout: float = 2.0) -> None:
        """Process what is queued, then stop the thread. Later decisions pause (``watcher.stalled``)."""
        if self._closed:
            return
        self._closing = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._closed = True


def _num(value: float) -> float | int | str:
    """JSON-friendly number for reasons and evidence (integers stay integers; inf is a string)."""
    if not math.isfinite(value):
        return "inf"
    return int(value) if float(value).is_integer() else round(value, 6)
