"""Watcher rules: ids, actions, thresholds and the canonical forms the rules compare.

Invariant: the effective threshold of every rule is never looser than the global one. Limits
(calls, tokens, cost, errors, identical calls) take the minimum of the global value and the
personality's; sequence windows (calls and seconds after a tainting read) take the maximum,
because a longer window is the stricter one. A malformed threshold (NaN, infinite, a bool, a
string) counts as the strictest value, never as "no limit".

Not covered here: what the state is or how events reach it (see :mod:`.service`).
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ethos_core.config.model import WatcherConfig
from ethos_core.types import Capability, WatcherPolicy

# --- rule ids and actions ------------------------------------------------------------------

RATE = "watcher.rate"
TOKENS_TURN = "watcher.tokens_turn"
TOKENS_SESSION = "watcher.tokens_session"
COST = "watcher.cost"
ERRORS_TOOL = "watcher.errors_tool"
ERRORS_TOTAL = "watcher.errors_total"
LOOP = "watcher.loop"
SEQUENCE = "watcher.sequence"
STALLED = "watcher.stalled"
CRASHED = "watcher.crashed"
OK = "watcher.ok"

PAUSE = "pause"  # APPROVE: the session waits for its owner
FORCE_APPROVAL = "force_approval"  # APPROVE: this call needs a human's yes
TERMINATE = "terminate"  # DENY: the turn ends, remaining calls of the batch included

RULES: Mapping[str, tuple[str, str]] = {
    RATE: (PAUSE, "more tool calls in the last minute than the rate limit allows"),
    TOKENS_TURN: (PAUSE, "model tokens used in this turn exceed the per-turn budget"),
    TOKENS_SESSION: (PAUSE, "model tokens used in this session exceed the per-session budget"),
    COST: (PAUSE, "model cost of this session exceeds the cost budget"),
    ERRORS_TOOL: (FORCE_APPROVAL, "this tool failed too many times in a row"),
    ERRORS_TOTAL: (PAUSE, "too many consecutive failures across all tools"),
    LOOP: (PAUSE, "the same call (tool and arguments) repeated too often in this turn"),
    SEQUENCE: (TERMINATE, "an exfiltration-capable tool right after reading untrusted content or a secret"),
    STALLED: (PAUSE, "the watcher has not seen every earlier event (stalled, overflowed or closed)"),
    CRASHED: (PAUSE, "the watcher failed while evaluating this session"),
}
"""Rule id → (action, what it means). The same ids appear in decisions, audit rows and docs."""

# Order used to pick the reported rule among findings of equal verdict (most specific first).
RULE_PRIORITY: Mapping[str, int] = {rule: i for i, rule in enumerate(
    (SEQUENCE, CRASHED, STALLED, ERRORS_TOTAL, ERRORS_TOOL, LOOP, RATE, TOKENS_TURN, TOKENS_SESSION, COST)
)}

# Capability tags that make a call an exfiltration channel / a tool output untrusted.
EXFIL_CAPABILITIES: frozenset[str] = frozenset({Capability.EXFIL})
UNTRUSTED_CAPABILITIES: frozenset[str] = frozenset({Capability.UNTRUSTED_OUTPUT})

RATE_WINDOW_SECONDS = 60.0

# --- thresholds ----------------------------------------------------------------------------


@attrs.frozen
class Thresholds:
    """Effective thresholds for one personality (global floor applied)."""

    max_tool_calls_per_minute: float = 30
    max_tokens_per_turn: float = 200_000
    max_tokens_per_session: float = 2_000_000
    max_cost_per_session: float = 20.0
    max_consecutive_errors: float = 5
    max_consecutive_errors_total: float = 8
    max_identical_calls: float = 4
    sequence_window_calls: float = 5
    sequence_window_seconds: float = 120.0


DEFAULTS = Thresholds()
WINDOW_FIELDS: frozenset[str] = frozenset({"sequence_window_calls", "sequence_window_seconds"})
THRESHOLD_FIELDS: tuple[str, ...] = tuple(f.name for f in attrs.fields(Thresholds))


def _sane(value: Any, window: bool) -> float | None:
    """A usable number, ``None`` for "not set", or the strictest value for junk."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return math.inf if window else 0.0
    return max(float(value), 0.0)


