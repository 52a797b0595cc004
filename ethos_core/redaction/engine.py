"""The redaction engine behind stage ⑬: find credential spans, replace them by ``[REDACTED:<label>]``.

Invariant: :func:`find_spans` returns sorted, non-overlapping spans covering every match of the
pattern set (``patterns.py``), every credential inside a URL, every known secret value in any
form ``known.py`` lists, and the same again after one layer of decoding (base64, hex,
``%XX``/``\\uXXXX``/``\\xXX``/HTML-entity escapes) and after removing invisible Unicode
characters (zero-width, bidi controls, soft hyphen, tag characters) from the text. Redacting is
idempotent (``[REDACTED:…]`` markers are never matched again) and text outside a span is never
changed. Runtime is linear in the input.

Matching engine, chosen by measurement (bench/redaction.py; 2-core development machine). One
Intel Hyperscan scan (``hyperscan_index.py``; the ``hyperscan`` package, ~1-2 ns per character
here) finds every candidate place at once: each anchor occurrence (the literals every match of a
detector contains, cased or case-insensitive; the base64/hex anchors of the decoding layer), the
starts a keyword detector allows (``Detector.starts``), the gate occurrences of the discord
detector, the ``://`` of every ``scheme://user:pw@``, and flags for escapes, ``[REDACTED:``
markers and invisible characters. Nothing there decides a span: each flag or position pattern
is a superset of where its Python regex can match (:func:`_flag_pattern` refuses Unicode-
dependent syntax), and detectors then run their exact ``re`` regexes only where their anchors
are: keyword detectors ``match`` at each keyword occurrence, literal-first ones ``lead``
characters before theirs, a ``gate``-d one only around its gate's occurrences, and a detector
whose ``requires`` characters are absent not at all. A text with no hit costs the one scan.
Strings of up to 48 ASCII characters first take :func:`_quiet` (one pyahocorasick automaton
scan, cheaper than a Hyperscan call's fixed cost there).

Without the ``hyperscan`` package, or with ``ETHOS_REDACTION_ENGINE=python`` (:data:`ENGINE`),
the anchors come from a pyahocorasick automaton over the ASCII-lower-cased text or, on text of
1 KB or more with few pivot characters (ordinary prose), from one ``re`` scan per rare pivot
character (:func:`_find_anchors`); every flag counts as set, and :func:`_quiet` answers for
short ASCII text up to 256 characters. Escapes are found by one literal-first regex per
introducer (``%``, ``\\``, ``&#``). Stdlib ``re`` with literal-first patterns,
possessive/bounded repetitions behind run-start lookbehinds (Python 3.11) keeps every detector
linear; google-re2 (no lookaround) was measured and not taken for the detectors.
``tests/redaction/test_fast_paths.py`` checks that both engines and all these shortcuts give
exactly the spans of a plain reference (every detector's ``finditer`` over the whole text).

Not covered: secrets with no known shape, no keyword next to them and no known value; more
than one layer of encoding; encryption, compression, base32 and other encodings; text a
consumer would reassemble from many short fragments (see ``known.py``); homoglyph look-alikes
(a full-width ``ｓｋ－ａｎｔ`` key is not a working key but is not redacted either).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import functools
import html
import importlib
import operator
import re
import types
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ethos_core.redaction.hyperscan_index import HyperscanIndex, Scan, hyperscan_module
from ethos_core.redaction.known import Candidate, ascii_lower, matcher_for
from ethos_core.redaction.patterns import (
    DB_SCHEMES,
    DETECTORS,
    LABELS,
    URL_SCHEME_BEFORE,
    URL_USERINFO,
    AnchorIndex,
    Detector,
    LiteralSet,
)
from ethos_core.types import RedactionSpan

EMPTY: Mapping[str, str] = types.MappingProxyType({})

#: A marker this engine wrote; never matched again (idempotence).
MARKER_RE = re.compile(r"\[REDACTED:([A-Za-z0-9_.:/\-]{1,96})\]")
_ENGINE_LABELS = LABELS | {"redaction_error"}


@functools.lru_cache(maxsize=1024)
def _is_engine_marker(label: str) -> bool:
    """A marker this engine (or the pipeline) writes: a documented label or ``secret:<ref>``.

    Anything else in marker syntax is text like any other, so ``[REDACTED:<a token>]`` typed by
    someone does not shield the token; a ``secret:<ref>`` whose ref looks like a credential
    itself is not trusted either.
    """
    if label in _ENGINE_LABELS:
        return True
    if label.startswith("secret:") and len(label) <= 71:
        ref = label[7:]
        return not _candidates(ref, EMPTY, decode=False)
    return False
#: Pieces of a span left after cutting out existing markers are kept only from this length on.
_MIN_PIECE = 4

# Characters that render as nothing (or reorder text) and can be slipped inside a secret.
INVISIBLE_RE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e0fff]"
)

# --- decoding layer ------------------------------------------------------------------------

# Literal starts of credentials worth finding inside base64/hex blobs.
_DECODE_PREFIXES = (
    "sk-ant-",
    "sk-proj-",
    "AKIA",
    "ASIA",
    "ghp_",
    "gho_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "AIza",
    "-----BEGIN",
    "hooks.slack.com",
    "sk_live_",
    "npm_",
    "pypi-",
    "password",
    "PASSWORD",
    "secret",
    "SECRET",
    "token",
    "TOKEN",
    "Bearer ",
)
_B64_RUN = re.compile(r"[A-Za-z0-9+/\-_\r\n]*")
_HEX_RUN = re.compile(r"[0-9a-f]*")
_SPACES = (" ", "\n", "\t", "\r")
_NONSPACE_FWD = re.compile(r"[^\s]{0,4096}")


def _b64_anchor_set() -> tuple[str, ...]:
    anchors: set[str] = set()
    for prefix in _DECODE_PREFIXES:
        raw = prefix.encode("ascii")
        for k in range(3):
            encoded = base64.b64encode(b"\0" * k + raw + b"\0\0").decode("ascii")
            core = encoded[-(-8 * k // 6) : (8 * (k + len(raw))) // 6]
            if len(core) >= 4:
                anchors.add(core)
                anchors.add(core.replace("+", "-").replace("/", "_"))
    return tuple(sorted(anchors))


_B64_ANCHORS = _b64_anchor_set()
_HEX_ANCHORS = tuple(sorted({binascii.hexlify(p.encode("ascii")).decode("ascii") for p in _DECODE_PREFIXES}))
# The escapes the escape layer decodes, one literal-first regex per introducer: ``re`` scans for a
# literal prefix at memchr-like speed but tries a three-way alternation at every character
# (~15x slower). Escapes of different families cannot overlap (none holds another's introducer),
# so the three scans merged by position are exactly the matches of the alternation.
_ESCAPE_RES = (
    ("%", re.compile(r"%[0-9A-Fa-f]{2}")),
    ("\\", re.compile(r"\\(?:u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|[/\\\"])")),
    ("&#", re.compile(r"&#(?:x[0-9A-Fa-f]{1,6}|[0-9]{1,7});")),
)
_MAX_DECODE_RUN = 1 << 20


# --- public API ----------------------------------------------------------------------------


def find_spans(text: str, known_values: Mapping[str, str] = EMPTY) -> list[RedactionSpan]:
    """Sorted, non-overlapping spans of ``text`` to replace by ``[REDACTED:<label>]``.

    ``known_values`` maps a secret ref to its resolved value (``runtime.secret_values``): each
    value of 8+ characters is found in every form ``known.py`` lists, labelled ``secret:<ref>``.
    """
    if not text:
        return []
    hs_index = _hs_index() if ENGINE == "hyperscan" else None
    if hs_index is not None:
        if len(text) <= _QUIET_MAX_HS and text.isascii() and _quiet(text, known_values):
            return []  # a key or a word: the automaton's fixed cost is below a Hyperscan call's
        scan = hs_index.find(text)
        candidates = _candidates(text, known_values, True, scan)
        flags = scan[3]
        if flags & _INVISIBLE_FLAG and not text.isascii() and INVISIBLE_RE.search(text) is not None:
            candidates.extend(_through_invisible(text, known_values))
        return _resolve(text, candidates, markers=bool(flags & _MARKER_FLAG))
    if len(text) <= _QUIET_MAX and text.isascii() and _quiet(text, known_values):
        return []
    candidates = _candidates(text, known_values, decode=True)
    if not text.isascii() and INVISIBLE_RE.search(text) is not None:
        candidates.extend(_through_invisible(text, known_values))
    return _resolve(text, candidates)


_JOIN = "\n\x00\n"
# Texts up to this length are first checked by _quiet (a long text nearly always holds an anchor
# hit somewhere, so there the check would only add a partial scan).
_QUIET_MAX = 256
# With Hyperscan (~1-2 µs per call, flat) the automaton (~0.5 µs + ~30 ns per character) is
# cheaper only on short strings: dict keys, tool names, single words.
_QUIET_MAX_HS = 48


def find_spans_many(texts: Sequence[str], known_values: Mapping[str, str] = EMPTY) -> list[list[RedactionSpan]]:
    """:func:`find_spans` for many short texts in one pass (the per-call overhead is paid once).

    The texts are joined by a separator no pattern crosses; a span is clipped to its own text.
    Use it for batches (audit rows, JSON leaves): results equal calling :func:`find_spans` on each.
    """
    if not texts:
        return []
    joined = _JOIN.join(texts)
    starts: list[int] = []
    pos = 0
    for t in texts:
        starts.append(pos)
        pos += len(t) + len(_JOIN)
    result: list[list[RedactionSpan]] = [[] for _ in texts]
    for span in find_spans(joined, known_values):
        k = bisect.bisect_right(starts, span.start) - 1
        while k < len(texts) and starts[k] < span.end:
            lo = max(span.start, starts[k]) - starts[k]
            hi = min(span.end, starts[k] + len(texts[k])) - starts[k]
            if hi > lo:
                result[k].append(RedactionSpan(lo, hi, span.label))
            k += 1
    return result


def redact_many(texts: Sequence[str], known_values: Mapping[str, str] = EMPTY) -> list[str]:
    """:func:`redact_text` for many texts in one pass."""
    return [apply_spans(t, spans) for t, spans in zip(texts, find_spans_many(texts, known_values), strict=True)]


def apply_spans(text: str, spans: Iterable[RedactionSpan]) -> str:
    """Replace each span (sorted, non-overlapping) of ``text`` by ``[REDACTED:<label>]``."""
    from ethos_core.pipeline import apply_spans as _apply

    return _apply(text, list(spans))


def redact_text(text: str, known_values: Mapping[str, str] = EMPTY) -> str:
    """``text`` with every credential replaced by ``[REDACTED:<label>]``; idempotent."""
    return apply_spans(text, find_spans(text, known_values))


def redact_with_counts(text: str, known_values: Mapping[str, str] = EMPTY) -> tuple[str, dict[str, int]]:
    """Redacted text and ``{label: count}`` for an ``audit.redacted`` event."""
    spans = find_spans(text, known_values)
    return apply_spans(text, spans), count_labels(spans)


def count_labels(spans: Iterable[RedactionSpan]) -> dict[str, int]:
    """``{label: number of spans}``: the payload of ``audit.redacted`` (never the values)."""
    counts: dict[str, int] = {}
    for span in spans:
        counts[span.label] = counts.get(span.label, 0) + 1
    return counts


def merge_counts(*counts: Mapping[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for c in counts:
        for label, n in c.items():
            total[label] = total.get(label, 0) + n
    return total


# --- JSON ----------------------------------------------------------------------------------

# A key (after camelCase → snake_case) that names a secret: its scalar value is redacted whole.
_SECRET_KEY_RE = re.compile(
    r"(?:^|[_.\-])(?:password|passwd|passphrase|pwd|secret|secret_?key|client_?secret|token|access_?token|"
    r"refresh_?token|id_?token|auth_?token|bearer|api_?key|apikey|private_?key|access_?key|signing_?key|"
    r"credentials?|authorization|cookie|set_?cookie|session_?id|sessionid|signature|dsn|connection_?string)$"
)
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_PLACEHOLDER_RE = re.compile(r"\A(?:\$\{secrets:[^}]{1,128}\}|\{\{secret:[^}]{1,128}\}\}|\[REDACTED:[^\]]{1,96}\])\Z")


def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (``password``, ``githubToken``, ``X-Api-Key`` …)."""
    normalised = _CAMEL_RE.sub("_", key).lower().replace("-", "_")
    return _SECRET_KEY_RE.search(normalised) is not None


