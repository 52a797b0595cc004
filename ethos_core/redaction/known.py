"""Known-value redaction: every secret the process resolved is hidden wherever it appears.

Invariant: for each value of at least :data:`MIN_KNOWN_LENGTH` characters, these forms are found
case-insensitively and replaced by ``[REDACTED:secret:<ref>]``:

- the value itself, and its JSON-string-escaped form;
- base64 and base64url (with or without padding), in every alignment: a value embedded at any
  byte offset inside a larger base64 blob is still found (the characters that depend only on
  the value's bytes are searched for);
- URL-encoded (``quote``/``quote_plus``, ``%2F`` or ``%2f``);
- hex (lower and upper case, since matching is case-insensitive).

A value of at least :data:`MIN_FRAGMENT_LENGTH` characters is also found in pieces: every
12-character window at a stride of 6 (plus the first and last 12 characters) is searched and
each hit is extended left and right while the text keeps matching the value, so a secret split
across two lines, two JSON fields or two messages is redacted piece by piece; a piece shorter
than 17 characters that is neither the start nor the end of the value can survive.

All forms and fragment windows of a set of values are searched in one pass (:class:`KnownValueMatcher`):
a Hyperscan literal database per set of values when ``hyperscan`` is installed and every form
is ASCII, an Aho-Corasick automaton otherwise (and for the engine's quick check of short
strings); either gives the same results, in the same order, as one ``str.find`` scan per form
and window (tests/redaction/test_fast_paths.py checks both).

Not covered: values shorter than :data:`MIN_KNOWN_LENGTH` (they would destroy ordinary text;
pattern redaction still applies), encryption or compression of the value, encodings not listed
(e.g. base32, rot13), and a value split into many short pieces.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib
import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from ethos_core.redaction.hyperscan_index import LiteralScanner, hyperscan_module

# pyahocorasick ships no type information; the automaton is used through ``Any``.
_ahocorasick: Any = importlib.import_module("ahocorasick")

MIN_KNOWN_LENGTH = 8
MIN_FRAGMENT_LENGTH = 20
_WINDOW = 12
_STRIDE = 6

Candidate = tuple[int, int, str, int]  # start, end, label, priority

_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/]")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lower-case A-Z only, so every index of the result is the same index of ``text``."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def known_label(ref: str) -> str:
    """``secret:<ref>`` with characters that could break the marker replaced by ``_``."""
    return "secret:" + (_LABEL_UNSAFE.sub("_", ref)[:64] or "_")


def _base64_cores(raw: bytes) -> set[str]:
    """Base64 text that depends only on ``raw``'s bytes, for each of the 3 byte alignments."""
    cores: set[str] = set()
    n = len(raw)
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + raw + b"\0\0").decode("ascii")
        first = -(-8 * k // 6)  # ceil(8k/6)
        last = (8 * (k + n)) // 6  # exclusive
        core = encoded[first:last]
        if len(core) >= MIN_KNOWN_LENGTH:
            cores.add(core)
    # The exact, padded encodings (the value on its own).
    cores.add(base64.b64encode(raw).decode("ascii"))
    return cores


def encoded_forms(value: str) -> set[str]:
    """Every form of ``value`` that is searched for (already lower-cased)."""
    raw = value.encode("utf-8")
    forms = {value}
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    for core in _base64_cores(raw):
        forms.add(core)
        forms.add(core.rstrip("="))
        forms.add(core.replace("+", "-").replace("/", "_"))
        forms.add(core.replace("+", "-").replace("/", "_").rstrip("="))
    forms.add(urllib.parse.quote(value, safe=""))
    forms.add(urllib.parse.quote(value))
    forms.add(urllib.parse.quote_plus(value))
    forms.add(binascii.hexlify(raw).decode("ascii"))
    return {ascii_lower(f) for f in forms if len(f) >= MIN_KNOWN_LENGTH}


class KnownValueMatcher:
    """Finds every form of a set of known values; built once per distinct set (cached)."""

    def __init__(self, known_values: Mapping[str, str]):
        self.forms: list[tuple[str, str]] = []  # (lower-cased form, label)
        self.fragments: list[tuple[str, str, int, str]] = []  # (window, lower value, offset, label)
        seen: set[str] = set()
        # Longest first, so a value that contains another is labelled by itself.
        for ref, value in sorted(known_values.items(), key=lambda kv: -len(kv[1] or "")):
            if not isinstance(value, str) or len(value) < MIN_KNOWN_LENGTH:
                continue
            label = known_label(ref)
            for form in sorted(encoded_forms(value), key=len, reverse=True):
                if form not in seen:
                    seen.add(form)
                    self.forms.append((form, label))
            low = ascii_lower(value)
            if len(low) >= MIN_FRAGMENT_LENGTH:
                offsets = set(range(0, len(low) - _WINDOW + 1, _STRIDE))
                offsets.add(len(low) - _WINDOW)
                for off in sorted(offsets):
                    self.fragments.append((low[off : off + _WINDOW], low, off, label))

        # Every form and fragment window in one automaton: one pass over the text finds all their
        # occurrences (overlaps included), instead of one ``str.find`` scan per form and window.
        automaton = _ahocorasick.Automaton()
        for literal in sorted({form for form, _ in self.forms} | {f[0] for f in self.fragments}):
            automaton.add_word(literal, (literal, len(literal) - 1))
        automaton.make_automaton()
        #: ``automaton.iter(lowered)`` yields ``(end, (literal, len - 1))`` per occurrence.
        self.automaton = automaton
        # The same literals in a Hyperscan database when the package is there and every literal
        # is ASCII (~1 ns per character instead of the automaton's ~30): built lazily, once.
        self._literals = sorted({form for form, _ in self.forms} | {f[0] for f in self.fragments})
        self._scanner: LiteralScanner | None = None
        self._scanner_tried = False

    def _hyperscan(self) -> LiteralScanner | None:
        if not self._scanner_tried:
            hs = hyperscan_module()
            if hs is not None and all(LiteralScanner.accepts(literal) for literal in self._literals):
                try:
                    self._scanner = LiteralScanner(hs, self._literals)
                except Exception:  # noqa: BLE001 - e.g. an unsupported CPU: the automaton does it
                    self._scanner = None
            self._scanner_tried = True
        return self._scanner

    def occurrences(self, lowered: str, fast: bool = True) -> dict[str, list[int]]:
        """``{form or window: ascending start positions}``, overlaps included, in one pass.

        ``fast``: with Hyperscan when it is available (else, or ``False``: the automaton).
        """
        scanner = self._hyperscan() if fast else None
        if scanner is not None:
            return scanner.find(lowered)
        found: dict[str, list[int]] = {}
        for end, (literal, back) in self.automaton.iter(lowered):
            found.setdefault(literal, []).append(end - back)
        return found

    def find(self, lowered: str, fast: bool = True) -> list[Candidate]:
        """Spans of ``lowered`` (the ASCII-lower-cased text) holding a known value in any form.

        The same spans, in the same order, as searching each form left to right without overlap
        (``str.find`` from the end of the last hit) and each window from just before the end of
        its last extended hit. ``fast``: as in :meth:`occurrences`.
        """
        found = self.occurrences(lowered, fast)
        if not found:
            return []
        out: list[Candidate] = []
        for form, label in self.forms:
            next_start = 0
            for i in found.get(form, ()):
                if i >= next_start:
                    out.append((i, i + len(form), label, 5))
                    next_start = i + len(form)
        covered_until = -1
        hits: list[Candidate] = []
        for window, low, off, label in self.fragments:
            next_start = 0
            for i in found.get(window, ()):
                if i >= next_start:
                    start, end = self._extend(lowered, i, low, off)
                    hits.append((start, end, label, 5))
                    next_start = max(end - _WINDOW + 1, i + 1)
        for hit in sorted(hits):
            if hit[1] > covered_until:
                out.append(hit)
                covered_until = hit[1]
        return out

    @staticmethod
    def _extend(lowered: str, i: int, low: str, off: int) -> tuple[int, int]:
        """Grow the window hit at ``i`` (value offset ``off``) while the text keeps matching."""
        start, voff = i, off
        while voff > 0 and start > 0 and lowered[start - 1] == low[voff - 1]:
            start -= 1
            voff -= 1
        end, vend = i + _WINDOW, off + _WINDOW
        limit = len(lowered)
        while vend < len(low) and end < limit and lowered[end] == low[vend]:
            end += 1
            vend += 1
        return start, end


@functools.lru_cache(maxsize=16)
def _matcher_for(items: tuple[tuple[str, str], ...]) -> KnownValueMatcher:
    return KnownValueMatcher(dict(items))


# The last mapping seen and its matcher: a runtime passes the same secret values on every call,
# and comparing two small dicts costs a fraction of sorting the items into a cache key.
_last: tuple[dict[str, str], KnownValueMatcher | None] = ({}, None)


def matcher_for(known_values: Mapping[str, str]) -> KnownValueMatcher | None:
    """The (cached) matcher for ``known_values``; ``None`` when nothing is long enough to search."""
    snapshot, matcher = _last
    if snapshot and snapshot == known_values:
        return matcher
    items = tuple(sorted((str(k), v) for k, v in known_values.items() if isinstance(v, str) and len(v) >= MIN_KNOWN_LENGTH))
    matcher = _matcher_for(items) if items else None
    _remember(dict(known_values), matcher)
    return matcher


def _remember(snapshot: dict[str, str], matcher: KnownValueMatcher | None) -> None:
    global _last
    _last = (snapshot, matcher)  # one tuple, swapped atomically: readers see a consistent pair