def global_thresholds(config: WatcherConfig | None) -> Thresholds:
    """Built-in defaults overridden by ``config.yaml: watcher`` (the operator may loosen them)."""
    if config is None:
        return DEFAULTS
    values: dict[str, float] = {}
    for name in THRESHOLD_FIELDS:
        value = _sane(getattr(config, name, None), name in WINDOW_FIELDS)
        values[name] = getattr(DEFAULTS, name) if value is None else value
    return Thresholds(**values)


def effective_thresholds(base: Thresholds, policy: WatcherPolicy | WatcherConfig | None) -> Thresholds:
    """``base`` tightened by a personality's ``safety.watcher``; it can never loosen ``base``."""
    if policy is None:
        return base
    values: dict[str, float] = {}
    for name in THRESHOLD_FIELDS:
        window = name in WINDOW_FIELDS
        floor = getattr(base, name)
        value = _sane(getattr(policy, name, None), window)
        if value is None:
            values[name] = floor
        else:
            values[name] = max(floor, value) if window else min(floor, value)
    return Thresholds(**values)


# --- values read from events ---------------------------------------------------------------


def amount(value: Any) -> float:
    """A token count or cost from event data. Missing → 0; malformed or negative → infinite.

    Malformed usage must exhaust a budget, not slip past it: NaN compares false with every
    threshold and a negative number would refund spent budget.
    """
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.inf
    if not math.isfinite(value) or value < 0:
        return math.inf
    return float(value)


def flag(value: Any) -> bool:
    """A restricting flag (``untrusted``, ``secret_path``): anything but None/False/0/"" is set."""
    return not (value is None or value is False or value == 0 or value == "")


# --- canonical call identity (loop detection) ----------------------------------------------

_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Cs", "Co", "Cn"})


def _canonical_text(text: str) -> str:
    """NFKC, hidden/control characters removed, whitespace runs collapsed: near-identical is identical."""
    if text.isascii() and text.isprintable():  # fast path: nothing to fold or strip
        return " ".join(text.split())
    folded = unicodedata.normalize("NFKC", text)
    kept = "".join(" " if ch.isspace() else ch for ch in folded if ch.isspace() or
                   unicodedata.category(ch) not in _INVISIBLE_CATEGORIES)
    return " ".join(kept.split())


def canonical(value: Any) -> Any:
    """JSON-able canonical form of tool arguments for comparing calls (not for executing them)."""
    if isinstance(value, str):
        return _canonical_text(value)
    if isinstance(value, (dict, MappingProxyType)) or isinstance(value, Mapping):
        return {_canonical_text(k if type(k) is str else str(k)): canonical(v) for k, v in value.items()}
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        return repr(value)
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, (frozenset, set)):
        return sorted((canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str))
    if isinstance(value, bytes):
        return value.hex()
    return _canonical_text(repr(value))


# What json.dumps(..., sort_keys=True, ensure_ascii=False, separators=(",", ":")) builds on every
# call, built once; and the string encoder it uses.
_DIGEST_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_JSON_STR = json.encoder.encode_basestring


def args_digest(args: Mapping[str, Any]) -> str:
    """Stable digest of a call's canonical arguments (key order, Unicode form, spacing ignored)."""
    text = _flat_json(args)
    if text is None:
        text = _DIGEST_ENCODER.encode(canonical(args))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _flat_json(args: Mapping[str, Any]) -> str | None:
    """The digest text of arguments that are all strings (most calls), built directly: the same
    text ``_DIGEST_ENCODER.encode(canonical(args))`` gives; None for any other shape."""
    canon: dict[str, str] = {}
    for key, value in args.items():
        if type(key) is not str or type(value) is not str:
            return None
        canon[_canonical_text(key)] = _canonical_text(value)
    members = []
    for key in sorted(canon):  # a loop, not a comprehension: no extra function per call
        members.append(_JSON_STR(key) + ":" + _JSON_STR(canon[key]))
    return "{" + ",".join(members) + "}"