def redact_json(obj: Any, known_values: Mapping[str, str] = EMPTY) -> Any:
    """A copy of JSON-like ``obj`` with every string redacted; keys kept; still JSON-serialisable.

    Scalars under a key that names a secret (``password``, ``api_key``, ``token`` …) are replaced
    whole by ``[REDACTED:secret_field]`` (or the pattern label when one covers the whole value);
    ``None`` and booleans are kept, as are ``${secrets:ref}`` / ``{{secret:NAME}}`` placeholders.
    """
    return _redact_json(obj, known_values, secret=False, depth=0)


def redact_json_with_counts(obj: Any, known_values: Mapping[str, str] = EMPTY) -> tuple[Any, dict[str, int]]:
    counts: dict[str, int] = {}
    return _redact_json(obj, known_values, secret=False, depth=0, counts=counts), counts


def _redact_json(obj: Any, known: Mapping[str, str], secret: bool, depth: int, counts: dict[str, int] | None = None) -> Any:
    if depth > 200:
        # Deeper than any legitimate payload: keep the structure's shape, drop its content.
        _bump(counts, "redaction_depth")
        return "[REDACTED:redaction_depth]"
    if isinstance(obj, Mapping):
        return {
            str(k): _redact_json(v, known, secret or is_secret_key(str(k)), depth + 1, counts) for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_redact_json(v, known, secret, depth + 1, counts) for v in obj]
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, (int, float)):
        if secret:
            _bump(counts, "secret_field")
            return "[REDACTED:secret_field]"
        return obj
    text = obj if isinstance(obj, str) else str(obj)
    spans = find_spans(text, known)
    if counts is not None:
        for label, n in count_labels(spans).items():
            counts[label] = counts.get(label, 0) + n
    redacted = apply_spans(text, spans)
    if secret and text and _PLACEHOLDER_RE.match(redacted) is None:
        _bump(counts, "secret_field")
        return "[REDACTED:secret_field]"
    return redacted


