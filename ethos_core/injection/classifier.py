"""Tier-1 prompt-injection classifier: fast, deterministic, multilingual pattern rules.

Invariant: :func:`classify` runs in time linear in the input (bounded-gap patterns over the
folded text, a bounded number of decoded segments of bounded size, capped matches per signal)
and reports stable signal ids (:mod:`ethos_core.injection.rules`) for:
- phrases (instruction override, role/system forgery, jailbreak personas, prompt leaking,
  exfiltration requests incl. markdown images/links with data placeholders, credential
  targeting, persistence into memory/config, coercion to call tools, covert-action requests,
  text addressed to an AI) in English, German, French, Spanish, Portuguese, Italian, Russian,
  Chinese and Japanese, over folded text (NFKC, combining marks dropped, case-folded,
  look-alike letters mapped to Latin, invisible characters removed, whitespace collapsed —
  so homoglyphs, fullwidth letters, zero-width splitting and line-split phrases still match);
- the same phrases inside decoded segments (base64/base64url, hex incl. ``\\xNN`` — a hex run
  read from its first and its second digit, whole or as its readable stretches — ``\\uNNNN``,
  URL-encoding, HTML entities, Unicode-tag smuggled ASCII), nested up to depth 2, plus
  ``inj.encoded``;
- structure: chat-template/role tokens (``inj.template_token``), hidden Unicode
  (``inj.hidden_unicode``), marker-like text (``inj.wrapper_forgery``).

A phrase visibly quoted after a cue ("such as", "the phrase", "says:", "if you …" on its line,
or behind a quote mark or ``>`` block quote) or right behind an opening quote on its line counts
as a mention, not an instruction — articles about prompt injection do not flag; a cue on the
line before, a closing quote or a quotation opened on an earlier line does not hide a payload.

Speed comes from shortcuts that never change a verdict (docs/injection.md, "Quality and
speed"): per-stretch folding; phrase candidates (and whether marker-like text can occur at
all) from one hyperscan scan of reversed rule prefilters (:data:`ENGINE` ``"hyperscan"``) or,
without hyperscan or with ``ETHOS_TIER1_ENGINE=python``, from anchor and required-literal
automata with one gate regex per anchor; candidate-only structural scans and byte-level
decoder guards. :func:`classify_reference` runs the same classification through whole-text
passes only; tests assert all three agree.

Not covered (documented in docs/injection.md): paraphrases outside the rule table, languages
other than the nine above, instructions in images, adversarially iterated wording. Tier-1 is a
tripwire; the structural defences (markers, downgrade, outbound scrubbing) carry the load.
"""

from __future__ import annotations

import base64
import binascii
import html
import importlib
import itertools
import os
import re
import string
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from ethos_core.injection import rules
from ethos_core.injection.markers import MARKER_ANCHOR_SOURCES, count_marker_like, count_marker_like_reference
from ethos_core.injection.normalize import fold_reference, fold_utf8
from ethos_core.injection.sanitize import scan_counts, scan_counts_reference
from ethos_core.memory import release_freed_memory

MAX_SEGMENTS = 48  # decoded segments examined per call (all depths)
MAX_SEGMENT_CHARS = 65_536  # encoded characters taken from one segment
MAX_DECODED_TOTAL = 262_144  # decoded characters examined per call
MAX_DEPTH = 2
EXCERPT = 80

_COMPILED = rules.compile_rules()
# pyahocorasick ships no type information; the automaton is used through ``Any``.
_ahocorasick: Any = importlib.import_module("ahocorasick")

_QUOTES = "\"'“”‘’«»„‚「」『』`"
_MENTION_CUES = (
    r"such as|like|e\.?g\.?|for example|for instance|example|examples|payloads?|phrases?|strings?|"
    r"sentences?|wording|text|called|known as|quote[sd]?|quoting|says?|said|saying|reads?|read|wrote|"
    r"written|containing|contains?|included|includes|hidden|instructions? like|commands? like|"
    r"attacks? (?:like|such as)|injections? (?:like|such as)|variants? of|versions? of|"
    r"to|not|never|should|would|could|might|may|cannot|can't|won't|doesn't|didn't|"
    r"trick\w*|into|told|tell\w*|ask\w*|instruct\w*|convinc\w*|caus\w*|mak\w*|persuad\w*|"
    r"attempt\w*|tr(?:y|ies|ying|ied)|whether|if you|when you|unless you|once you|that you|you to|"
    r"zum beispiel|z\. ?b\.|wie|par exemple|comme|por ejemplo|como|ad esempio|per esempio|например|例如|比如|例えば|などの"
)
# Text after a cue counts as quoted only when it is visibly so: on the cue's line (behind
# spaces, ``:,-–—`` and at most one opening mark), or behind a quote mark or a ``>`` block quote
# after a line break. A bare line break after the cue does not quote (the attacker controls the
# line before a payload as easily as the payload).
_LINE_SPACE = r"[^\S\n]"  # whitespace but a line break
_QUOTE_CLASS = "[" + re.escape(_QUOTES) + "]"
_MENTION_TAIL = (
    rf"(?:(?:{_LINE_SPACE}|[:,\-–—])*[" + re.escape(_QUOTES) + rf"(\[]?{_LINE_SPACE}*"
    rf"|[\s:,\-–—]*(?:{_QUOTE_CLASS}|>){_LINE_SPACE}*)"
)
_MENTION_BEFORE = re.compile(f"(?:{_MENTION_CUES}){_MENTION_TAIL}\\Z")


def _reversed_alternatives(source: str) -> list[str]:
    """The top-level alternatives of a regex made of literal characters, two-character escapes,
    ``[...]`` classes, ``(?:...|...)`` groups and ``?``/``*``/``+``, each reversed (it matches
    the reversed strings)."""

    def alternatives(i: int) -> tuple[list[list[str]], int]:
        alts: list[list[str]] = [[]]
        while i < len(source) and source[i] != ")":
            ch = source[i]
            if ch == "|":
                alts.append([])
                i += 1
                continue
            if ch == "\\":
                atom, i = source[i : i + 2], i + 2
            elif ch == "[":
                close = source.index("]", i + 2)
                atom, i = source[i : close + 1], close + 1
            elif source.startswith("(?:", i):
                inner, i = alternatives(i + 3)
                atom, i = "(?:" + "|".join("".join(reversed(alt)) for alt in inner) + ")", i + 1
            else:
                atom, i = ch, i + 1
            if i < len(source) and source[i] in "?*+":
                atom, i = atom + source[i], i + 1
            alts[-1].append(atom)
        return alts, i

    alts, end = alternatives(0)
    if end != len(source):
        raise ValueError(f"unbalanced regex {source!r}")
    return ["".join(reversed(alt)) for alt in alts]


