"""One Intel Hyperscan scan finds every anchor and every shortcut flag of the redaction engine.

Invariant: :meth:`HyperscanIndex.find` returns exactly the anchor occurrences
:class:`~ethos_core.redaction.patterns.AnchorIndex` returns (every occurrence of every cased
literal in the text and of every lower-case literal in the ASCII-lower-cased text, overlaps
included, positions ascending, as ``str.find`` reports them), plus one bit per *flag pattern*
that is set whenever the flag's Python regex would match somewhere in the text (a flag may be
set when it would not: flags only let the engine skip work, never decide a span). Each scan is
one pass of Hyperscan's automata over the text's bytes: linear in the input, ~1-2 ns per byte.

Text is handed to Hyperscan one byte per character, so byte offsets are ``str`` offsets: pure
ASCII text as is, anything else through a ``latin-1`` encode that writes ``\\x7f`` for each
character above U+00FF (no anchor holds ``\\x7f`` or a non-ASCII character, and a flag pattern
must treat bytes ``\\x7f``-``\\xff`` at least as permissively as any non-ASCII character: the
engine refuses, at import, flag patterns with Unicode-dependent syntax, see
``engine._flag_pattern``). Case-insensitive
literals use Hyperscan's ``HS_FLAG_CASELESS``, which folds ASCII letters only, as ``ascii_lower``
does.

The dependency is optional: ``python-hyperscan`` (manylinux wheels that bundle Intel's libhs).
When it cannot be imported, or ``ETHOS_REDACTION_ENGINE=python`` is set, :func:`hyperscan_module`
returns ``None`` and the engine keeps its pyahocorasick / pivot-pass path; both paths are tested
against the same plain reference (tests/redaction/test_fast_paths.py).

Not covered: nothing here decides a span; the exact Python regexes in ``patterns.py`` confirm
every candidate.
"""

from __future__ import annotations

import codecs
import importlib
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

#: Set ``ETHOS_REDACTION_ENGINE=python`` to force the pure-Python anchor path.
ENGINE_ENV = "ETHOS_REDACTION_ENGINE"


def hyperscan_module() -> Any | None:
    """The ``hyperscan`` module, or ``None`` when it is absent or the Python engine is forced."""
    if os.environ.get(ENGINE_ENV, "").strip().lower() == "python":
        return None
    try:
        return importlib.import_module("hyperscan")
    except ImportError:
        return None


def _one_byte_per_char(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeEncodeError):
        raise err
    return "\x7f" * (err.end - err.start), err.end


_ERRORS = "ethos-redaction-one-byte"
codecs.register_error(_ERRORS, _one_byte_per_char)


def to_scan_bytes(text: str) -> bytes:
    """``text`` as bytes, one per character: ASCII as is, U+0080-U+00FF as their Latin-1 byte
    (decoded base64/hex is Latin-1), anything above as ``\\x7f``. No anchor or flag pattern
    tells these non-ASCII bytes apart (no needle holds one; flag classes are ASCII)."""
    if text.isascii():
        return text.encode("ascii")
    return text.encode("latin-1", _ERRORS)


def _literal(needle: str) -> bytes:
    return "".join(f"\\x{ord(c):02x}" for c in needle).encode("ascii")