def _bump(counts: dict[str, int] | None, label: str) -> None:
    if counts is not None:
        counts[label] = counts.get(label, 0) + 1


# --- detection -------------------------------------------------------------------------------


def _candidates(text: str, known_values: Mapping[str, str], decode: bool, scan: Scan | None = None) -> list[Candidate]:
    """Every candidate span of ``text``; ``scan``: ``_hs_index().find(text)`` when already made."""
    marks: dict[str, list[int]] | None
    if scan is None and ENGINE == "hyperscan":
        hs_index = _hs_index()
        scan = hs_index.find(text) if hs_index is not None else None
    if scan is not None:
        cased_hits, lower_hits, marks, flags = scan
        if not (cased_hits or lower_hits or marks or flags & _CANDIDATE_FLAGS or known_values):
            return []  # no anchor, no gate, no escape, no URL userinfo: nothing can match
        lowered = ""  # made below only where needed (known values, hex runs): ~1 ns per character
    else:
        lowered = ascii_lower(text)
        cased_hits, lower_hits = _find_anchors(text, lowered)
        marks, flags = None, _ALL_FLAGS
    out: list[Candidate] = []
    merged: dict[tuple[bool, tuple[str, ...]], list[int]] = {}
    if cased_hits or lower_hits:
        triggered = set(_ALWAYS_CHECKED)
        for needle in cased_hits:
            triggered.update(_CASED_OWNERS.get(needle, ()))
        for needle in lower_hits:
            triggered.update(_LOWER_OWNERS.get(needle, ()))
        order: Iterable[int] = sorted(triggered)  # detector order: it breaks label ties in _resolve
    else:
        order = _ALWAYS_CHECKED_ORDER
    for index in order:
        detector, ignorecase, needles, single = _DETECTOR_PLAN[index]
        if detector.requires and not _has_any(text, detector.requires):
            continue
        hits = lower_hits if ignorecase else cased_hits
        found = [hits[a] for a in needles if a in hits]
        if detector.anchored:
            if found:
                if len(found) == 1:
                    positions = found[0]
                else:  # the secret_assignment detectors share their keywords: merge once
                    positions = merged.get((ignorecase, needles)) or merged.setdefault(
                        (ignorecase, needles), sorted({p for ps in found for p in ps})
                    )
                _run_anchored(detector, text, positions, out)
        elif detector.lead is not None:
            if found:
                _run_led(detector, detector.lead, text, found, out)
        elif found or not detector.anchors or (single and _has_any(ascii_lower(text) if ignorecase else text, single)):
            if detector.gate is not None:
                if marks is not None and index in _GATE_MARKS:
                    starts = marks.get(_GATE_MARKS[index])
                    if starts:
                        _run_gated(detector, detector.gate, text, out, starts)
                elif flags & _GATE_FLAGS.get(index, _ALL_FLAGS):
                    _run_gated(detector, detector.gate, text, out)
            else:
                for m in detector.regex.finditer(text):
                    _emit(detector, m, text, out)
    if marks is not None:
        if _URL_MARK in marks:
            _url_credentials(text, out, marks[_URL_MARK])
    elif "://" in text and "@" in text:  # URL credentials end with "@"
        _url_credentials(text, out)
    if known_values:
        matcher = matcher_for(known_values)
        if matcher is not None:
            out.extend(matcher.find(lowered or ascii_lower(text), fast=ENGINE == "hyperscan"))
    if decode:
        if cased_hits:
            out.extend(_base64_layer(text, known_values, _merged(cased_hits, _B64_ANCHOR_SET)))
        if lower_hits:
            hex_hits = _merged(lower_hits, _HEX_ANCHOR_SET)
            if hex_hits:
                out.extend(_hex_layer(lowered or ascii_lower(text), known_values, hex_hits))
        if flags & _ESCAPE_FLAGS:
            out.extend(_escape_layer(text, known_values))
    return out