# ``_MENTION_BEFORE.search(window)`` tries every cue at every offset of the window; the same
# question is asked of the reversed window at one offset. No cue ends in a character that may
# follow it (``_TAIL_CHARS``), so the reversed tail is exactly the run of those characters the
# reversed window starts with (matched whole), and the reversed cue starts right after it; only
# the cues that can start with that character are tried (tests compare with the forward search).
_TAIL_CHARS = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace()) + ":,-–—([>" + _QUOTES
_MENTION_TAIL_REVERSED = re.compile(
    rf"{_LINE_SPACE}*[" + re.escape(_QUOTES) + rf"(\[]?(?:{_LINE_SPACE}|[:,\-–—])*"
    rf"|{_LINE_SPACE}*(?:{_QUOTE_CLASS}|>)[\s:,\-–—]*"
)
_re_parser: Any = importlib.import_module("re._parser")
_re_constants: Any = importlib.import_module("re._constants")


def _first_chars(items: list[tuple[Any, Any]]) -> set[str] | None:
    """The characters a match of the parsed regex ``items`` can start with; None when that is
    not a small known set (the regex is then tried at every character)."""
    if not items:
        return None
    op, av = items[0]
    c = _re_constants
    if op is c.LITERAL:
        return {chr(av)}
    if op is c.IN and all(item_op is c.LITERAL for item_op, _ in av):
        return {chr(code) for _, code in av}
    if op is c.SUBPATTERN:
        return _first_chars([*av[3], *items[1:]])
    if op is c.BRANCH:
        found: set[str] = set()
        for branch in av[1]:
            first = _first_chars([*branch, *items[1:]])
            if first is None:
                return None
            found |= first
        return found
    if op is c.MAX_REPEAT:
        first = _first_chars(list(av[2]))
        if av[0] >= 1 or first is None:
            return first
        rest = _first_chars(items[1:])
        return None if rest is None else first | rest
    return None


def _cue_dispatch() -> tuple[dict[str, re.Pattern[str]], re.Pattern[str] | None]:
    """Per first character, one pattern of the reversed cues that can start with it (those that
    can start with anything included); and the pattern of the latter alone, for other characters."""
    by_char: dict[str, list[str]] = {}
    anywhere: list[str] = []
    for alternative in _reversed_alternatives(_MENTION_CUES):
        first = _first_chars(list(_re_parser.parse(alternative)))
        if first is None:
            anywhere.append(alternative)
        else:
            if first & set(_TAIL_CHARS):
                raise ValueError(f"cue {alternative[::-1]!r} ends in a character that may follow a cue")
            for ch in first:
                by_char.setdefault(ch, []).append(alternative)
    patterns = {ch: re.compile("|".join(alts + anywhere)) for ch, alts in by_char.items()}
    return patterns, re.compile("|".join(anywhere)) if anywhere else None


_CUES_BY_FIRST_CHAR, _CUES_ANY_FIRST_CHAR = _cue_dispatch()


def _mention_cue_before(window: str) -> bool:
    """``_MENTION_BEFORE.search(window)``, answered on the reversed window."""
    reversed_window = window[::-1]
    cut = len(reversed_window) - len(reversed_window.lstrip(_TAIL_CHARS))
    if cut == len(reversed_window) or not _MENTION_TAIL_REVERSED.fullmatch(reversed_window, 0, cut):
        return False
    cues = _CUES_BY_FIRST_CHAR.get(reversed_window[cut], _CUES_ANY_FIRST_CHAR)
    return cues is not None and cues.match(reversed_window, cut) is not None


# --- decoding ------------------------------------------------------------------------------
_B64_RE = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}|[A-Za-z0-9_-]{24,}={0,2}")
_HEX_SEPARATORS = " :,-"
# A whole run of 24+ hex digits, one separator allowed between any two: it is decoded at both
# nibble alignments, so neither a stray digit nor separators placed off the pairs shift it.
_HEX_RE = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f](?:[ :,-]?[0-9A-Fa-f]){23,}+")
_HEX_ESC_RE = re.compile(r"(?:\\x[0-9A-Fa-f]{2}){8,}+")
_UNI_ESC_RE = re.compile(r"(?:\\u[0-9A-Fa-f]{4}){6,}+")
_URLENC_RE = re.compile(r"[^\s%]{0,30}(?:%[0-9A-Fa-f]{2}[^\s%]{0,30}){3,}+")
_ENTITY_RE = re.compile(r"(?:&#?[0-9A-Za-z]{1,10};[^&<>]{0,30}){3,}+")
_TAGS_RE = re.compile("[\U000e0020-\U000e007e]{4,}+")


@attrs.frozen
class Tier1Match:
    """One signal hit: the signal id, a short excerpt of folded text, where it was found."""

    signal: str
    excerpt: str
    where: str = "text"  # "text" | "base64" | "hex" | "url" | "html" | "unicode_tags" | "escape"


@attrs.frozen
class Tier1Result:
    """Result of :func:`classify`. ``signals`` are sorted, unique, stable ids."""

    flagged: bool
    signals: tuple[str, ...] = ()
    matches: tuple[Tier1Match, ...] = ()
    counts: dict[str, int] = attrs.field(factory=dict)


_PAIRS = (("“", "”"), ("«", "»"), ("„", "“"), ("「", "」"), ("『", "』"))
_BEFORE_OPENING_SINGLE = "([:"  # or whitespace, or the line start
_AFTER_CLOSING_SINGLE = ".,;:!?)]"  # or whitespace, or the line end


def _last_opening_single(segment: str) -> int:
    """Offset of the last ``'``, ``‘`` or ``‚`` that starts ``segment`` or follows whitespace or
    one of ``([:``, or -1. Backward ``rfind`` steps, each quote kind's from its previous hit
    (linear in the segment; a regex pass costs more per line)."""
    straight, left, low = segment.rfind("'"), segment.rfind("‘"), segment.rfind("‚")
    while True:
        pos = max(straight, left, low)
        if pos <= 0:
            return pos
        prev = segment[pos - 1]
        if prev.isspace() or prev in _BEFORE_OPENING_SINGLE:
            return pos
        if pos == straight:
            straight = segment.rfind("'", 0, pos)
        elif pos == left:
            left = segment.rfind("‘", 0, pos)
        else:
            low = segment.rfind("‚", 0, pos)


def _closes_single(segment: str, start: int) -> bool:
    """Some ``'`` or ``’`` at or after ``start`` is followed by whitespace, one of ``.,;:!?)]``
    or the end of ``segment`` (a line: it holds no line break)."""
    for quote in "'’":
        pos = segment.find(quote, start)
        while pos >= 0:
            after = pos + 1
            if after == len(segment) or segment[after].isspace() or segment[after] in _AFTER_CLOSING_SINGLE:
                return True
            pos = segment.find(quote, after)
    return False


