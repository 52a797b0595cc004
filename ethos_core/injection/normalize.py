"""Text normalisation shared by the injection controls.

Invariant: :func:`fold` maps text to the form every tier-1 rule is written against (invisible
characters removed, NFKC, case-folded, look-alike letters mapped to Latin, whitespace collapsed
with line breaks kept), and :func:`skeleton` does the same one character for one character so a
match in the skeleton is a match at the same offsets in the original.

Not covered: look-alikes outside the table below (it lists the Cyrillic, Greek, Armenian and
Latin-extended letters seen in homoglyph attacks), leetspeak digits, and images of text.
"""

from __future__ import annotations

import re
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
# Every character ``str.isspace`` (and so regex ``\s``) accepts lies below U+3001.
_OTHER_SPACE = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace() and ch not in "\n ")
_OTHER_SPACE_ASCII = tuple(ch for ch in _OTHER_SPACE if ch.isascii())
_OTHER_SPACE_RE = re.compile("[" + re.escape(_OTHER_SPACE) + "]")
_LINE_BREAK_RUN_RE = re.compile(r"\n\s+")


def remove_invisible(text: str) -> str:
    """``text`` without invisible format characters (zero-width, bidi controls, tags, …)."""
    return INVISIBLE_RE.sub("", text)


def _fold_confusables(run: re.Match[str]) -> str:
    return run.group(0).translate(_CONFUSABLE_TABLE)


def _collapse_space(text: str) -> str:
    """Each run of whitespace becomes one line break if it holds one, else one space.

    Every step starts at a literal or a rare character, so ordinary text costs a few C scans.
    """
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


def fold(text: str) -> str:
    """The normalised form tier-1 rules match against (lengths and offsets may change)."""
    if not text.isascii():
        text = INVISIBLE_RE.sub("", text)
        text = unicodedata.normalize("NFKD", text)
        text = _COMBINING_RE.sub("", text)
        text = unicodedata.normalize("NFKC", text)
    text = text.casefold()
    if not text.isascii():
        text = _CONFUSABLE_RUN_RE.sub(_fold_confusables, text)
    return _collapse_space(text)


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
