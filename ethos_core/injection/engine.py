"""Provenance judgments (stages ④ and ⑭) and content preparation for the model's context.

Invariants:
- Content is untrusted unless its producer marked it trusted (the owner's own text); a tool
  result is untrusted unless ``ToolResult.trusted`` is set. Nothing in the text can change that.
- ``injectionDefense`` only chooses what a tier-1 (or tier-2) hit does: ``strict`` quarantines,
  ``balanced`` flags, ``off`` skips classification. Wrapping, sanitising and the tool downgrade
  do not depend on it (they key on ``untrusted``), so ``off`` cannot remove them.
- Tier-2 can only add a flag, never clear a tier-1 hit (narrow-only).
- :func:`prepare` always sanitises; quarantined content is replaced by a notice with metadata
  only; other untrusted content is wrapped in nonce markers.
- Audit events carry signal ids, sizes and a short redacted excerpt, never the content.

Not covered: deciding *which* spans of a mixed message are trusted (the channel stages pass
them separately); classification quality (see :mod:`ethos_core.injection.classifier`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ethos_core.injection.classifier import classify
from ethos_core.injection.markers import quarantine_notice, sanitize_label, wrap
from ethos_core.injection.sanitize import sanitize_with_probe
from ethos_core.types import AuditEvent, Context, InjectionDefense, ProvenanceVerdict

TIER2_SIZE_THRESHOLD = 32_768  # balanced: content this large goes to tier-2 even without a hit
EXCERPT_CHARS = 60


@attrs.frozen
class Prepared:
    """Text ready for the model plus what sanitising removed (for the engine to audit)."""

    text: str
    counts: Mapping[str, int]
    quarantined: bool
    wrapped: bool


def _mode(ctx: Context) -> InjectionDefense:
    mode = ctx.personality.safety.injection_defense
    return mode if isinstance(mode, InjectionDefense) else InjectionDefense(str(mode))


def _excerpt(text: str) -> str:
    """A short, single-line excerpt for audit rows (the audit pipeline redacts it again)."""
    flat = " ".join(text[:200].split())
    return flat[:EXCERPT_CHARS] + ("…" if len(flat) > EXCERPT_CHARS else "")


def injection_flag_event(
    ctx: Context, *, source: str, signals: tuple[str, ...], chars: int, code: str, quarantined: bool,
    excerpt: str = "", extra: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """The ``audit.injection_flag`` event for a flagged span (no content beyond an excerpt)."""
    data: dict[str, Any] = {
        "source": sanitize_label(source),
        "signals": list(signals),
        "chars": chars,
        "quarantined": quarantined,
        "mode": _mode(ctx).value,
    }
    if excerpt:
        data["excerpt"] = excerpt
    data.update(extra or {})
    return AuditEvent(
        category="audit.injection_flag",
        code=code,
        severity="warning" if signals else "info",
        personality=ctx.personality.id,
        session=ctx.session,
        turn=ctx.turn,
        stage="wrap_untrusted" if code.startswith("wrap_untrusted") else "provenance",
        rule=signals[0] if signals else None,
        verdict="quarantine" if quarantined else ("flag" if signals else "clean"),
        source="ethos.builtin",
        data=data,
    )


def judge(
    text: str,
    *,
    trusted: bool,
    source: str,
    ctx: Context,
    emit: Callable[[AuditEvent], None] | None = None,
    tier2: Any = None,
    code: str = "provenance.flag",
) -> ProvenanceVerdict:
    """The built-in verdict for one span of text entering the model's context."""
    if trusted:
        return ProvenanceVerdict(untrusted=False)
    mode = _mode(ctx)
    if mode is InjectionDefense.OFF:
        return ProvenanceVerdict(untrusted=True)
    result = classify(text)
    signals = list(result.signals)
    flagged = result.flagged
    if tier2 is not None and (flagged or len(text) >= TIER2_SIZE_THRESHOLD):
        t2 = tier2.classify(text, source=source, ctx=ctx, strict=mode is InjectionDefense.STRICT)
        if t2.flagged:
            flagged = True
            for sig in t2.signals:
                if sig not in signals:
                    signals.append(sig)
    quarantine = flagged and mode is InjectionDefense.STRICT
    verdict = ProvenanceVerdict(untrusted=True, flagged=flagged, quarantine=quarantine, signals=tuple(signals))
    if flagged and emit is not None:
        first = result.matches[0].excerpt if result.matches else ""
        emit(
            injection_flag_event(
                ctx, source=source, signals=verdict.signals, chars=len(text), code=code,
                quarantined=quarantine, excerpt=_excerpt(first),
            )
        )
    return verdict


def prepare(text: str, source: str, verdict: ProvenanceVerdict, nonce: str) -> Prepared:
    """Sanitise, then quarantine (notice + metadata) or wrap (untrusted) or pass (trusted)."""
    clean, counts, probe = sanitize_with_probe(text)
    if verdict.quarantine:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        notice = quarantine_notice(source, nonce, chars=len(text), digest=digest, signals=verdict.signals)
        return Prepared(notice, counts, quarantined=True, wrapped=False)
    if verdict.untrusted:
        return Prepared(wrap(clean, source, nonce, probe=probe), counts, quarantined=False, wrapped=True)
    return Prepared(clean, counts, quarantined=False, wrapped=False)


def prepare_for_model(text: str, source: str, verdict: ProvenanceVerdict, nonce: str) -> str:
    """What the engine puts into the model's context for ``text`` (see :func:`prepare`)."""
    return prepare(text, source, verdict, nonce).text