def _open_quote(segment: str) -> int:
    """Offset of the quote left open at the end of ``segment`` (one line), or -1."""
    if segment.count('"') % 2 == 1:
        return segment.rfind('"')
    for left, right in _PAIRS:
        lpos = segment.rfind(left)
        if lpos > segment.rfind(right, lpos + 1) and lpos >= 0 and (left != right):
            return lpos
    last_open = _last_opening_single(segment)
    if last_open >= 0 and not _closes_single(segment, last_open + 1):
        return last_open
    return -1


def _is_mention(folded: str, start: int) -> bool:
    """The phrase at ``start`` is quoted or cited rather than addressed to the reader.

    Either a quoting cue ("such as", "the phrase", "says:") comes right before it on its line,
    or behind a quote mark or ``>`` block quote right before it (:data:`_MENTION_BEFORE`); or
    it sits inside a quotation opened on its line, right behind the opening quote or with such
    a cue before that quote. A closing quote before the phrase, a quotation opened on an
    earlier line and a cue on the line before (with no quote mark) do not make a mention, so
    none of them hides a payload.
    """
    window = folded[max(0, start - 48) : start]
    if not window:
        return False
    if _mention_cue_before(window):
        return True
    # The line up to ``start``, at most 300 characters of it: without the bound a line with no
    # break would reach back to the text's start (quadratic work, and a quote opened 100 KB
    # earlier would still hide a payload).
    reach = max(0, start - 300)
    line_start = max(folded.rfind("\n", reach, start) + 1, reach)
    segment = folded[line_start:start]
    quote = _open_quote(segment)
    if quote < 0:
        return False
    if not segment[quote + 1 :].strip():
        return True  # right behind the quotation's opening quote
    before = folded[max(0, line_start + quote - 48) : line_start + quote + 1]
    return _mention_cue_before(before)


def _inside_word(folded: str, start: int) -> bool:
    """True when an ASCII-word match starts in the middle of a word (rules are ``\\b``-led)."""
    if start == 0:
        return False
    first, prev = folded[start], folded[start - 1]
    return first.isascii() and first.isalnum() and (prev.isalnum() or prev == "_")


def _accept(rule: rules.CompiledRule, folded: str, m: re.Match[str]) -> bool:
    if _inside_word(folded, m.start()):
        return False
    return not (rule.signal in rules.MENTION_SENSITIVE and _is_mention(folded, m.start()))


# Rules whose anchors include a line break are searched instead: a line break is too common an
# anchor, and a pattern with a literal first character is searched in C.
_SEARCH_ANCHORS = frozenset({"\n"})
# Anchors are cut to this many characters: a deeper automaton costs more per character scanned
# than the extra (gated) positions it rules out.
_ANCHOR_KEEP = 8


_Anchored = tuple[tuple[int, rules.CompiledRule, int], ...]  # (table order, rule, requirement id)
# The automaton looks a character up among a node's children in insertion order, so keys go in
# by how common their characters are in text (space and e first).
_CHAR_FREQUENCY = " etaoinshrdlcumwfgypbvkjxqz"


def _insertion_rank(key: str) -> list[int]:
    return [_CHAR_FREQUENCY.index(ch) if ch in _CHAR_FREQUENCY else 100 + ord(ch) for ch in key]
# Requirement ids are below the number of rules; this one marks "no required literal".
_NO_REQUIREMENT = len(_COMPILED)


def _build_tables() -> tuple[Any, Any, tuple[tuple[int, rules.CompiledRule], ...]]:
    """The literal automata (ASCII literals; literals with other characters) and the rules
    searched over the whole text.

    Each automaton value is ``(len - 1, anchored, gate, requirements, wait)``. ``anchored`` holds the
    rules that start with that literal (with their table order and requirement id) and ``gate``
    is one pattern matching where any of them matches (the rule's own pattern when there is
    one), so a position where none matches costs one regex call; ``requirements`` are the ids of
    the required-literal sets (:attr:`rules.CompiledRule.required`) the literal belongs to, and
    ``wait`` says some rule of ``anchored`` has such a set (it is tried after the pass). Two
    automata because the cost per character scanned grows with the number of first characters:
    ASCII text needs only the ASCII one, other text the second one only near its letters.
    """
    searched: list[tuple[int, rules.CompiledRule]] = []
    by_anchor: dict[str, list[tuple[int, rules.CompiledRule, int]]] = {}
    by_required: dict[str, set[int]] = {}
    requirement_ids: dict[frozenset[str], int] = {}
    for order, rule in enumerate(_COMPILED):
        if not rule.anchors or rule.anchors & _SEARCH_ANCHORS:
            searched.append((order, rule))
            continue
        for anchor in {a[:_ANCHOR_KEEP] for a in rule.anchors}:
            by_anchor.setdefault(anchor, []).append((order, rule, _NO_REQUIREMENT))
    # A literal holding a shorter key (anchor or required literal) is replaced by it: where the
    # literal occurs the key occurs too, at or after the same place, and needs no hit of its own.
    literals = {lit for rule in _COMPILED for lit in rule.required}
    keys = sorted(literals | by_anchor.keys(), key=len)
    shortest = {lit: next(k for k in keys if len(k) >= rules.REQUIRED_MIN and k in lit) for lit in literals}
    for anchored_list in by_anchor.values():
        for i, (order, rule, _) in enumerate(anchored_list):
            required = frozenset(shortest[lit] for lit in rule.required)
            if not required or not all(lit.isascii() or _SCRIPT_CHARS_RE.search(lit) for lit in required):
                continue
            rid = requirement_ids.setdefault(required, len(requirement_ids))
            for literal in required:
                by_required.setdefault(literal, set()).add(rid)
            anchored_list[i] = (order, rule, rid)
    ascii_automaton = _ahocorasick.Automaton()
    other_automaton = _ahocorasick.Automaton()
    for key in sorted(by_anchor.keys() | by_required.keys(), key=_insertion_rank):
        if not key.isascii() and not _SCRIPT_CHARS_RE.search(key):
            raise ValueError(f"anchor {key!r} has characters the script windows do not cover")
        anchored = tuple(by_anchor.get(key, ()))
        gate: re.Pattern[str] | None = None
        if len(anchored) == 1:
            gate = anchored[0][1].pattern
        elif anchored:
            gate = re.compile("|".join(f"(?:{rule.pattern.pattern})" for _, rule, _ in anchored))
        automaton = ascii_automaton if key.isascii() else other_automaton
        wait = any(rid != _NO_REQUIREMENT for _, _, rid in anchored)
        automaton.add_word(key, (len(key) - 1, anchored, gate, tuple(sorted(by_required.get(key, ()))), wait))
    ascii_automaton.make_automaton()
    other_automaton.make_automaton()
    return ascii_automaton, other_automaton, tuple(searched)