def _quiet(text: str, known_values: Mapping[str, str]) -> bool:
    """Whether ASCII ``text`` provably yields no candidate.

    Every candidate comes from an anchor occurrence, an always-checked detector whose gate
    matches, a ``://`` with an ``@`` after it, an escape sequence the escape layer decodes, or a
    form or fragment of a known value (base64 and hex runs are decoded only around anchors;
    ASCII text holds no invisible character). One automaton scan (two with known values) and a
    few ``in`` tests decide it, so short ordinary strings skip everything else.
    """
    lowered = text.lower()
    for end, items in _ANCHORS.automaton.iter(lowered):
        for needle, back, is_cased in items:
            if not is_cased or text.startswith(needle, end - back):
                return False
    if ("://" in text and "@" in text) or "%" in text or "\\" in text or "&#" in text:
        return False
    for char, gate in _ALWAYS_GATES:
        if char in text and gate.search(text) is not None:
            return False
    if known_values:
        matcher = matcher_for(known_values)
        if matcher is not None:
            for _hit in matcher.automaton.iter(lowered):
                return False
    return True


def _has_any(text: str, chars: str) -> bool:
    """Whether ``text`` holds one of ``chars`` (``""``: no requirement, always true)."""
    if not chars:
        return True
    for char in chars:  # a loop, not any(<generator>): this runs on every call
        if char in text:
            return True
    return False


def _merged(hits: Mapping[str, list[int]], needles: frozenset[str]) -> list[int]:
    """Sorted positions of the hits on ``needles``."""
    positions = [p for needle, found in hits.items() if needle in needles for p in found]
    positions.sort()
    return positions


def _detector_plan() -> tuple[tuple[Detector, bool, tuple[str, ...], str], ...]:
    """Per detector: whether it ignores case, its anchors found by the needle sets, and the
    single characters among them (checked with ``in``, a memchr)."""
    plan = []
    for d in DETECTORS:
        single = tuple(a for a in d.anchors if len(a) == 1 and not d.anchored)
        plan.append((d, d.ignorecase, tuple(a for a in d.anchors if a not in single), "".join(single)))
    return tuple(plan)


_DETECTOR_PLAN = _detector_plan()
# Every anchor in one automaton: the exact-case anchors of the case-sensitive detectors and the
# base64 anchors (matched against the text), the lower-case anchors of the case-insensitive
# detectors and the hex anchors (matched against the ASCII-lower-cased text).
_CASED_ANCHORS = tuple([a for d, ignorecase, needles, _ in _DETECTOR_PLAN if not ignorecase for a in needles] + list(_B64_ANCHORS))
_LOWER_ANCHORS = tuple([a for d, ignorecase, needles, _ in _DETECTOR_PLAN if ignorecase for a in needles] + list(_HEX_ANCHORS))
_ANCHORS = AnchorIndex(_CASED_ANCHORS, _LOWER_ANCHORS)
_B64_ANCHOR_SET = frozenset(_B64_ANCHORS)
_HEX_ANCHOR_SET = frozenset(_HEX_ANCHORS)

# The same anchors as pivot passes (one ``re`` scan per rare pivot character, skipped when the
# pivot does not occur): cheaper than the automaton on long text that holds few of the pivot
# characters (ordinary prose), dearer on logs, JSON and code. The lower-case anchors are grouped
# by the characters their detectors require, so a group is not searched without them.
_CASED_NEEDLES = LiteralSet(
    [a for d, ignorecase, needles, _ in _DETECTOR_PLAN if not ignorecase for a in needles] + list(_B64_ANCHORS)
)
_LOWER_NEEDLES: tuple[tuple[str, LiteralSet], ...] = tuple(
    (req, LiteralSet(a for d, ignorecase, needles, _ in _DETECTOR_PLAN if ignorecase and d.requires == req for a in needles))
    for req in sorted({d.requires for d in DETECTORS if d.ignorecase})
)
_HEX_NEEDLES = LiteralSet(_HEX_ANCHORS)
# Measured on the development machine: the automaton costs about as much as 12-15 pivot passes.
_PASS_BUDGET = 12
_PASSES_FROM = 1024  # below this length the automaton is always used (no counting overhead)


