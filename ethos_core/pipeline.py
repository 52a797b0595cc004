"""The typed pipeline facade: one method per stage, each running every implementation itself.

Why not ``pm.hook.ethos_x()``: pluggy's call order depends on registration order and options,
and one exception aborts the whole call. Here every implementation is called individually, so:
- registration order never changes a result (reductions are order-independent);
- an exception or a wrongly typed return counts as the strictest answer *from that plugin*
  (fail closed) and is stamped with its name;
- the deciding plugin's name is stamped on the decision as ``source``;
- the stage's built-in must be present and intact (:class:`EngineIntegrityError` otherwise).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import attrs

from ethos_core.errors import AuditWriteError, EngineIntegrityError
from ethos_core.manager import EthosPluginManager, StageImpl
from ethos_core.stages import Stage
from ethos_core.types import (
    AgentEvent,
    ApprovalRequest,
    AuditEvent,
    ChannelPolicy,
    Content,
    Context,
    ContextVisibility,
    Decision,
    InboundMessage,
    PathAccess,
    ProvenanceVerdict,
    RedactionSpan,
    ToolCall,
    ToolResult,
    UrlAccess,
)
from ethos_core.verdicts import intersect_allowed

log = logging.getLogger("ethos.pipeline")

class ImplResult(NamedTuple):
    """What one implementation returned (or raised)."""

    plugin: str
    builtin: bool
    value: Any = None
    error: BaseException | None = None


def _merge_spans(spans: Iterable[RedactionSpan]) -> list[RedactionSpan]:
    """Union of spans: overlapping or touching spans merge; the earliest label wins."""
    ordered = sorted(spans, key=lambda s: (s.start, -s.end))
    merged: list[RedactionSpan] = []
    for span in ordered:
        if span.end <= span.start:
            continue
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            if span.end > last.end:
                merged[-1] = RedactionSpan(last.start, span.end, last.label)
            continue
        merged.append(span)
    return merged


def apply_spans(text: str, spans: Sequence[RedactionSpan]) -> str:
    """Replace each (merged, sorted) span of ``text`` by ``[REDACTED:<label>]``."""
    if not spans:
        return text
    parts = []
    pos = 0
    for span in spans:
        parts.append(text[pos : span.start])
        parts.append(f"[REDACTED:{span.label}]")
        pos = span.end
    parts.append(text[pos:])
    return "".join(parts)


class Pipeline:
    """Runs stages against a sealed :class:`EthosPluginManager`."""

    def __init__(self, pm: EthosPluginManager):
        self.pm = pm
        self.plugin_failures: list[tuple[str, str, str]] = []  # (stage, plugin, error)
        self._stamp_cache: dict[tuple[int, str], tuple[Decision, Decision]] = {}

    # --- generic machinery -----------------------------------------------------------------

    def _run(self, stage: Stage, kwargs: dict[str, Any]) -> list[ImplResult]:
        results = []
        for impl in self.pm.stage_calls(stage):
            try:
                value = self._call(impl, kwargs)
            except Exception as exc:  # noqa: BLE001 - fail closed per plugin
                self._note_failure(stage, impl.plugin, exc)
                results.append(ImplResult(impl.plugin, impl.builtin, error=exc))
                continue
            results.append(ImplResult(impl.plugin, impl.builtin, value=value))
        return results

    def _run_for_effect(self, stage: Stage, kwargs: dict[str, Any]) -> BaseException | None:
        """Call every implementation of ``stage`` (failures are recorded); the built-in's
        exception when it raised, else None."""
        builtin_error: BaseException | None = None
        for impl in self.pm.stage_calls(stage):
            try:
                self._call(impl, kwargs)
            except Exception as exc:  # noqa: BLE001 - one failing plugin never stops the others
                self._note_failure(stage, impl.plugin, exc)
                if impl.builtin:
                    builtin_error = exc
        return builtin_error

    @staticmethod
    def _call(impl: StageImpl, kwargs: dict[str, Any]) -> Any:
        """Call ``impl`` with the arguments it names. pluggy allows an implementation a subset
        of the spec's arguments; when it names as many as were given it names all of them."""
        if len(impl.argnames) == len(kwargs):
            return impl.function(**kwargs)
        return impl.function(*[kwargs[arg] for arg in impl.argnames])

    def _note_failure(self, stage: Stage, plugin: str, exc: BaseException) -> None:
        log.warning("plugin %s failed in %s: %r", plugin, stage.value, exc)
        self.plugin_failures.append((stage.value, plugin, type(exc).__name__))

    def decide(self, stage: Stage, **kwargs: Any) -> Decision:
        """Run a decision stage and reduce strictest-wins; ties prefer the built-in, then name.

        Same semantics as ``_run`` followed by ``_as_decision`` per result and a sort, fused into
        one loop (this runs six times per tool call). With the built-in alone on the stage (the
        usual case) its decision is the answer: nothing to reduce.
        """
        calls = self.pm.stage_calls(stage)
        if len(calls) == 1:
            only = calls[0]
            decision = self._decision_of(stage, only, kwargs)
            if not only.builtin or decision is None:  # stage_calls guarantees it; belt and braces
                raise EngineIntegrityError(f"stage {stage.value}: built-in did not run")
            return decision
        best: Decision | None = None
        best_key: tuple[int, int, str] | None = None
        saw_builtin = False
        for impl in calls:
            saw_builtin = saw_builtin or impl.builtin
            decision = self._decision_of(stage, impl, kwargs)
            if decision is None:
                continue
            key = (-decision.verdict, 0 if impl.builtin else 1, impl.plugin)
            if best_key is None or key < best_key:
                best, best_key = decision, key
        if not saw_builtin or best is None:  # stage_calls guarantees it; belt and braces
            raise EngineIntegrityError(f"stage {stage.value}: built-in did not run")
        return best

    def _decision_of(self, stage: Stage, impl: StageImpl, kwargs: dict[str, Any]) -> Decision | None:
        """``impl``'s stamped decision; a raise or a wrong type is its strictest answer."""
        function, argnames, name, builtin = impl
        try:
            if len(argnames) == len(kwargs):  # _call, inlined: this runs six times per tool call
                value = function(**kwargs)
            else:
                value = function(*[kwargs[arg] for arg in argnames])
        except Exception as exc:  # noqa: BLE001 - fail closed per plugin
            self._note_failure(stage, name, exc)
            return self._as_decision(stage, ImplResult(name, builtin, error=exc))
        if type(value) is Decision:
            return self._stamped(value, stage, name)
        return self._as_decision(stage, ImplResult(name, builtin, value=value))

    def _stamped(self, value: Decision, stage: Stage, name: str) -> Decision:
        """``value`` with ``stage`` and ``source`` set. Engines return shared constant decisions
        for their common answers; the stamped copy of such an object is kept (keyed by its id,
        checked by identity: the cache holds the object, so the id cannot be reused)."""
        if value.stage is stage and value.source == name:
            return value
        key = (id(value), name)
        hit = self._stamp_cache.get(key)
        if hit is not None and hit[0] is value and hit[1].stage is stage:
            return hit[1]
        stamped = attrs.evolve(value, stage=stage, source=name)
        if len(self._stamp_cache) >= 512:
            self._stamp_cache.clear()
        self._stamp_cache[key] = (value, stamped)
        return stamped

    def _as_decision(self, stage: Stage, res: ImplResult) -> Decision | None:
        if res.error is not None:
            rule = "builtin.error" if res.builtin else "plugin.error"
            return Decision.deny(
                stage, rule, f"{res.plugin} raised {type(res.error).__name__}; failing closed", source=res.plugin
            )
        value = res.value
        if value is None:
            if res.builtin:
                return Decision.deny(stage, "builtin.no_decision", "built-in returned no decision", source=res.plugin)
            return None
        if not isinstance(value, Decision):
            return Decision.deny(
                stage,
                "plugin.bad_return",
                f"{res.plugin} returned {type(value).__name__}, not a Decision; failing closed",
                source=res.plugin,
            )
        return self._stamped(value, stage, res.plugin)

    # --- ①–③ channel -----------------------------------------------------------------------

    def channel_admit(self, message: InboundMessage, policy: ChannelPolicy, ctx: Context) -> Decision:
        return self.decide(Stage.CHANNEL_ADMIT, message=message, policy=policy, ctx=ctx)

    def mention_gate(self, message: InboundMessage, policy: ChannelPolicy, ctx: Context) -> Decision:
        return self.decide(Stage.MENTION_GATE, message=message, policy=policy, ctx=ctx)

    def context_visibility(self, message: InboundMessage, policy: ChannelPolicy, ctx: Context) -> ContextVisibility:
        """Strictest mode over the built-in and plugins; a failing plugin forces ``allowlist``."""
        modes = []
        for res in self._run(Stage.CONTEXT_VISIBILITY, {"message": message, "policy": policy, "ctx": ctx}):
            if res.error is not None or (res.value is not None and not isinstance(res.value, ContextVisibility)):
                modes.append(ContextVisibility.ALLOWLIST)
            elif res.value is not None:
                modes.append(res.value)
            elif res.builtin:
                modes.append(ContextVisibility.ALLOWLIST)
        return max(modes, key=lambda m: m.strictness)

    # --- ④ provenance, ⑭ wrapping ------------------------------------------------------------

    def _or_provenance(self, results: list[ImplResult]) -> ProvenanceVerdict:
        untrusted = flagged = quarantine = False
        signals: list[str] = []
        for res in results:
            value = res.value
            if res.error is not None or (value is not None and not isinstance(value, ProvenanceVerdict)):
                value = ProvenanceVerdict(
                    untrusted=True, flagged=True, quarantine=True, signals=(f"plugin.error:{res.plugin}",)
                )
            if value is None:
                if res.builtin:
                    value = ProvenanceVerdict(untrusted=True)
                else:
                    continue
            untrusted = untrusted or value.untrusted
            flagged = flagged or value.flagged
            quarantine = quarantine or value.quarantine
            signals.extend(s for s in value.signals if s not in signals)
        return ProvenanceVerdict(untrusted=untrusted, flagged=flagged, quarantine=quarantine, signals=tuple(signals))

    def provenance(self, content: Content, ctx: Context) -> ProvenanceVerdict:
        return self._or_provenance(self._run(Stage.PROVENANCE, {"content": content, "ctx": ctx}))

    def wrap_untrusted(self, result: ToolResult, ctx: Context) -> ProvenanceVerdict:
        return self._or_provenance(self._run(Stage.WRAP_UNTRUSTED, {"result": result, "ctx": ctx}))

    # --- ⑤ watch -----------------------------------------------------------------------------

    def watch(self, event: AgentEvent, ctx: Context) -> None:
        self._run_for_effect(Stage.WATCH, {"event": event, "ctx": ctx})

    # --- ⑥ toolset ---------------------------------------------------------------------------

    def filter_toolset(self, tools: frozenset[str], ctx: Context) -> frozenset[str]:
        """Intersection over the built-in and plugins; a failing plugin removes every tool.

        Every implementation runs (each failure is recorded) before the answer is reduced.
        """
        offered = frozenset(tools)
        kwargs = {"tools": offered, "ctx": ctx}
        narrowings: list[frozenset[str]] = []
        failed = False
        for impl in self.pm.stage_calls(Stage.FILTER_TOOLSET):
            try:
                value = self._call(impl, kwargs)
            except Exception as exc:  # noqa: BLE001 - fail closed per plugin
                self._note_failure(Stage.FILTER_TOOLSET, impl.plugin, exc)
                failed = True
                continue
            if value is None:
                failed = failed or impl.builtin
            elif not isinstance(value, (set, frozenset)) or not all(isinstance(v, str) for v in value):
                failed = True
            else:
                narrowings.append(frozenset(value))
        return frozenset() if failed else intersect_allowed(offered, narrowings)

    # --- ⑦–⑫ tool-call decisions -------------------------------------------------------------

    def hardline(self, call: ToolCall, ctx: Context) -> Decision:
        return self.decide(Stage.HARDLINE, call=call, ctx=ctx)

    def classify_risk(self, call: ToolCall, ctx: Context) -> Decision:
        return self.decide(Stage.CLASSIFY_RISK, call=call, ctx=ctx)

    def fs_boundary(self, access: PathAccess, ctx: Context) -> Decision:
        return self.decide(Stage.FS_BOUNDARY, access=access, ctx=ctx)

    def network_reach(self, access: UrlAccess, ctx: Context) -> Decision:
        return self.decide(Stage.NETWORK_REACH, access=access, ctx=ctx)

    def watcher_policy(self, call: ToolCall, ctx: Context) -> Decision:
        return self.decide(Stage.WATCHER_POLICY, call=call, ctx=ctx)

    def approval(self, request: ApprovalRequest, ctx: Context) -> Decision:
        return self.decide(Stage.APPROVAL, request=request, ctx=ctx)

    # --- ⑬ redaction -------------------------------------------------------------------------

    def redaction_spans(self, text: str, ctx: Context) -> list[RedactionSpan]:
        """Union of every implementation's spans; a failing one redacts the whole text."""
        spans: list[RedactionSpan] = []
        for res in self._run(Stage.REDACT, {"text": text, "ctx": ctx}):
            if res.error is not None:
                return [RedactionSpan(0, len(text), "redaction_error")] if text else []
            if res.value is None:
                continue
            try:
                items = list(res.value)
            except TypeError:
                return [RedactionSpan(0, len(text), "redaction_error")] if text else []
            for span in items:
                if not isinstance(span, RedactionSpan):
                    return [RedactionSpan(0, len(text), "redaction_error")] if text else []
                start = max(0, min(span.start, len(text)))
                end = max(start, min(span.end, len(text)))
                spans.append(RedactionSpan(start, end, span.label))
        return _merge_spans(spans)

    def redact(self, text: str, ctx: Context) -> str:
        return apply_spans(text, self.redaction_spans(text, ctx))

    # --- ⑮ audit -----------------------------------------------------------------------------

    def audit(self, event: AuditEvent) -> None:
        """Hand ``event`` (already redacted) to every sink. The built-in failing raises (after
        every sink had the event)."""
        error = self._run_for_effect(Stage.AUDIT, {"event": event})
        if error is not None:
            raise AuditWriteError(f"audit store write failed: {error}") from error

    # --- lifecycle hooks ---------------------------------------------------------------------

    def collect(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a list-returning lifecycle hook; returns (plugin, item) pairs. Errors propagate."""
        out: list[tuple[str, Any]] = []
        for impl in self.pm.hook_impls(hook_name):
            value: Any = impl.function(*[kwargs[name] for name in impl.argnames])
            for item in value or ():
                out.append((impl.plugin_name, item))
        return out

    def call_each(self, hook_name: str, on_error: Callable[[str, BaseException], None] | None = None, **kwargs: Any) -> None:
        for impl in self.pm.hook_impls(hook_name):
            try:
                impl.function(*[kwargs[name] for name in impl.argnames])
            except Exception as exc:
                if on_error is None:
                    raise
                on_error(impl.plugin_name, exc)


__all__ = ["ImplResult", "Pipeline", "apply_spans"]