# Every non-ASCII anchor holds a Cyrillic letter or a character from U+2E80 up (CJK, kana, 🔓;
# checked when the tables are built). Their UTF-8 lead bytes are D0-D3 and E2-F4 (E2 also
# leads general punctuation: a harmless extra window).
_SCRIPT_CHARS_RE = re.compile("[\u0400-\u04ff\u2e80-\U0010ffff]")
_SCRIPT_TABLE = bytes(0x78 if 0xD0 <= b <= 0xD3 or 0xE2 <= b <= 0xF4 else 0x61 for b in range(256))
_SCRIPT_RUN_RE = re.compile(rb"xx*+(?:a{1,16}+xx*+)*+")  # literal first byte: skipped to in C


def _script_windows(folded: str) -> list[tuple[int, int]]:
    """Merged character spans of ``folded`` holding every occurrence of a non-ASCII anchor: an
    anchor has at most ``_ANCHOR_KEEP`` characters, one of them a script character, so it lies
    within ``_ANCHOR_KEEP - 1`` characters of one."""
    raw = folded.encode("utf-8", "surrogatepass")
    pad = _ANCHOR_KEEP - 1
    windows: list[tuple[int, int]] = []
    last_byte = last_char = 0
    for m in _SCRIPT_RUN_RE.finditer(raw.translate(_SCRIPT_TABLE)):
        byte_start, byte_end = m.span()
        while byte_end < len(raw) and 0x80 <= raw[byte_end] < 0xC0:  # finish the last character
            byte_end += 1
        char_start = last_char + len(raw[last_byte:byte_start].decode("utf-8", "surrogatepass"))
        char_end = char_start + len(raw[byte_start:byte_end].decode("utf-8", "surrogatepass"))
        last_byte, last_char = byte_end, char_end
        lo, hi = max(0, char_start - pad), min(len(folded), char_end + pad)
        if windows and lo <= windows[-1][1]:
            windows[-1] = (windows[-1][0], hi)
        else:
            windows.append((lo, hi))
    return windows


_ASCII_AUTOMATON, _OTHER_AUTOMATON, _SEARCHED = _build_tables()
# Per call, ``last[rid]`` starts at -1 for every requirement; the sentinel slot never fails.
_LAST_START = [-1] * _NO_REQUIREMENT + [sys.maxsize]


def _window_hits(folded: str, lo: int, hi: int) -> Iterator[tuple[int, Any]]:
    """The non-ASCII automaton's hits in ``folded[lo:hi]``, at offsets of ``folded``. The window
    is sliced: the automaton copies the whole string it is given on every call."""
    for end, value in _OTHER_AUTOMATON.iter(folded[lo:hi]):
        yield end + lo, value


def _try_rules(
    folded: str,
    start: int,
    anchored: _Anchored,
    gate: re.Pattern[str] | None,
    gated: re.Match[str] | None,
    found: dict[str, Tier1Match],
    best: dict[str, tuple[int, int, re.Match[str]]],
    mention: dict[int, bool],
) -> None:
    """Try each rule of ``anchored`` at ``start`` (``gated`` is the gate's match, reused when the
    gate is the rule's own pattern) and keep accepted matches that start before the best so far."""
    for order, rule, _ in anchored:
        signal = rule.signal
        prior = best.get(signal)
        if signal in found or (prior is not None and (prior[0], prior[1]) <= (start, order)):
            continue
        m = gated if gated is not None and rule.pattern is gate else rule.pattern.match(folded, start)
        if m is None:
            continue
        if signal in rules.MENTION_SENSITIVE and _quoted_at(folded, start, mention):
            continue
        best[signal] = (start, order, m)


def _quoted_at(folded: str, start: int, mention: dict[int, bool]) -> bool:
    """:func:`_is_mention` at ``start``, computed once per position (``mention`` is the memo)."""
    quoted = mention.get(start)
    if quoted is None:
        quoted = mention[start] = _is_mention(folded, start)
    return quoted


def _record(best: dict[str, tuple[int, int, re.Match[str]]], where: str, found: dict[str, Tier1Match]) -> None:
    """Add the matches to ``found`` in text order (the first one names ``inj.encoded``)."""
    for signal, (_, _, m) in sorted(best.items(), key=lambda item: item[1][:2]):
        found[signal] = Tier1Match(signal, m.group(0)[:EXCERPT], where)


def _scan_phrases_python(folded: str, where: str, found: dict[str, Tier1Match]) -> None:
    """Record, for each signal not yet in ``found``, its accepted match that starts first (ties:
    the rule listed first) — what searching every rule over all of ``folded`` gives
    (:func:`_scan_phrases_reference`).

    A rule is tried only where one of its literal anchors occurs (every match starts with one)
    and one of its required literals occurs at or after that place (every match holds one),
    both found in one Aho-Corasick pass; a position inside a word is skipped before any rule
    runs (no rule is accepted there); one gate pattern per anchor rules out all its rules at
    once; whether a position is quoted is computed once per position (not per rule). Anchors
    whose rules have required literals wait until the pass has seen the whole text.
    """
    best: dict[str, tuple[int, int, re.Match[str]]] = {}
    mention: dict[int, bool] = {}
    hits = _ASCII_AUTOMATON.iter(folded)
    if not folded.isascii():
        hits = itertools.chain(hits, *[_window_hits(folded, lo, hi) for lo, hi in _script_windows(folded)])
    last = list(_LAST_START)  # requirement id -> start of its last literal (sentinel: no requirement)
    deferred: list[tuple[int, _Anchored, re.Pattern[str]]] = []
    for end, (back, anchored, gate, requirements, wait) in hits:
        start = end - back
        for rid in requirements:
            if last[rid] < start:
                last[rid] = start
        if not anchored:
            continue
        if start:
            first = folded[start]
            if first.isascii() and first.isalnum():
                prev = folded[start - 1]
                if prev.isalnum() or prev == "_":
                    continue
        if wait:
            deferred.append((start, anchored, gate))
            continue
        gated = gate.match(folded, start)
        if gated is not None:
            _try_rules(folded, start, anchored, gate, gated, found, best, mention)
    for start, anchored, gate in deferred:
        viable: _Anchored = anchored
        for entry in anchored:
            if last[entry[2]] < start:  # a required literal is missing
                viable = tuple(e for e in anchored if last[e[2]] >= start)
                break
        if viable is anchored:
            gated = gate.match(folded, start)
            if gated is not None:
                _try_rules(folded, start, anchored, gate, gated, found, best, mention)
        elif viable:
            _try_rules(folded, start, viable, None, None, found, best, mention)
    for order, rule in _SEARCHED:
        signal = rule.signal
        if signal in found:
            continue
        prior = best.get(signal)
        pos = 0
        while (m := rule.pattern.search(folded, pos)) is not None:
            start = m.start()
            if prior is not None and (prior[0], prior[1]) <= (start, order):
                break
            if _accept(rule, folded, m):
                best[signal] = (start, order, m)
                break
            pos = start + 1
    _record(best, where, found)


