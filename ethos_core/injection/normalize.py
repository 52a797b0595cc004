"""Text normalisation shared by the injection controls.

Invariant: :func:`fold` maps text to the form every tier-1 rule is written against (invisible
characters removed, NFKC, case-folded, look-alike letters mapped to Latin, whitespace collapsed
with line breaks kept — every line break ``str.splitlines`` knows becomes ``\n``), and :func:`skeleton` does the same one character for one character so a
match in the skeleton is a match at the same offsets in the original. :func:`fold` normalises
only the non-ASCII stretches (exact: see the note above it), one character at a time when
every character of a stretch is inert (:func:`_fold_stretch`); :func:`fold_utf8` is the same
fold from UTF-8 to UTF-8 for callers that hold the bytes; :func:`fold_reference` is the same
fold in whole-text passes, and tests compare the two.

Not covered: look-alikes outside the table below (it lists the Cyrillic, Greek, Armenian and
Latin-extended letters seen in homoglyph attacks), leetspeak digits, and images of text.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

# Characters with no visible rendering that attackers use to split keywords or smuggle text.
INVISIBLE_CLASS = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f\U000e0100-\U000e01ef"
)
INVISIBLE_RE = re.compile(f"[{INVISIBLE_CLASS}]")

# Look-alike letters (after case folding) to the Latin letter they imitate.
CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ө": "o", "ү": "y", "ғ": "f", "ь": "b", "ɡ": "g",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "m", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ϲ": "c", "γ": "y", "ζ": "z", "ω": "w", "ϳ": "j",
    # Armenian and Latin-extended look-alikes
    "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n", "ı": "i", "ȷ": "j", "ℓ": "l", "ɑ": "a",
    "ɩ": "i", "ʏ": "y", "ᴀ": "a", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ɪ": "i", "ᴋ": "k", "ʟ": "l",
    "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v",
    "ᴡ": "w", "ᴢ": "z",
}
_CONFUSABLE_TABLE = str.maketrans(CONFUSABLES)

# Combining marks are dropped after NFKD-style decomposition so "ïgnörè" reads as "ignore".
_COMBINING_RE = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_CONFUSABLE_RUN_RE = re.compile("[" + "".join(CONFUSABLES) + "]+")
# Line breaks other than "\n" (the ones ``str.splitlines`` knows): the fold turns each into
# "\n", so line-start rules and the quoting check see the lines a reader sees.
_LINE_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK_RE = re.compile("[" + _LINE_BREAKS + "]")
# Every character ``str.isspace`` (and so regex ``\s``) accepts lies below U+3001.
_OTHER_SPACE = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace() and ch not in "\n " + _LINE_BREAKS)
_OTHER_SPACE_ASCII = tuple(ch for ch in _OTHER_SPACE if ch.isascii())
_OTHER_SPACE_RE = re.compile("[" + re.escape(_OTHER_SPACE) + "]")
_LINE_BREAK_RUN_RE = re.compile(r"\n\s+")


def remove_invisible(text: str) -> str:
    """``text`` without invisible format characters (zero-width, bidi controls, tags, …)."""
    return INVISIBLE_RE.sub("", text)


def _fold_confusables(run: re.Match[str]) -> str:
    return run.group(0).translate(_CONFUSABLE_TABLE)


def _collapse_space(text: str) -> str:
    """Each run of whitespace becomes one line break if it holds one (any of
    ``_LINE_BREAKS`` too), else one space (:func:`fold_reference`; :func:`fold` does the same
    on bytes)."""
    if _LINE_BREAK_RE.search(text):
        text = _LINE_BREAK_RE.sub("\n", text)
    if text.isascii():
        if any(ch in text for ch in _OTHER_SPACE_ASCII):
            text = _OTHER_SPACE_RE.sub(" ", text)
    elif _OTHER_SPACE_RE.search(text):
        text = _OTHER_SPACE_RE.sub(" ", text)
    while "  " in text:  # halves every run of spaces per round
        text = text.replace("  ", " ")
    if "\n " in text or "\n\n" in text:
        text = _LINE_BREAK_RUN_RE.sub("\n", text)
    if " \n" in text:
        text = text.replace(" \n", "\n")
    return text


def _fold_letters(text: str) -> str:
    """Every step of :func:`fold` but the whitespace collapse, applied to all of ``text``."""
    text = INVISIBLE_RE.sub("", text)
    text = unicodedata.normalize("NFKD", text)
    text = _COMBINING_RE.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    text = text.casefold()
    if not text.isascii():
        text = _CONFUSABLE_RUN_RE.sub(_fold_confusables, text)
    return text


# Cutting the text right before an ASCII character is exact for every step of the fold: an
# ASCII character is a starter (canonical reordering never crosses it), no canonical
# decomposition has an ASCII tail (so it never composes with what precedes it), and it blocks
# composition across itself; invisible removal, case folding, the look-alike table and the
# mapping of other spaces to " " work one character at a time. So the non-ASCII stretches (runs
# joined across ASCII gaps of up to 8 characters), each with the ASCII character before it
# (which a mark may compose with), are folded alone and the ASCII rest goes through one byte
# table. All of it works on the UTF-8 copy, where C byte scans are fastest; the stretch regex
# starts with a literal byte so the engine skips to candidates in C.
_ASCII_FOLD_TABLE = bytes(
    (b + 32 if 0x41 <= b <= 0x5A else 0x20 if chr(b) in _OTHER_SPACE_ASCII else 0x0A if chr(b) in _LINE_BREAKS else b)
    for b in range(256)
)  # upper case to lower case, other ASCII spaces to " ", line breaks to "\n", bytes >= 0x80 unchanged
_HIGH_TABLE = bytes(0x61 if b < 0x80 else 0x78 for b in range(256))  # ASCII -> "a", else "x"
_STRETCH_RE = re.compile(rb"xx*+(?:a{1,8}+xx*+)*+")
_STRETCH_CACHE: dict[bytes, bytes] = {}
_STRETCH_CACHE_MAX = 4096
_STRETCH_CACHE_KEY = 24  # stretches up to this many bytes (a quote, a dash, a word) are memoised


# Characters that can follow a starter in a canonical composition although their combining
# class is 0 (Hangul vowel and trailing jamo, some Indic and Brahmic vowel signs), as of the
# Unicode version below; every other second part of a composition has a non-zero combining
# class. A Python with other Unicode data computes the set instead (a test checks the list).
STARTER_SECOND_ELEMENTS_UNICODE = "14.0.0"
STARTER_SECOND_ELEMENTS = frozenset(
    [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]
    + [0x09BE, 0x09D7, 0x0B3E, 0x0B56, 0x0B57, 0x0BBE, 0x0BD7, 0x0CC2, 0x0CD5, 0x0CD6, 0x0D3E, 0x0D57]
    + [0x0DCF, 0x0DDF, 0x0FB5, 0x0FB7, 0x102E, 0x1B35, 0x11127, 0x1133E, 0x11357, 0x114B0, 0x114BA]
    + [0x114BD, 0x115AF, 0x11930]
)
_NOT_ALONE = "\uffff"  # per-character table value: the character must be folded with its neighbours
_CHAR_FOLD_MAX = 65_536  # entries kept; characters beyond are folded again on each use


def starter_second_elements_from_data() -> frozenset[int]:
    """The second parts of canonical compositions with combining class 0, from the running
    Python's Unicode data (Hangul jamo compose algorithmically; ~0.5 s)."""
    seconds = {*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)}
    for cp in range(sys.maxunicode + 1):
        decomposition = unicodedata.decomposition(chr(cp))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2 and unicodedata.combining(chr(int(parts[1], 16))) == 0:
                seconds.add(int(parts[1], 16))
    return frozenset(seconds)