def _find_anchors(text: str, lowered: str) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """``(cased hits, lower hits)``: anchor positions, from the pivot passes or the automaton.

    Both give every occurrence of every anchor the detectors can use (lower-case anchors of a
    group whose required characters are absent may be left out: their detectors are skipped).
    """
    if len(text) >= _PASSES_FROM:
        lower_sets = [ls for req, ls in _LOWER_NEEDLES if _has_any(text, req)]
        passes = _CASED_NEEDLES.passes(text) + _HEX_NEEDLES.passes(lowered)
        passes += sum(ls.passes(lowered) for ls in lower_sets)
        if passes <= _PASS_BUDGET:
            lower_hits = _HEX_NEEDLES.find(lowered)
            for ls in lower_sets:
                lower_hits.update(ls.find(lowered))
            return _CASED_NEEDLES.find(text), lower_hits
    return _ANCHORS.find(text, lowered)


def _owners(ignorecase: bool) -> dict[str, tuple[int, ...]]:
    """Anchor → indices of the detectors (of that case mode) it triggers."""
    owners: dict[str, list[int]] = {}
    for index, (_, ic, needles, _) in enumerate(_DETECTOR_PLAN):
        if ic == ignorecase:
            for needle in needles:
                owners.setdefault(needle, []).append(index)
    return {needle: tuple(indices) for needle, indices in owners.items()}


_CASED_OWNERS = _owners(ignorecase=False)
_LOWER_OWNERS = _owners(ignorecase=True)
# Detectors looked at on every call: no anchors, or a single-character anchor checked by ``in``.
_ALWAYS_CHECKED = frozenset(i for i, (_, _, needles, single) in enumerate(_DETECTOR_PLAN) if single or not needles)
_ALWAYS_CHECKED_ORDER = tuple(sorted(_ALWAYS_CHECKED))


def _always_gates() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """``(single-character anchor, gate)`` pairs of the always-checked detectors, for :func:`_quiet`.

    Such a detector only runs when one of its characters occurs and its gate matches; one
    without both would run on every text, and :func:`_quiet` could not skip it.
    """
    gates: list[tuple[str, re.Pattern[str]]] = []
    for index in _ALWAYS_CHECKED_ORDER:
        detector, _, _, single = _DETECTOR_PLAN[index]
        if not single or detector.gate is None or detector.anchored or detector.lead is not None:
            raise ValueError(f"always-checked detector {detector.label!r} needs single-character anchors and a gate")
        gates.extend((char, detector.gate[0]) for char in single)
    return tuple(gates)


_ALWAYS_GATES = _always_gates()


# --- the Hyperscan path ----------------------------------------------------------------------

#: ``"hyperscan"`` (one Hyperscan scan per text finds anchors and flags) or ``"python"`` (the
#: pyahocorasick automaton / pivot passes and :func:`_quiet`). Chosen at import: Hyperscan when
#: ``import hyperscan`` works and ``ETHOS_REDACTION_ENGINE`` is not ``python``. Tests set it.
ENGINE = "hyperscan" if hyperscan_module() is not None else "python"

# Python's ``\s``, ``\d``, ``\w``, ``\b`` are Unicode-aware on ``str`` and Hyperscan's are ASCII;
# inline flags could turn on IGNORECASE (Unicode case folding). A flag pattern with any of them
# could miss a match Python finds, so they are refused at import.
_UNSAFE_FLAG_SYNTAX = re.compile(r"\\[sSdDwWbBAZ]|\(\?[a-zA-Z]|[^\x00-\x7e]")
_TRAILING_LOOKAHEAD = re.compile(r"\A(?P<head>[^()]*)\(\?=(?P<body>[^()]*)\)\Z")


def _flag_pattern(regex: re.Pattern[str]) -> str:
    """A Hyperscan pattern that matches somewhere whenever ``regex`` does (byte per character).

    A trailing lookahead becomes plain (``x(?=y)`` occurs iff ``xy`` does); other lookarounds
    are left to ``HS_FLAG_PREFILTER``, which relaxes them into a superset.
    """
    if regex.flags & re.IGNORECASE or _UNSAFE_FLAG_SYNTAX.search(regex.pattern):
        raise ValueError(f"flag pattern {regex.pattern!r} needs Unicode semantics Hyperscan lacks")
    m = _TRAILING_LOOKAHEAD.match(regex.pattern)
    return m.group("head") + m.group("body") if m else regex.pattern


_URL_MARK = "url"


def _fixed_width(pattern: str) -> int | None:
    """The width of every match of ``pattern``, or ``None`` when it varies or cannot be told
    (``re._parser`` is private API: without it the position patterns become plain anchors/flags)."""
    try:
        parser: Any = importlib.import_module("re._parser")
        lo, hi = parser.parse(pattern).getwidth()
    except Exception:  # noqa: BLE001 - any failure only turns an optimisation off
        return None
    return int(lo) if lo == hi else None