# --- the hyperscan engine ---------------------------------------------------------------------
# One hyperscan database holds, for every rule, its byte-level prefilter reversed
# (:func:`rules.prefilter_source`): scanning the reversed UTF-8 text reports every offset where
# a rule match can start (hyperscan reports every end of every match, and a reversed end is a
# start), plus some where none does. Each such (start, rule) is then confirmed in text order
# with the rule's own regex and the same word/mention checks, so the first accepted start per
# signal is the one :func:`_scan_phrases_python` finds; text with no prefilter hit costs one
# scan. The database compiles in a background thread (the compiler releases
# the GIL) when first needed or at engine start (:func:`warm_up`); until it is ready the
# pure-Python path answers (same verdicts). Without the ``hyperscan`` package, or with
# ``ETHOS_TIER1_ENGINE=python``, the pure-Python path runs instead.
try:
    _hyperscan: Any = importlib.import_module("hyperscan")
except ImportError:  # pragma: no cover - platforms without the manylinux wheel
    _hyperscan = None

ENGINES = ("hyperscan", "python")
# The phrase engine :func:`classify` uses; tests switch it to compare the two.


def default_engine(setting: str | None) -> str:
    """The engine for the ``ETHOS_TIER1_ENGINE`` value ``setting`` ("python" forces the
    pure-Python path; hyperscan is used whenever it is importable otherwise)."""
    if setting not in (None, "", *ENGINES):
        raise ValueError(f"ETHOS_TIER1_ENGINE must be one of {ENGINES}, not {setting!r}")
    return "python" if _hyperscan is None or setting == "python" else "hyperscan"


ENGINE = default_engine(os.environ.get("ETHOS_TIER1_ENGINE"))


# Ids from ``len(_COMPILED)`` up are the marker anchors (:data:`MARKER_ANCHOR_SOURCES`): a scan
# without their hits proves the text holds no marker-like span, so its marker count is skipped.
_MARKER_ANCHOR_ID = len(_COMPILED)


def _compile_phrase_prefilters() -> Any:
    expressions = [rules.prefilter_source(source, reverse=True, cut_weak_tail=True) for _, source in rules.rule_sources()]
    flags = [0] * len(expressions)
    expressions += [rules.prefilter_source(source, reverse=True) for source in MARKER_ANCHOR_SOURCES]
    flags += [_hyperscan.HS_FLAG_SINGLEMATCH] * len(MARKER_ANCHOR_SOURCES)  # whether, not where
    db = _hyperscan.Database(mode=_hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=expressions, ids=list(range(len(expressions))), elements=len(expressions), flags=flags)
    return db


class _PrefilterDatabase:
    """A hyperscan database built once per process in a background thread."""

    def __init__(self, build: Callable[[], Any] = _compile_phrase_prefilters) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._db: Any = None
        self._error: BaseException | None = None
        self._local = threading.local()

    @property
    def error(self) -> BaseException | None:
        """Why the database could not be compiled (None if it compiled or has not run)."""
        return self._error

    def start(self) -> None:
        with self._lock:
            if self._thread is None and _hyperscan is not None:
                self._thread = threading.Thread(target=self._compile, name="ethos-tier1-hyperscan", daemon=True)
                self._thread.start()

    def _compile(self) -> None:
        try:
            self._db = self._build()
        except Exception as exc:  # noqa: BLE001 - the Python path gives the same verdicts
            self._error = exc
        finally:
            release_freed_memory()  # the compiler's working memory (~20 MB) is freed by now

    def get(self, block: bool | None = None) -> tuple[Any, Any] | None:
        """The database and this thread's scratch space; None when it cannot be built or, unless
        ``block`` (default :data:`BLOCK_ON_COMPILE`), is still compiling — the caller then
        takes the pure-Python path, which gives the same verdicts. The first call starts the
        compile, so a process that never classifies never pays for it."""
        ready = getattr(self._local, "ready", None)
        if ready is not None:
            return ready  # type: ignore[no-any-return]
        self.start()
        if self._thread is None:
            return None
        if self._db is None and self._error is None and self._thread.is_alive():
            if not (BLOCK_ON_COMPILE if block is None else block):
                return None
        self._thread.join()
        if self._db is None and self._error is None:  # e.g. forked while the thread compiled
            with self._lock:
                if self._db is None and self._error is None:
                    self._compile()
        if self._db is None:
            return None
        ready = self._local.ready = (self._db, _hyperscan.Scratch(self._db))  # one scratch per thread
        return ready


# Whether a classification waits for the database still compiling (tests and benchmarks that
# must exercise the hyperscan engine set it) instead of using the pure-Python path meanwhile.
BLOCK_ON_COMPILE = False

_PREFILTER_DB = _PrefilterDatabase()


def warm_up(block: bool = False) -> bool:
    """Start compiling the hyperscan databases now (the engine calls this at startup, so the
    first untrusted content meets a ready database); with ``block``, wait for them. Returns
    whether the hyperscan engine is ready."""
    if ENGINE != "hyperscan":
        return False
    _PREFILTER_DB.start()
    _RUN_GUARDS.start()
    if not block:
        return False
    return _PREFILTER_DB.get(block=True) is not None and _RUN_GUARDS.get(block=True) is not None


def _char_offsets(raw: bytes, byte_offsets: list[int]) -> list[int]:
    """Character offsets of sorted byte offsets into UTF-8 ``raw`` (an offset inside a
    character counts as that character's start)."""
    out: list[int] = []
    last_byte = last_char = 0
    for offset in byte_offsets:
        while 0 < offset < len(raw) and 0x80 <= raw[offset] < 0xC0:
            offset -= 1
        if offset != last_byte:
            last_char += len(raw[last_byte:offset].decode("utf-8", "surrogatepass"))
            last_byte = offset
        out.append(last_char)
    return out


def _hyperscan_candidates(folded: str, compiled: tuple[Any, Any], raw: bytes | None = None) -> list[tuple[int, int]]:
    """Sorted (character offset, rule order) pairs holding every place a rule matches, and
    pairs with orders from :data:`_MARKER_ANCHOR_ID` up where a marker anchor may start
    (``compiled``: the database and a scratch space, :meth:`_PrefilterDatabase.get`; ``raw``:
    the UTF-8 form of ``folded`` when the caller has it)."""
    db, scratch = compiled
    if raw is None:
        raw = folded.encode("utf-8", "surrogatepass")
    size = len(raw)
    hits: list[tuple[int, int]] = []
    append = hits.append

    def on_match(order: int, _from: int, to: int, _flags: int, _context: object) -> None:
        append((size - to, order))

    db.scan(raw[::-1], match_event_handler=on_match, scratch=scratch)
    hits.sort()
    if hits and size != len(folded):
        # Character offsets keep the byte order, but offsets inside one character meet at its
        # start, so the rule orders there are sorted again (a near-sorted list: one quick pass).
        chars = _char_offsets(raw, [start for start, _ in hits])
        hits = sorted(zip(chars, [order for _, order in hits], strict=True))
    return hits