@functools.cache
def _starter_seconds() -> frozenset[int]:
    if unicodedata.unidata_version == STARTER_SECOND_ELEMENTS_UNICODE:
        return STARTER_SECOND_ELEMENTS
    return starter_second_elements_from_data()


def _inert(ch: str) -> bool:
    """What the compatibility decomposition of ``ch`` keeps (combining marks dropped) is empty
    or starts with a starter that no canonical composition takes as its second part."""
    kept = _COMBINING_RE.sub("", unicodedata.normalize("NFKD", ch))
    return not kept or (unicodedata.combining(kept[0]) == 0 and ord(kept[0]) not in _starter_seconds())


class _CharFoldTable(dict[int, str]):
    """Per-code-point :func:`_fold_letters` (other spaces as " ", line breaks as "\\n") of the inert characters
    (:func:`_inert`), :data:`_NOT_ALONE` for the others; computed lazily (``str.translate``)."""

    def __missing__(self, key: int) -> str:
        ch = chr(key)
        value = _NOT_ALONE
        if ch != _NOT_ALONE and _inert(ch):
            value = _LINE_BREAK_RE.sub("\n", _OTHER_SPACE_RE.sub(" ", _fold_letters(ch)))
        if len(self) < _CHAR_FOLD_MAX:
            self[key] = value
        return value


_CHAR_FOLD = _CharFoldTable()


def _fold_stretch(stretch: bytes) -> bytes:
    """:func:`_fold_letters` (other spaces as " ", line breaks as "\\n") of one stretch.

    A stretch of inert characters folds one character at a time: each character's kept part
    starts with a starter that composes with nothing before it, so canonical reordering and
    composition stay inside the part, and the remaining steps work per character. Stretches
    holding another character take the whole-stretch steps."""
    text = stretch.decode("utf-8", "surrogatepass")
    folded = text.translate(_CHAR_FOLD)
    if _NOT_ALONE in folded:
        folded = _fold_letters(text)
        if _OTHER_SPACE_RE.search(folded):
            folded = _OTHER_SPACE_RE.sub(" ", folded)
        if _LINE_BREAK_RE.search(folded):
            folded = _LINE_BREAK_RE.sub("\n", folded)
    return folded.encode("utf-8", "surrogatepass")