def _hs_plan() -> tuple[list[tuple[str, int, str, int]], list[str], dict[int, str], dict[int, int], int, int, int]:
    """What the Hyperscan database holds besides the plain anchors.

    Position patterns: each detector's ``starts`` (reported under its anchor), each fixed-width
    gate and URL userinfo (reported as marks). Flags: gates of varying width, the escapes, an
    existing marker, an invisible character.
    """
    positions: list[tuple[str, int, str, int]] = []
    flags: list[str] = []
    gate_marks: dict[int, str] = {}
    gate_flags: dict[int, int] = {}
    owners: dict[str, int] = {}
    for _detector, _, needles, _ in _DETECTOR_PLAN:
        for needle in needles:
            owners[needle] = owners.get(needle, 0) + 1
    for index, (detector, ignorecase, needles, _) in enumerate(_DETECTOR_PLAN):
        if detector.starts is not None:
            if not detector.anchored or len(needles) != 1 or owners[needles[0]] != 1:
                raise ValueError(f"{detector.label}: starts needs a keyword detector with its own single anchor")
            _flag_pattern(re.compile(detector.starts))
            width = _fixed_width(detector.starts)
            if width is not None:  # else the anchor itself stays in the database
                positions.append((detector.starts, width, needles[0], int(ignorecase)))
        if detector.gate is not None:
            pattern = _flag_pattern(detector.gate[0])
            width = _fixed_width(pattern)
            if width is not None and _TRAILING_LOOKAHEAD.match(detector.gate[0].pattern):
                gate_marks[index] = f"gate:{index}"
                positions.append((pattern, width, gate_marks[index], 2))
            else:
                gate_flags[index] = 1 << len(flags)
                flags.append(pattern)
    escape_flags = 0
    for _, regex in _ESCAPE_RES:
        escape_flags |= 1 << len(flags)
        flags.append(_flag_pattern(regex))
    # URL_USERINFO: "://", then characters outside [\s/?#"'<>], then "@" and [A-Za-z0-9[]. Only
    # ASCII whitespace is left out here (Python's \s holds more), so this is a superset. No "/"
    # after "://": each end has one possible start, so the leftmost start is every start.
    positions.append((r"://[^\t\n\x0b\x0c\r /?#\"'<>]+@[A-Za-z0-9\[]", 0, _URL_MARK, 2))
    marker_flag = 1 << len(flags)
    flags.append(r"\[REDACTED:")
    # INVISIBLE_RE: U+00AD (byte \xad) and characters above U+00FF (all scanned as \x7f).
    invisible_flag = 1 << len(flags)
    flags.append(r"[\x7f\xad]")
    return positions, flags, gate_marks, gate_flags, escape_flags, marker_flag, invisible_flag


(
    _POSITION_PATTERNS,
    _FLAG_PATTERNS,
    _GATE_MARKS,
    _GATE_FLAGS,
    _ESCAPE_FLAGS,
    _MARKER_FLAG,
    _INVISIBLE_FLAG,
) = _hs_plan()
_ALL_FLAGS = (1 << len(_FLAG_PATTERNS)) - 1  # the Python path: every flag set (nothing skipped)
# Flags that can lead to a candidate (the marker and invisible flags cannot by themselves).
_CANDIDATE_FLAGS = _ALL_FLAGS & ~(_MARKER_FLAG | _INVISIBLE_FLAG)


#: Why the Hyperscan database could not be built (``None``: it was, or was not tried yet).
HYPERSCAN_ERROR: str | None = None


@functools.lru_cache(maxsize=1)
def _hs_index() -> HyperscanIndex | None:
    """The one Hyperscan database: every anchor, position and flag.

    Compiled on first use (~50 ms on the development machine), not at import: a CLI command
    that never redacts does not pay for it. Loading a precompiled database from disk was not
    taken: a writable cache file would let whoever can write it switch redaction off. ``None``
    when it cannot be built (e.g. a CPU Hyperscan does not support): the Python path is used.
    """
    global HYPERSCAN_ERROR
    replaced = {key for _, _, key, kind in _POSITION_PATTERNS if kind != 2}
    try:
        hs = hyperscan_module() or importlib.import_module("hyperscan")
        return HyperscanIndex(
            hs,
            [a for a in _CASED_ANCHORS if a not in replaced],
            [a for a in _LOWER_ANCHORS if a not in replaced],
            _POSITION_PATTERNS,
            _FLAG_PATTERNS,
        )
    except Exception as exc:  # noqa: BLE001 - no logging here: a log filter would redact, recursing
        HYPERSCAN_ERROR = f"{type(exc).__name__}: {exc}"
        return None


def _run_anchored(detector: Detector, text: str, positions: list[int], out: list[Candidate]) -> None:
    """``match`` at each anchor position (ascending), skipping those inside an earlier match."""
    match = detector.regex.match
    last_end = -1
    for pos in positions:
        if pos < last_end:
            continue
        m = match(text, pos)
        if m is not None and _emit(detector, m, text, out):
            last_end = m.end()


def _run_led(detector: Detector, lead: int, text: str, found: list[list[int]], out: list[Candidate]) -> None:
    """What ``finditer`` yields, found by ``match`` only where a match can start (``lead`` before an anchor)."""
    positions = found[0] if len(found) == 1 else sorted({p for ps in found for p in ps})
    last_end = lead
    for pos in positions:
        if pos < last_end:
            continue
        m = detector.regex.match(text, pos - lead)
        if m is not None:
            last_end = m.end() + lead
            _emit(detector, m, text, out)


def _run_gated(
    detector: Detector,
    gate: tuple[re.Pattern[str], int, int],
    text: str,
    out: list[Candidate],
    candidates: list[int] | None = None,
) -> None:
    """What ``finditer`` yields, found by ``match`` only at the starts a gate occurrence allows.

    ``candidates``: ascending positions holding every gate occurrence (each is confirmed with
    ``match``; the gate's characters after its first are in a lookahead, so its ``finditer``
    reports exactly the positions where it matches); ``None``: the gate's own ``finditer``.
    """
    regex, lo, hi = gate
    if candidates is None:
        occurrences: Iterable[int] = (g.start() for g in regex.finditer(text))
    else:
        occurrences = (q for q in candidates if regex.match(text, q) is not None)
    next_start = 0  # every start below this was tried, or lies inside an earlier match
    for g_start in occurrences:
        for start in range(max(next_start, g_start - hi), g_start - lo + 1):
            m = detector.regex.match(text, start)
            if m is not None:
                next_start = m.end()
                _emit(detector, m, text, out)
                break
        else:
            next_start = max(next_start, g_start - lo + 1)


def _emit(detector: Detector, m: re.Match[str], text: str, out: list[Candidate]) -> bool:
    start, end = m.span(detector.group)
    if end <= start:
        return False
    if detector.check is not None and not detector.check(text[start:end]):
        return False
    if detector.left is not None:
        chars, limit = detector.left
        floor = max(0, start - limit)
        while start > floor and text[start - 1] in chars:
            start -= 1
    out.append((start, end, detector.label, detector.priority))
    return True