def _scan_phrases_hyperscan(
    folded: str, raw: bytes | None, where: str, found: dict[str, Tier1Match], compiled: tuple[Any, Any]
) -> frozenset[int]:
    """:func:`_scan_phrases_python` with the candidate (start, rule) pairs from one hyperscan
    scan of the reversed text (see the note above); returns the indexes (into
    :data:`MARKER_ANCHOR_SOURCES`) of the marker anchors that may occur. A start already found
    quoted skips the rule match (the rule would be rejected there either way)."""
    hits = _hyperscan_candidates(folded, compiled, raw)
    if not hits:
        return frozenset()
    best: dict[str, tuple[int, int, re.Match[str]]] = {}
    mention: dict[int, bool] = {}
    anchors: set[int] = set()
    for start, order in hits:
        if order >= _MARKER_ANCHOR_ID:
            anchors.add(order - _MARKER_ANCHOR_ID)
            continue
        rule = _COMPILED[order]
        signal = rule.signal
        if signal in best or signal in found:  # hits come in (start, rule order) order
            continue
        sensitive = signal in rules.MENTION_SENSITIVE
        if sensitive and mention.get(start):
            continue
        if start:
            first = folded[start]
            if first.isascii() and first.isalnum():
                prev = folded[start - 1]
                if prev.isalnum() or prev == "_":
                    continue
        m = rule.pattern.match(folded, start)
        if m is None:
            continue
        if sensitive and _quoted_at(folded, start, mention):
            continue
        best[signal] = (start, order, m)
    _record(best, where, found)
    return frozenset(anchors)


# What a phrase scan knows of the marker anchors: the indexes into MARKER_ANCHOR_SOURCES of
# those that may occur, or None when it did not look (a marker count must look itself).
_MarkerAnchors = frozenset[int] | None


def _scan_phrases(folded: str, raw: bytes | None, where: str, found: dict[str, Tier1Match]) -> _MarkerAnchors:
    """The phrase scan of the selected :data:`ENGINE` (``raw``: the UTF-8 form of ``folded``,
    or None); the hyperscan engine also reports the marker anchors (:data:`_MarkerAnchors`)."""
    compiled = _PREFILTER_DB.get() if ENGINE == "hyperscan" else None
    if compiled is not None:
        return _scan_phrases_hyperscan(folded, raw, where, found, compiled)
    _scan_phrases_python(folded, where, found)
    return None


_REFERENCE_PATTERNS: list[re.Pattern[str]] = []  # the rule sources as written, compiled on first use


def _scan_phrases_reference(folded: str, raw: bytes | None, where: str, found: dict[str, Tier1Match]) -> _MarkerAnchors:
    """:func:`_scan_phrases` without anchors, required literals, gates or possessive gaps: every
    rule, compiled from its source as written, searched over all of ``folded`` (slow;
    :func:`classify_reference` uses it so tests can check the two agree)."""
    if not _REFERENCE_PATTERNS:
        _REFERENCE_PATTERNS.extend(re.compile(source) for _, source in rules.rule_sources())
    best: dict[str, tuple[int, int, re.Match[str]]] = {}
    for order, (rule, pattern) in enumerate(zip(_COMPILED, _REFERENCE_PATTERNS, strict=True)):
        if rule.signal in found:
            continue
        pos = 0
        while (m := pattern.search(folded, pos)) is not None:
            if _accept(rule, folded, m):
                prior = best.get(rule.signal)
                if prior is None or (prior[0], prior[1]) > (m.start(), order):
                    best[rule.signal] = (m.start(), order, m)
                break
            pos = m.start() + 1
    _record(best, where, found)
    return None


_CONTROL_SPACES = str.maketrans("\n\r\t", "   ")  # count as printable below


def _printable_ratio(text: str) -> float:
    if not text:
        return 0.0
    if text.isprintable() or text.translate(_CONTROL_SPACES).isprintable():
        return 1.0
    good = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t")
    return good / len(text)


def _reads_as_text(text: str) -> bool:
    return len(text) >= 8 and _printable_ratio(text) >= 0.9 and re.search(r"[^\W\d_]{2,}", text) is not None


