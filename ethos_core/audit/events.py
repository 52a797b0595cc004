"""The audit categories and the shapes of the events this package owns.

Invariant: :data:`CATEGORIES` is exactly DESIGN.md §7; the factories below are the one place
where ``system.startup``, ``audit.tool_call`` and ``audit.redacted`` events get their shape.
``shape_tool_call_data`` applies ``safety.observability``: ``none`` keeps no arguments, bodies
or errors (events only); ``redacted`` keeps arguments and bodies cut to
:data:`REDACTED_MODE_MAX_CHARS` characters per string; ``full`` keeps them whole. In every mode
the store still redacts every string before disk — ``full`` never means raw secrets.
``redaction_summary_event`` carries labels and counts only, never a value.

Does not cover: deciding *when* to emit (the engine does) or redacting (the store does).
"""

from __future__ import annotations

import os
import platform
import socket
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ethos_core.types import AuditEvent, ObservabilityMode, RedactionSpan, thaw

CATEGORIES: frozenset[str] = frozenset(
    {
        "audit.tool_call",
        "audit.approval",
        "audit.block",
        "audit.watcher",
        "audit.injection_flag",
        "audit.redacted",
        "channel.allow",
        "channel.deny",
        "channel.pairing",
        "install.scan",
        "system.startup",
    }
)

REDACTED_MODE_MAX_CHARS = 2048
TRUNCATION_MARK = "…[TRUNCATED:{n} chars]"
OUTCOMES = frozenset({"ok", "error", "denied", "timeout"})


def _mode(mode: ObservabilityMode | str) -> ObservabilityMode:
    return mode if isinstance(mode, ObservabilityMode) else ObservabilityMode(str(mode))


def _cut(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        if len(value) > limit:
            return value[:limit] + TRUNCATION_MARK.format(n=len(value) - limit)
        return value
    if isinstance(value, Mapping):
        return {str(k): _cut(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cut(v, limit) for v in value]
    return value


def shape_tool_call_data(
    mode: ObservabilityMode | str,
    tool: str,
    args: Mapping[str, Any] | None,
    outcome: str,
    duration_ms: float | None,
    *,
    result: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The ``data`` of an ``audit.tool_call`` event under observability ``mode``."""
    m = _mode(mode)
    data: dict[str, Any] = {"tool": tool, "outcome": outcome}
    if duration_ms is not None:
        data["duration_ms"] = round(float(duration_ms), 3)
    if m is ObservabilityMode.NONE:
        data["arg_names"] = len(args or {})  # how many, never which or what
        return data
    plain_args = thaw(args or {})
    if m is ObservabilityMode.REDACTED:
        data["args"] = _cut(plain_args, REDACTED_MODE_MAX_CHARS)
        if result is not None:
            data["result"] = _cut(result, REDACTED_MODE_MAX_CHARS)
        if error is not None:
            data["error"] = _cut(error, REDACTED_MODE_MAX_CHARS)
    else:
        data["args"] = plain_args
        if result is not None:
            data["result"] = result
        if error is not None:
            data["error"] = error
    return data


def tool_call_event(
    mode: ObservabilityMode | str,
    tool: str,
    args: Mapping[str, Any] | None,
    outcome: str,
    duration_ms: float | None,
    *,
    personality: str | None = None,
    session: str | None = None,
    turn: int | None = None,
    call_id: str = "",
    result: str | None = None,
    error: str | None = None,
) -> AuditEvent:
    """An ``audit.tool_call`` event (code ``tool_call.<outcome>``)."""
    data = shape_tool_call_data(mode, tool, args, outcome, duration_ms, result=result, error=error)
    if call_id:
        data["call_id"] = call_id
    severity = "info" if outcome == "ok" else "warning"
    return AuditEvent(
        category="audit.tool_call",
        code=f"tool_call.{outcome}",
        severity=severity,
        personality=personality,
        session=session,
        turn=turn,
        stage="audit",
        verdict=None,
        source="ethos.builtin.audit",
        data=data,
    )


def redaction_counts(spans: Iterable[RedactionSpan] | Mapping[str, int]) -> dict[str, int]:
    """Label → count from spans or an existing mapping (labels only, never text)."""
    if isinstance(spans, Mapping):
        return {str(k): int(v) for k, v in spans.items() if int(v) > 0}
    return dict(Counter(span.label for span in spans))


def redaction_summary_event(
    spans: Iterable[RedactionSpan] | Mapping[str, int],
    *,
    where: str,
    personality: str | None = None,
    session: str | None = None,
    turn: int | None = None,
    tool: str | None = None,
) -> AuditEvent | None:
    """An ``audit.redacted`` event saying how many values of which labels were hidden, or None.

    ``where`` names the surface (``tool_result``, ``tool_error``, ``outbound``, ``log``…).
    """
    counts = redaction_counts(spans)
    if not counts:
        return None
    data: dict[str, Any] = {"where": where, "counts": dict(sorted(counts.items())), "total": sum(counts.values())}
    if tool:
        data["tool"] = tool
    return AuditEvent(
        category="audit.redacted",
        code="redacted",
        severity="info",
        personality=personality,
        session=session,
        turn=turn,
        stage="redact",
        source="ethos.builtin.redact",
        data=data,
    )


def startup_event(
    *,
    version: str,
    personalities: Iterable[str] = (),
    plugins: Iterable[str] = (),
    bots: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """A ``system.startup`` event: what started, with which plugins, for which personalities/bots."""
    data: dict[str, Any] = {
        "version": version,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "personalities": sorted(personalities),
        "plugins": sorted(plugins),
        "bots": sorted(bots),
    }
    if extra:
        data.update(thaw(extra))
    return AuditEvent(category="system.startup", code="startup", severity="info", source="ethos.engine", data=data)