def _collapse_line_breaks(low: bytes) -> bytes:
    """Each run of spaces and line breaks in ``low`` that holds a line break becomes one line
    break (spaces are single by now). One split at the breaks (memchr) and per-line strips:
    two-byte searches over the whole text ("\\n ", " \\n") cost more, as spaces are everywhere.
    The inner lines are stripped by ``map(bytes.strip, …)`` (no Python frame per line): by now
    a space is the only ASCII whitespace byte a line can hold, so it strips exactly spaces."""
    lines = low.split(b"\n")
    last = len(lines) - 1
    kept = [lines[0].rstrip(b" ")]
    kept += filter(None, map(bytes.strip, lines[1:last]))
    kept.append(lines[last].lstrip(b" "))
    return b"\n".join(kept)


def fold(text: str) -> str:
    """The normalised form tier-1 rules match against (lengths and offsets may change).

    ASCII text costs a byte-table pass and the whitespace collapse; in other text only the
    non-ASCII stretches go through NFKD/NFKC and the look-alike table (see the note above).
    :func:`fold_reference` is the same fold in whole-text passes.
    """
    return fold_utf8(text.encode("utf-8", "surrogatepass"), text.isascii()).decode("utf-8", "surrogatepass")


def fold_utf8(raw: bytes, ascii_only: bool) -> bytes:
    """:func:`fold` on the UTF-8 form (``surrogatepass``) of a text, giving the UTF-8 form of
    the folded text; ``ascii_only`` says the text is ASCII. Callers that need the bytes on
    both sides spare an encode and a decode."""
    low = raw.translate(_ASCII_FOLD_TABLE)
    if not ascii_only:
        parts: list[bytes] = []
        append = parts.append
        cache = _STRETCH_CACHE
        pos = 0
        for m in _STRETCH_RE.finditer(raw.translate(_HIGH_TABLE)):
            start, end = m.span()
            if start:
                start -= 1
            if start > pos:
                append(low[pos:start])
            stretch = raw[start:end]
            folded = cache.get(stretch)
            if folded is None:
                folded = _fold_stretch(stretch)
                if len(stretch) <= _STRETCH_CACHE_KEY and len(cache) < _STRETCH_CACHE_MAX:
                    cache[stretch] = folded
            append(folded)
            pos = end
        append(low[pos:])
        low = b"".join(parts)
    while b"  " in low:  # halves every run of spaces per round
        low = low.replace(b"  ", b" ")
    if b"\n" in low:  # one memchr spares the line pass on one-line text
        low = _collapse_line_breaks(low)
    return low


def fold_reference(text: str) -> str:
    """:func:`fold` without the per-stretch fast path (whole-text passes); tests compare the two."""
    return _collapse_space(_fold_letters(text))


def fold_pattern(pattern: str) -> str:
    """Apply the letter folding of :func:`fold` to a regex source (ASCII syntax is untouched).

    Rules are written in natural spelling; folding them the same way as the text keeps, e.g.,
    Russian rules matching after Cyrillic look-alikes have been mapped to Latin.
    """
    if pattern.isascii():
        return pattern
    out = unicodedata.normalize("NFKD", pattern)
    out = _COMBINING_RE.sub("", out)
    out = unicodedata.normalize("NFKC", out)
    out = "".join(ch.casefold() if not ch.isascii() else ch for ch in out)
    return out.translate(_CONFUSABLE_TABLE)


class _SkeletonTable(dict[int, int]):
    """Per-code-point 1:1 fold, computed lazily and cached (``str.translate`` calls it)."""

    def __missing__(self, key: int) -> int:
        ch = chr(key)
        norm = unicodedata.normalize("NFKC", ch)
        if len(norm) == 1:
            ch = norm
        decomposed = unicodedata.normalize("NFKD", ch)
        if decomposed and len(_COMBINING_RE.sub("", decomposed)) == 1:
            ch = _COMBINING_RE.sub("", decomposed)
        low = ch.lower()
        if len(low) == 1:
            ch = low
        ch = CONFUSABLES.get(ch, ch)
        value = ord(ch)
        self[key] = value
        return value


_SKELETON = _SkeletonTable()
for _c in range(128):
    _SKELETON[_c] = ord(chr(_c).lower())


def skeleton(text: str) -> str:
    """Case-, width- and look-alike-folded copy of ``text`` with exactly the same length."""
    return text.translate(_SKELETON)