def _text_of(raw: bytes) -> tuple[str, ...]:
    """``raw`` as text when it reads as text (UTF-8, printable, holds a word), else nothing."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ()
    return (text,) if _reads_as_text(text) else ()


def _decode_b64(segment: str) -> tuple[str, ...]:
    s = segment.rstrip("=")
    if len(s) % 4 == 1:
        s = s[:-1]
    padded = s + "=" * (-len(s) % 4)
    try:
        if "-" in s or "_" in s:
            raw = base64.urlsafe_b64decode(padded)
        else:
            raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return ()
    return _text_of(raw)


# Readable stretches of decoded text: 8+ characters that are neither replacements for bytes
# that are not UTF-8 nor control characters (other than whitespace).
_TEXT_STRETCH_RE = re.compile("[^\ufffd\x00-\x08\x0e-\x1f\x7f]{8,}")
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))


def _text_pieces(raw: bytes) -> tuple[str, ...]:
    """``raw`` as text when it is UTF-8 and reads as text (:func:`_text_of`); else its readable
    stretches (:data:`_TEXT_STRETCH_RE`) that read as text on their own, joined by line breaks
    (one decoded segment); or nothing."""
    if not raw.translate(None, _CONTINUATION_BYTES):
        return ()  # continuation bytes only (e.g. a run of one hex letter): no character at all
    text = raw.decode("utf-8", "replace")
    if "\ufffd" not in text:
        if _reads_as_text(text):
            return (text,)
        if text.translate(_CONTROL_SPACES).isprintable():
            return ()  # its one stretch is the whole text, which does not read as text
    pieces = [piece for piece in _TEXT_STRETCH_RE.findall(text) if _reads_as_text(piece)]
    return ("\n".join(pieces),) if pieces else ()


def _decode_hex(segment: str) -> tuple[str, ...]:
    """The texts the hex digits of ``segment`` spell, read from the first digit and from the
    second one, each kept whole or as its readable stretches: a stray digit (leading, cut off
    or inserted mid-run) shifts the bytes after it, which one of the two readings restores."""
    digits = segment
    if any(sep in segment for sep in _HEX_SEPARATORS):
        digits = re.sub(r"[^0-9A-Fa-f]", "", segment)
    texts: list[str] = []
    for aligned in (digits, digits[1:]):
        texts += _text_pieces(bytes.fromhex(aligned[: len(aligned) - len(aligned) % 2]))
    return tuple(texts)


def _decode_hex_escapes(segment: str) -> tuple[str, ...]:
    try:
        return _text_of(bytes.fromhex(segment.replace("\\x", "")))
    except ValueError:
        return ()


def _decode_uni_escapes(segment: str) -> tuple[str, ...]:
    chars = [chr(int(segment[i + 2 : i + 6], 16)) for i in range(0, len(segment), 6)]
    text = "".join(chars)
    return (text,) if _printable_ratio(text) >= 0.9 else ()


def _decode_url(segment: str) -> tuple[str, ...]:
    text = urllib.parse.unquote_plus(segment)
    return (text,) if text != segment else ()


def _decode_entities(segment: str) -> tuple[str, ...]:
    text = html.unescape(segment)
    return (text,) if text != segment else ()


def _decode_tags(segment: str) -> tuple[str, ...]:
    return ("".join(chr(ord(ch) - 0xE0000) for ch in segment),)


def _class_table(chars: str) -> bytes:
    """``bytes.translate`` table: bytes of ``chars`` (ASCII) to ``a``, every other byte to a space."""
    return bytes(0x61 if chr(b) in chars else 0x20 for b in range(256))


_B64_TABLE = _class_table(string.ascii_letters + string.digits + "+/_=-")
_HEX_TABLE = _class_table(string.hexdigits + " :,-")
_MIN_RUN = 24  # a base64 or hex segment needs 24 characters of its class in a row


def _compile_run_guards() -> Any:
    """Pattern 0: ``_MIN_RUN`` base64-class bytes in a row; pattern 1: the same for hex."""
    expressions = [
        b"[" + b"".join(b"\\x%02x" % b for b in range(256) if table[b] == 0x61) + b"]{%d}" % _MIN_RUN
        for table in (_B64_TABLE, _HEX_TABLE)
    ]
    db = _hyperscan.Database(mode=_hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=expressions, ids=[0, 1], elements=2, flags=_hyperscan.HS_FLAG_SINGLEMATCH)
    return db


_RUN_GUARDS = _PrefilterDatabase(_compile_run_guards)
_RUN_KINDS = ("base64", "hex")


def _run_kinds(encoded: bytes) -> frozenset[str] | None:
    """Which of base64/hex have a ``_MIN_RUN`` run in ``encoded`` (one hyperscan scan), or None
    without the hyperscan engine (the byte scans of :func:`_long_runs` then decide)."""
    compiled = _RUN_GUARDS.get() if ENGINE == "hyperscan" else None
    if compiled is None:
        return None
    db, scratch = compiled
    kinds: set[str] = set()

    def on_match(kind: int, _from: int, _to: int, _flags: int, _context: object) -> None:
        kinds.add(_RUN_KINDS[kind])

    db.scan(encoded, match_event_handler=on_match, scratch=scratch)
    return frozenset(kinds)


def _long_runs(text: str, encoded: bytes, table: bytes) -> list[tuple[int, int]]:
    """Spans of ``text`` that are maximal runs of at least ``_MIN_RUN`` characters of the ASCII
    class marked in ``table``, found with C byte scans over the UTF-8 copy ``encoded``."""
    mapped = encoded.translate(table)
    needle = b"a" * _MIN_RUN
    spans: list[tuple[int, int]] = []
    one_byte_chars = len(encoded) == len(text)
    last_byte = last_char = 0
    pos = mapped.find(needle)
    while pos >= 0:
        start = mapped.rfind(b" ", 0, pos) + 1
        end = mapped.find(b" ", pos + _MIN_RUN)
        if end < 0:
            end = len(mapped)
        if one_byte_chars:
            spans.append((start, end))
        else:  # a run is ASCII, so its bounds are character boundaries and it is one byte a character
            char_start = last_char + len(encoded[last_byte:start].decode("utf-8", "surrogatepass"))
            last_byte, last_char = end, char_start + (end - start)
            spans.append((char_start, last_char))
        pos = mapped.find(needle, end)
    return spans


def _percent_spans(text: str) -> list[tuple[int, int]]:
    """Spans that can hold a URL-encoded segment: each ``%XX`` of a segment is at most 33
    characters after the previous one, and the segment reaches at most 30 characters before
    its first and 33 after its last ``%``; a segment needs three of them."""
    spans: list[tuple[int, int]] = []
    first = last = text.find("%")
    count = 0
    while last >= 0:
        count += 1
        nxt = text.find("%", last + 1)
        if nxt < 0 or nxt - last > 33:
            if count >= 3:
                lo, hi = max(0, first - 30), min(len(text), last + 33)
                if spans and lo <= spans[-1][1]:
                    lo = spans.pop()[0]
                spans.append((lo, hi))
            first, count = nxt, 0
        last = nxt
    return spans


def _whole(text: str) -> list[tuple[int, int]]:
    return [(0, len(text))]


def _segment_spans(kind: str, text: str, encoded: bytes, run_kinds: frozenset[str] | None = None) -> list[tuple[int, int]]:
    """Where the decoder ``kind`` can match at all: a necessary condition checked with C scans,
    so ordinary prose skips the per-character regex passes. A one-byte ``in`` (memchr) goes
    before every longer needle, which costs far more per byte."""
    if kind == "unicode_tags":
        return _whole(text) if b"\xf3" in encoded and (b"\xf3\xa0\x80" in encoded or b"\xf3\xa0\x81" in encoded) else []
    if run_kinds is not None and kind in _RUN_KINDS and kind not in run_kinds:
        return []  # no run long enough (checked by one hyperscan scan for both kinds)
    if kind == "base64":
        return _long_runs(text, encoded, _B64_TABLE)
    if kind == "hex":
        return _long_runs(text, encoded, _HEX_TABLE)
    if kind == "hex_escape":
        return _whole(text) if b"\\" in encoded and b"\\x" in encoded else []
    if kind == "uni_escape":
        return _whole(text) if b"\\" in encoded and b"\\u" in encoded else []
    if kind == "url":
        return _percent_spans(text) if b"%" in encoded else []
    return _whole(text) if b"&" in encoded else []  # html


_DECODERS = (
    ("unicode_tags", "unicode_tags", _TAGS_RE, _decode_tags),
    ("base64", "base64", _B64_RE, _decode_b64),
    ("hex", "hex", _HEX_RE, _decode_hex),
    ("escape", "hex_escape", _HEX_ESC_RE, _decode_hex_escapes),
    ("escape", "uni_escape", _UNI_ESC_RE, _decode_uni_escapes),
    ("url", "url", _URLENC_RE, _decode_url),
    ("html", "html", _ENTITY_RE, _decode_entities),
)


def _segment_matches(kind: str, pattern: re.Pattern[str], text: str, start: int, end: int) -> Iterator[str]:
    """The texts ``pattern.finditer(text, start, end)`` yields. A hex span (a maximal run of hex
    digits and separators, at least ``_MIN_RUN`` long) without separators holds one match: the
    whole run (the lookbehind allows only the run's start; the possessive repeat takes every
    digit), so the per-digit regex loop is skipped."""
    if kind == "hex":
        run = text[start:end]
        if not any(sep in run for sep in _HEX_SEPARATORS):
            yield run
            return
    for m in pattern.finditer(text, start, end):
        yield m.group(0)


def _decoded_segments(text: str, encoded: bytes, budget: list[int]) -> list[tuple[str, str]]:
    """(where, decoded text) for bounded encoded segments of ``text``; ``budget`` = [segments, chars].

    Each decoder's regex runs only over the spans where it can match (see
    :func:`_segment_spans`); every match lies inside one span, so the matches and their order
    are those of a pass over the whole text (:func:`_decoded_segments_reference`).
    """
    return _decode_all(text, encoded, budget, reference=False)


def _decoded_segments_reference(text: str, encoded: bytes, budget: list[int]) -> list[tuple[str, str]]:
    """:func:`_decoded_segments` with each decoder's regex run over the whole text."""
    return _decode_all(text, encoded, budget, reference=True)