class HyperscanIndex:
    """Literals, fixed-width position patterns and flag regexes in one Hyperscan database.

    ``cased`` literals are matched exactly, ``lower`` ones (lower-case) caselessly. ``positions``:
    ``(regex, width, key, kind)`` with ``regex`` of fixed ``width`` (so each reported end is one
    start), or ``width`` 0 for Hyperscan's leftmost start of match (each end reports its leftmost
    start: only exact for a regex where one end has one possible start): every start is reported
    under ``key`` in the cased (``kind`` 0), lower (1) or marks (2) result, ascending, a start
    repeated once per end. ``flags``: regexes; bit ``k`` of the result is set when flag ``k`` may match
    (compiled ``HS_FLAG_SINGLEMATCH | HS_FLAG_PREFILTER``: a superset, reported once).
    """

    def __init__(
        self,
        hs: Any,
        cased: Iterable[str],
        lower: Iterable[str],
        positions: Sequence[tuple[str, int, str, int]],
        flags: Sequence[str],
    ) -> None:
        cased_list = sorted(set(cased))
        lower_list = sorted(set(lower))
        for needle in cased_list + lower_list:
            if not needle or not needle.isascii() or "\x7f" in needle:
                raise ValueError(f"bad needle {needle!r}")
        for needle in lower_list:
            if needle != needle.lower():
                raise ValueError(f"bad needle {needle!r}")
        expressions: list[bytes] = []
        hs_flags: list[int] = []
        # id -> (key, width, kind); ids past these are flags.
        entries: list[tuple[str, int, int]] = []
        for needle in cased_list:
            expressions.append(_literal(needle))
            hs_flags.append(0)
            entries.append((needle, len(needle), 0))
        for needle in lower_list:
            expressions.append(_literal(needle))
            hs_flags.append(hs.HS_FLAG_CASELESS)
            entries.append((needle, len(needle), 1))
        for regex, width, key, kind in positions:
            expressions.append(regex.encode("ascii"))
            hs_flags.append(0 if width else hs.HS_FLAG_SOM_LEFTMOST)
            entries.append((key, width, kind))
        for regex in flags:
            expressions.append(regex.encode("ascii"))
            # a flag that could match empty is simply always set (HS_FLAG_ALLOWEMPTY)
            hs_flags.append(hs.HS_FLAG_SINGLEMATCH | hs.HS_FLAG_PREFILTER | hs.HS_FLAG_ALLOWEMPTY)
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        db.compile(expressions=expressions, ids=list(range(len(expressions))), elements=len(expressions), flags=hs_flags)
        self._hs = hs
        self._db = db
        self._entries = tuple(entries)
        self._n_entries = len(entries)
        self._local = threading.local()

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        return scratch

    def find(self, text: str) -> Scan:
        """``(cased hits, lower hits, marks, flag bits)``: ``{key: ascending starts}`` and an int."""
        results: tuple[dict[str, list[int]], dict[str, list[int]], dict[str, list[int]]] = ({}, {}, {})
        bits = [0]
        entries = self._entries
        n_entries = self._n_entries

        # The work per hit is done in the callback itself: no list of raw hits to walk again.
        def on_match(ident: int, start: int, to: int, _flags: int, _ctx: object) -> None:
            if ident < n_entries:
                key, width, kind = entries[ident]
                hits = results[kind]
                positions = hits.get(key)
                if positions is None:
                    hits[key] = [to - width if width else start]
                else:
                    positions.append(to - width if width else start)
            else:
                bits[0] |= 1 << (ident - n_entries)

        self._db.scan(to_scan_bytes(text), match_event_handler=on_match, scratch=self._scratch())
        # Hyperscan reports in end order; a fixed width makes that start order, but be exact.
        for hits in results:
            for positions in hits.values():
                positions.sort()
        return results[0], results[1], results[2], bits[0]


#: What one scan found: cased hits, lower hits, marks (``{key: ascending starts}``), flag bits.
Scan = tuple[dict[str, list[int]], dict[str, list[int]], dict[str, list[int]], int]


class LiteralScanner:
    """Every occurrence of each of a set of ASCII literals, exact case, in one Hyperscan scan.

    Used for known values (``known.py``): their lower-cased forms and fragment windows, searched
    in the ASCII-lower-cased text. Same results as ``str.find`` from every position (overlaps
    included), positions ascending. Literals holding ``\\x7f`` or a non-ASCII character are
    refused (the scan maps non-ASCII characters onto such bytes): keep an automaton for those.
    """

    def __init__(self, hs: Any, literals: Iterable[str]) -> None:
        self._literals = tuple(sorted(set(literals)))
        for literal in self._literals:
            if not literal or not literal.isascii() or "\x7f" in literal:
                raise ValueError(f"bad literal {literal!r}")
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        db.compile(
            expressions=[literal.encode("ascii") for literal in self._literals],
            ids=list(range(len(self._literals))),
            elements=len(self._literals),
            flags=0,
            literal=True,
        )
        self._hs = hs
        self._db = db
        self._lengths = tuple(len(literal) for literal in self._literals)
        self._local = threading.local()

    @staticmethod
    def accepts(literal: str) -> bool:
        return bool(literal) and literal.isascii() and "\x7f" not in literal

    def find(self, text: str) -> dict[str, list[int]]:
        """``{literal: ascending start positions}`` for each literal that occurs."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        found: dict[str, list[int]] = {}
        literals = self._literals
        lengths = self._lengths

        def on_match(ident: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            literal = literals[ident]
            positions = found.get(literal)
            if positions is None:
                found[literal] = [to - lengths[ident]]
            else:
                positions.append(to - lengths[ident])

        self._db.scan(to_scan_bytes(text), match_event_handler=on_match, scratch=scratch)
        for positions in found.values():
            positions.sort()
        return found