def _url_credentials(text: str, out: list[Candidate], starts: list[int] | None = None) -> None:
    """Passwords of ``scheme://user:password@host`` at each ``://`` (``starts``: ascending
    positions holding every ``://`` where ``URL_USERINFO`` matches; no match holds a ``://``)."""
    if starts is not None:
        for i in dict.fromkeys(starts):
            m = URL_USERINFO.match(text, i)
            if m is not None:
                _url_password(text, i, m, out)
        return
    i = text.find("://")
    while i != -1:
        m = URL_USERINFO.match(text, i)
        if m is not None:
            _url_password(text, i, m, out)
            i = text.find("://", m.end())
        else:
            i = text.find("://", i + 3)


def _url_password(text: str, i: int, m: re.Match[str], out: list[Candidate]) -> None:
    pw_start, pw_end = m.span("pw")
    pw = m.group("pw")
    if not pw.startswith(("${", "{{", "[REDACTED:")) and pw != "*" * len(pw):
        scheme_m = URL_SCHEME_BEFORE.search(text, max(0, i - 31), i)
        scheme = scheme_m.group(0).lower() if scheme_m else ""
        label = "db_url_password" if scheme in DB_SCHEMES else "url_credentials"
        out.append((pw_start, pw_end, label, 2))


def _through_invisible(text: str, known_values: Mapping[str, str]) -> list[Candidate]:
    """Detect on ``text`` with invisible characters removed; map spans back to ``text``."""
    removed = [m.start() for m in INVISIBLE_RE.finditer(text)]
    stripped = INVISIBLE_RE.sub("", text)
    # keys[j]: index in ``stripped`` of the first kept character after the j-th removed one.
    keys = [pos - j for j, pos in enumerate(removed)]

    def to_original(s: int) -> int:
        return s + bisect.bisect_right(keys, s)

    mapped: list[Candidate] = []
    for start, end, label, prio in _candidates(stripped, known_values, decode=True):
        mapped.append((to_original(start), to_original(end - 1) + 1, label, prio))
    return mapped


def _expand(text: str, i: int, j: int, run_re: re.Pattern[str]) -> tuple[int, int]:
    """Grow ``[i, j)`` over the characters ``run_re`` (``[…]*``) accepts, at most _MAX_DECODE_RUN each way."""
    floor = max(0, i - _MAX_DECODE_RUN)
    # Backwards over doubling windows, so the copy is as long as the run, not _MAX_DECODE_RUN.
    start, width = i, 256
    while start > floor:
        lo = max(floor, start - width)
        back = run_re.match(text[lo:start][::-1])
        grown = back.end() if back else 0
        start -= grown
        if start > lo:
            break
        width *= 2
    fwd = run_re.match(text, j, min(len(text), j + _MAX_DECODE_RUN))
    end = fwd.end() if fwd else j
    return start, end


def _label_of(candidates: list[Candidate]) -> str | None:
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c[3], -c[0]))[2]


def _base64_layer(text: str, known_values: Mapping[str, str], hits: list[int]) -> Iterator[Candidate]:
    """Decode the base64 run around each anchor hit (``hits``: sorted positions in ``text``)."""
    done_until = -1
    for pos in hits:
        if pos < done_until:
            continue
        start, end = _expand(text, pos, pos + 5, _B64_RUN)
        while end < len(text) and end - start < _MAX_DECODE_RUN and text[end] == "=":
            end += 1
        done_until = end
        run = text[start:end].replace("\n", "").replace("\r", "")
        label = None
        for skip in range(4):
            decoded = _b64decode(run[skip:])
            if decoded:
                label = _label_of(_candidates(decoded, known_values, decode=False))
                if label:
                    break
        if label:
            yield (start, end, label, 4)


def _b64decode(run: str) -> str:
    body = run.rstrip("=").replace("-", "+").replace("_", "/")
    body = body[: len(body) - (len(body) % 4 == 1)]
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return ""
    return raw.decode("latin-1")


def _hex_layer(lowered: str, known_values: Mapping[str, str], hits: list[int]) -> Iterator[Candidate]:
    """Decode the hex run around each anchor hit (``hits``: sorted positions in ``lowered``)."""
    done_until = -1
    for pos in hits:
        if pos < done_until:
            continue
        start, end = _expand(lowered, pos, pos + 2, _HEX_RUN)
        done_until = end
        label = None
        for skip in (0, 1):
            chunk = lowered[start + skip : end]
            chunk = chunk[: len(chunk) - len(chunk) % 2]
            try:
                decoded = binascii.unhexlify(chunk).decode("latin-1")
            except (binascii.Error, ValueError):
                continue
            label = _label_of(_candidates(decoded, known_values, decode=False))
            if label:
                break
        if label:
            yield (start, end, label, 4)