def _decode_all(text: str, encoded: bytes, budget: list[int], *, reference: bool) -> list[tuple[str, str]]:
    """The decoded segments of ``text`` (``encoded``: its UTF-8 form, ``surrogatepass``)."""
    out: list[tuple[str, str]] = []
    run_kinds = None if reference else _run_kinds(encoded)
    for where, kind, pattern, decoder in _DECODERS:
        spans = _whole(text) if reference else _segment_spans(kind, text, encoded, run_kinds)
        for span_start, span_end in spans:
            matches = (
                (m.group(0) for m in pattern.finditer(text, span_start, span_end))
                if reference
                else _segment_matches(kind, pattern, text, span_start, span_end)
            )
            for segment in matches:
                if budget[0] <= 0 or budget[1] <= 0:
                    return out
                for decoded in decoder(segment[:MAX_SEGMENT_CHARS]):
                    if budget[0] <= 0 or budget[1] <= 0:
                        return out
                    decoded = decoded[: budget[1]]
                    budget[0] -= 1
                    budget[1] -= len(decoded)
                    out.append((where, decoded))
    return out


@attrs.frozen
class _Paths:
    """The functions one classification runs: the fast ones, or the whole-text references."""

    fold: Callable[[str, bytes], tuple[str, bytes]]
    scan_counts: Callable[[str, str], dict[str, int]]
    count_marker_like: Callable[[str, bytes, _MarkerAnchors], int]
    scan_phrases: Callable[[str, bytes | None, str, dict[str, Tier1Match]], _MarkerAnchors]
    decoded_segments: Callable[[str, bytes, list[int]], list[tuple[str, str]]]


def _fold_fast(text: str, encoded: bytes) -> tuple[str, bytes]:
    """The folded text behind a leading line break (line-start rules anchor on it) and its
    UTF-8 form, from ``text`` and its UTF-8 form (one encode serves every byte scan)."""
    folded = b"\n" + fold_utf8(encoded, text.isascii())
    return folded.decode("utf-8", "surrogatepass"), folded


def _fold_whole(text: str, encoded: bytes) -> tuple[str, bytes]:
    """:func:`_fold_fast` through :func:`fold_reference`."""
    folded = "\n" + fold_reference(text)
    return folded, folded.encode("utf-8", "surrogatepass")


def _markers_folded(folded: str, encoded: bytes, anchors: _MarkerAnchors) -> int:
    if anchors is not None and not anchors:
        return 0  # no anchor, so no region holding a marker-like span
    return count_marker_like(folded, folded=True, encoded=encoded, spaced_ethos=anchors is None or 0 in anchors)


def _markers_folded_reference(folded: str, encoded: bytes, anchors: _MarkerAnchors) -> int:
    return count_marker_like_reference(folded, folded=True)


_FAST = _Paths(
    fold=_fold_fast,
    scan_counts=scan_counts,
    count_marker_like=_markers_folded,
    scan_phrases=_scan_phrases,
    decoded_segments=_decoded_segments,
)
_REFERENCE = _Paths(
    fold=_fold_whole,
    scan_counts=scan_counts_reference,
    count_marker_like=_markers_folded_reference,
    scan_phrases=_scan_phrases_reference,
    decoded_segments=_decoded_segments_reference,
)


def _scan_decoded(
    text: str, encoded: bytes, found: dict[str, Tier1Match], budget: list[int], depth: int, paths: _Paths
) -> None:
    for where, decoded in paths.decoded_segments(text, encoded, budget):
        inner: dict[str, Tier1Match] = {}
        decoded_utf8 = decoded.encode("utf-8", "surrogatepass")
        paths.scan_phrases(*paths.fold(decoded, decoded_utf8), where, inner)
        if depth < MAX_DEPTH:
            _scan_decoded(decoded, decoded_utf8, inner, budget, depth + 1, paths)
        inner.pop(rules.ENCODED, None)
        for sig, match in inner.items():
            found.setdefault(sig, attrs.evolve(match, where=where))
        if inner and rules.ENCODED not in found:
            first = next(iter(inner.values()))
            found[rules.ENCODED] = Tier1Match(rules.ENCODED, first.excerpt, where)


def classify(text: str) -> Tier1Result:
    """Tier-1 verdict for ``text`` (any size; work is linear and decoded work is capped)."""
    return _classify(text, _FAST)


def classify_reference(text: str) -> Tier1Result:
    """:func:`classify` through the whole-text reference paths (no anchors, gates or per-stretch
    folding). Slow; it exists so tests can check that every fast path gives the same result."""
    return _classify(text, _REFERENCE)


def _classify(text: str, paths: _Paths) -> Tier1Result:
    if not isinstance(text, str):
        raise TypeError("classify() needs str")
    found: dict[str, Tier1Match] = {}
    encoded = text.encode("utf-8", "surrogatepass")
    folded, folded_utf8 = paths.fold(text, encoded)
    counts = paths.scan_counts(text, folded)
    hidden = counts["bidi_controls"] + counts["unicode_tags"]
    if hidden or counts["zero_width"] + counts["other_invisible"] >= 3:
        found[rules.HIDDEN_UNICODE] = Tier1Match(rules.HIDDEN_UNICODE, f"{hidden + counts['zero_width'] + counts['other_invisible']} hidden characters")
    if counts["template_tokens"] or counts["role_markers"]:
        found[rules.TEMPLATE_TOKEN] = Tier1Match(
            rules.TEMPLATE_TOKEN, f"{counts['template_tokens']} template tokens, {counts['role_markers']} role markers"
        )
    anchors = paths.scan_phrases(folded, folded_utf8, "text", found)
    if paths.count_marker_like(folded, folded_utf8, anchors):
        found[rules.WRAPPER_FORGERY] = Tier1Match(rules.WRAPPER_FORGERY, "marker-like text")
    _scan_decoded(text, encoded, found, [MAX_SEGMENTS, MAX_DECODED_TOTAL], 1, paths)
    signals = tuple(sorted(found))
    matches = tuple(found[s] for s in signals)
    return Tier1Result(flagged=bool(signals), signals=signals, matches=matches, counts=counts)
