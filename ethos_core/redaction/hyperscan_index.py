"""One Intel Hyperscan scan finds every anchor and every shortcut flag of the redaction engine.

Invariant: :meth:`HyperscanIndex.find` returns exactly the anchor occurrences
:class:`~ethos_core.redaction.patterns.AnchorIndex` returns (every occurrence of every cased
literal in the text and of every lower-case literal in the ASCII-lower-cased text, overlaps
included, positions ascending, as ``str.find`` reports them), plus one bit per *flag pattern*
that is set whenever the flag's Python regex would match somewhere in the text (a flag may be
set when it would not: flags only let the engine skip work, never decide a span). Each scan is
one pass of Hyperscan's automata over the text's bytes: linear in the input, ~1-2 ns per byte.

Text is handed to Hyperscan one byte per character, so byte offsets are ``str`` offsets: pure
ASCII text as is, anything else through an ``ascii`` encode that writes ``\\x7f`` for each
non-ASCII character (no anchor holds ``\\x7f`` or a non-ASCII character, and a flag pattern
must treat ``\\x7f`` at least as permissively as any non-ASCII character: the engine checks the
patterns it gives here at import time, see ``engine._flag_patterns``). Case-insensitive
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
    """``text`` as bytes, one per character (non-ASCII characters become ``\\x7f``)."""
    if text.isascii():
        return text.encode("ascii")
    return text.encode("ascii", _ERRORS)


def _literal(needle: str) -> bytes:
    return "".join(f"\\x{ord(c):02x}" for c in needle).encode("ascii")


class HyperscanIndex:
    """Cased literals, lower-case literals (matched caselessly) and flag regexes in one database.

    ``flags``: ``(regex, caseless)`` pairs in Hyperscan's syntax; bit ``k`` of the result is
    set when flag ``k`` matched (compiled ``HS_FLAG_SINGLEMATCH | HS_FLAG_PREFILTER``: a superset
    of the regex's matches, reported once).
    """

    def __init__(self, hs: Any, cased: Iterable[str], lower: Iterable[str], flags: Sequence[tuple[str, bool]]) -> None:
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
        # id -> (needle, length, is_cased); ids past the literals are flags.
        literals: list[tuple[str, int, bool]] = []
        for needle in cased_list:
            expressions.append(_literal(needle))
            hs_flags.append(0)
            literals.append((needle, len(needle), True))
        for needle in lower_list:
            expressions.append(_literal(needle))
            hs_flags.append(hs.HS_FLAG_CASELESS)
            literals.append((needle, len(needle), False))
        for regex, caseless in flags:
            expressions.append(regex.encode("ascii"))
            hs_flags.append(
                hs.HS_FLAG_SINGLEMATCH
                | hs.HS_FLAG_PREFILTER
                | hs.HS_FLAG_ALLOWEMPTY  # a flag that could match empty is simply always set
                | (hs.HS_FLAG_CASELESS if caseless else 0)
            )
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        db.compile(expressions=expressions, ids=list(range(len(expressions))), elements=len(expressions), flags=hs_flags)
        self._hs = hs
        self._db = db
        self._literals = tuple(literals)
        self._n_literals = len(literals)
        self._local = threading.local()

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        return scratch

    def find(self, text: str) -> tuple[dict[str, list[int]], dict[str, list[int]], int]:
        """``({cased needle: starts}, {lower needle: starts}, flag bits)``, positions ascending."""
        raw: list[tuple[int, int]] = []
        append = raw.append

        def on_match(ident: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            append((ident, to))

        self._db.scan(to_scan_bytes(text), match_event_handler=on_match, scratch=self._scratch())
        cased: dict[str, list[int]] = {}
        lower: dict[str, list[int]] = {}
        bits = 0
        if not raw:
            return cased, lower, bits
        literals = self._literals
        n_literals = self._n_literals
        for ident, to in raw:
            if ident < n_literals:
                needle, length, is_cased = literals[ident]
                (cased if is_cased else lower).setdefault(needle, []).append(to - length)
            else:
                bits |= 1 << (ident - n_literals)
        # Hyperscan reports in end order; equal lengths make that start order, but be exact.
        for hits in (cased, lower):
            for positions in hits.values():
                positions.sort()
        return cased, lower, bits