def _escape_layer(text: str, known_values: Mapping[str, str]) -> list[Candidate]:
    """Decode ``%XX``, ``\\uXXXX``, ``\\xXX``, ``\\/`` and ``&#…;`` in the words holding them.

    Each escape is grown to its surrounding run of non-space characters (plus a little context
    to the left, for ``password = %41…``); the decoded windows are joined by a separator no
    pattern crosses and scanned once; spans are mapped back to the original text.
    """
    escapes = [m for intro, regex in _ESCAPE_RES if intro in text for m in regex.finditer(text)]
    if not escapes:
        return []
    escapes.sort(key=lambda m: m.start())
    parts: list[str] = []
    seg_dec: list[int] = []  # decoded start of each segment
    seg_info: list[tuple[int, int, bool]] = []  # (original start, original length, is_escape)
    dpos = 0
    window_end = -1
    opos = 0
    for m in escapes:
        if m.start() < window_end:
            # same window: copy the literal gap, then the escape
            if m.start() > opos:
                seg_dec.append(dpos)
                seg_info.append((opos, m.start() - opos, False))
                parts.append(text[opos : m.start()])
                dpos += m.start() - opos
        else:
            if window_end > opos:
                seg_dec.append(dpos)
                seg_info.append((opos, window_end - opos, False))
                parts.append(text[opos:window_end])
                dpos += window_end - opos
            if parts:
                parts.append(_WINDOW_SEPARATOR)
                dpos += len(_WINDOW_SEPARATOR)
            ws, _ = _expand_nonspace(text, m.start())
            ws = max(window_end, ws - _ESCAPE_CONTEXT, 0)
            if m.start() > ws:
                seg_dec.append(dpos)
                seg_info.append((ws, m.start() - ws, False))
                parts.append(text[ws : m.start()])
                dpos += m.start() - ws
        seg_dec.append(dpos)
        seg_info.append((m.start(), m.end() - m.start(), True))
        parts.append(_unescape(m.group(0)))
        dpos += 1
        if m.end() >= window_end:
            _, window_end = _expand_nonspace(text, m.end())
        opos = m.end()
    if window_end > opos:
        seg_dec.append(dpos)
        seg_info.append((opos, window_end - opos, False))
        parts.append(text[opos:window_end])
    if not seg_dec:
        return []
    decoded = "".join(parts)

    def orig_start(d: int) -> int:
        k = bisect.bisect_right(seg_dec, d) - 1
        o, _length, esc = seg_info[k]
        return o if esc else o + min(d - seg_dec[k], _length)

    def orig_end(d_excl: int) -> int:
        k = bisect.bisect_right(seg_dec, d_excl - 1) - 1
        o, length, esc = seg_info[k]
        return o + length if esc else o + min(d_excl - seg_dec[k], length)

    return [
        (orig_start(start), orig_end(end), label, prio)
        for start, end, label, prio in _candidates(decoded, known_values, decode=False)
    ]


_WINDOW_SEPARATOR = "\n\x00\n"
_ESCAPE_CONTEXT = 48
_NONSPACE_LIMIT = 4096


def _expand_nonspace(text: str, i: int) -> tuple[int, int]:
    """The run of non-whitespace characters around index ``i`` (bounded each way)."""
    floor = max(0, i - _NONSPACE_LIMIT)
    start = max(text.rfind(ws, floor, i) for ws in _SPACES) + 1
    fwd = _NONSPACE_FWD.match(text, i)
    return max(start, floor), fwd.end() if fwd else i


def _unescape(token: str) -> str:
    if token[0] == "%":
        return chr(int(token[1:], 16))
    if token.startswith(("\\u", "\\x")):
        return chr(int(token[2:], 16))
    if token[0] == "\\":
        return token[1]
    return html.unescape(token)


# --- resolution ----------------------------------------------------------------------------


def _resolve(text: str, candidates: list[Candidate], markers: bool = True) -> list[RedactionSpan]:
    """Merge candidates into sorted, disjoint spans, cutting out this engine's own markers.

    ``markers=False``: the caller knows ``text`` holds no ``[REDACTED:`` (the Hyperscan flag).
    """
    if not candidates:
        return []
    n = len(text)
    # Clamp to the text and drop empty candidates; checked column-wise first (C-level passes),
    # since detectors emit in-range, non-empty spans and the per-item rebuild is the slow part.
    starts = list(map(_START, candidates))
    ends = list(map(_END, candidates))
    if min(starts) < 0 or max(ends) > n or any(map(operator.le, ends, starts)):
        candidates = [(max(0, s), min(n, e), lab, pr) for s, e, lab, pr in candidates if min(n, e) > max(0, s)]
        if not candidates:
            return []
    if markers and "[REDACTED:" in text:
        found = [m.span() for m in MARKER_RE.finditer(text) if _is_engine_marker(m.group(1))]
        if found:
            candidates = list(_subtract(candidates, found))
            if not candidates:
                return []
    # By start, then longest first, ties in emission order (it decides labels of equal priority):
    # two stable C-level sorts instead of one keyed by a Python lambda.
    candidates.sort(key=_END, reverse=True)
    candidates.sort(key=_START)
    spans: list[RedactionSpan] = []
    cur_start, cur_end, cur_label, cur_prio = candidates[0]
    for start, end, label, prio in candidates[1:]:
        if start < cur_end:
            if end > cur_end:
                cur_end = end
            if prio > cur_prio:
                cur_label, cur_prio = label, prio
            continue
        spans.append(RedactionSpan(cur_start, cur_end, cur_label))
        cur_start, cur_end, cur_label, cur_prio = start, end, label, prio
    spans.append(RedactionSpan(cur_start, cur_end, cur_label))
    return [s for s in spans if s.end > s.start]


_START = operator.itemgetter(0)
_END = operator.itemgetter(1)


def _subtract(candidates: list[Candidate], markers: list[tuple[int, int]]) -> Iterator[Candidate]:
    """Cut existing markers out of each candidate; keep pieces of at least _MIN_PIECE chars."""
    starts = [m[0] for m in markers]
    for start, end, label, prio in candidates:
        k = max(0, bisect.bisect_right(starts, start) - 1)
        pos = start
        while k < len(markers) and markers[k][0] < end:
            m_start, m_end = markers[k]
            if m_end <= pos:
                k += 1
                continue
            if m_start - pos >= _MIN_PIECE:
                yield (pos, m_start, label, prio)
            pos = max(pos, m_end)
            k += 1
        if end - pos >= _MIN_PIECE or (pos == start and end > start):
            yield (pos, end, label, prio)

