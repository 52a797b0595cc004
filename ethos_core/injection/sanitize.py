"""Sanitising of text before it enters the model's context.

Invariant: after :func:`sanitize`, the text contains no chat-template or role token of the
families below in any case, width (fullwidth), look-alike or spaced spelling — each was
replaced by a visible placeholder and counted — and no zero-width, bidi-control, Unicode tag
(U+E0000–E007F) or variation-selector-supplement character (each removed and counted). A
zero-width joiner between two emoji is kept (it is how emoji sequences are written).

Families: ChatML / OpenAI harmony ``<|…|>`` tokens (``<|im_start|>``, ``<|endoftext|>``,
``<|eot_id|>``, ``<|start_header_id|>``, ``<|tool_call|>``, DeepSeek ``<｜…｜>`` …), Llama 2
``[INST]``/``<<SYS>>``, Gemma ``<start_of_turn>``/``<end_of_turn>``, Mistral ``[INST]``,
``[TOOL_CALLS]``, ``[AVAILABLE_TOOLS]``, ``[TOOL_RESULTS]``, ``[SYSTEM_PROMPT]``, XML-style
tool tokens (``<tool_call>``, ``<tool_response>``, ``<function_call>``, ``<function=…>``), and
``Human:`` / ``Assistant:`` turn prefixes at the start of a line.

Not covered: template formats not listed here; role words inside sentences; meaning — a
sanitised text may still carry instructions (that is the classifier's and the wrapper's job).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ethos_core.injection.normalize import skeleton

TEMPLATE_PLACEHOLDER = "[template-token removed]"
ROLE_PLACEHOLDER = "[role-marker removed]"

_S = r"[\s▁]*"  # optional (spaced) separator inside a token
_TEMPLATE_RE = re.compile(
    "|".join(
        [
            # <|anything|> — ChatML, Llama 3, harmony, Phi, DeepSeek (fullwidth bars fold to |)
            rf"<{_S}\|{_S}/?[a-z][a-z0-9_▁\s.:=-]{{0,40}}?{_S}\|{_S}>",
            # Llama 2 / Mistral
            rf"\[{_S}/?{_S}inst{_S}\]",
            rf"<<{_S}/?{_S}sys{_S}>>",
            rf"\[{_S}/?{_S}(?:tool_calls|available_tools|tool_results|system_prompt|tool_content|control_\d+){_S}\]",
            # Gemma
            rf"<{_S}/?{_S}(?:start_of_turn|end_of_turn|start_of_image|end_of_image){_S}>",
            # XML-style tool-call tokens used by several open models
            rf"<{_S}/?{_S}(?:tool_call|tool_calls|tool_response|tool_result|function_call|function_calls|functions|tools)(?:\s[^<>]{{0,80}})?{_S}>",
            rf"<{_S}/?{_S}function{_S}={_S}[a-z0-9_.-]{{1,64}}{_S}>",
            # BOS/EOS written as tags right next to an [INST]
            rf"</?s>(?={_S}\[{_S}/?{_S}inst)",
            r"(?<=\[/inst\])\s*</s>",
        ]
    )
)
# "Human:" / "Assistant:" turn prefixes at the start of a line (any case, spaced colon).
_ROLE_RE = re.compile(r"(?m)^[ \t>*#_]*(?:human|assistant)[ \t]*:")

_ZERO_WIDTH_RE = re.compile(
    "[\u200b\u200c\u2060\ufeff\u180e]"
    "|(?<![\U0001f000-\U0001faff\u2600-\u27bf])\u200d|\u200d(?![\U0001f000-\U0001faff\u2600-\u27bf])"
)
_BIDI_RE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_TAGS_RE = re.compile("[\U000e0000-\U000e007f]")
_OTHER_INVISIBLE_RE = re.compile("[\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u2061-\u2064\u3164\uffa0\U000e0100-\U000e01ef]")

COUNT_KEYS = ("template_tokens", "role_markers", "zero_width", "bidi_controls", "unicode_tags", "other_invisible")


def _replace_spans(text: str, pattern: re.Pattern[str], probe: str, placeholder: str) -> tuple[str, int]:
    """Replace every ``pattern`` match found in ``probe`` (same length as ``text``) in ``text``."""
    parts: list[str] = []
    pos = count = 0
    for m in pattern.finditer(probe):
        if m.end() == m.start():
            continue
        parts.append(text[pos : m.start()])
        parts.append(placeholder)
        pos = m.end()
        count += 1
    if not count:
        return text, 0
    parts.append(text[pos:])
    return "".join(parts), count


def strip_invisible(text: str) -> tuple[str, dict[str, int]]:
    """Remove invisible characters; returns the text and per-class counts."""
    if text.isascii() or _ANY_INVISIBLE_RE.search(text) is None:  # every class is non-ASCII
        return text, dict.fromkeys(_INVISIBLE_KEYS, 0)
    return _remove_each_class(text)


def _remove_each_class(text: str) -> tuple[str, dict[str, int]]:
    """Every invisible class removed and counted, one pass per class (no shortcut)."""
    counts: dict[str, int] = {}
    for key, pattern in (
        ("zero_width", _ZERO_WIDTH_RE),
        ("bidi_controls", _BIDI_RE),
        ("unicode_tags", _TAGS_RE),
        ("other_invisible", _OTHER_INVISIBLE_RE),
    ):
        text, n = pattern.subn("", text)
        counts[key] = n
    return text, counts


def _may_hold_template(probe: str) -> bool:
    """False only when no :data:`_TEMPLATE_RE` alternative can match ``probe``: each one starts at
    ``<`` or ``[`` and holds ``|``, ``inst``, ``sys``, ``tool``, ``control_``, ``_of_``,
    ``function`` or ``</s>`` (C-level ``in`` tests, no regex pass)."""
    if "<" not in probe and "[" not in probe:
        return False
    return any(word in probe for word in _TEMPLATE_WORDS)


def sanitize(text: str) -> tuple[str, dict[str, int]]:
    """Sanitised ``text`` and counts per :data:`COUNT_KEYS` (every key present, 0 if none)."""
    clean, counts, _ = sanitize_with_probe(text)
    return clean, counts


def sanitize_with_probe(text: str) -> tuple[str, dict[str, int], str | None]:
    """:func:`sanitize`, plus ``skeleton(clean)`` when it was computed on the way (else None),
    so wrapping the clean text need not fold it again."""
    text, counts = strip_invisible(text)
    probe = skeleton(text)
    n_tokens = n_roles = 0
    if _may_hold_template(probe):
        text, n_tokens = _replace_spans(text, _TEMPLATE_RE, probe, TEMPLATE_PLACEHOLDER)
        if n_tokens:
            probe = skeleton(text)
    if "human" in probe or "assistant" in probe:
        text, n_roles = _replace_spans(text, _ROLE_RE, probe, ROLE_PLACEHOLDER)
    counts["template_tokens"] = n_tokens
    counts["role_markers"] = n_roles
    return text, {key: counts.get(key, 0) for key in COUNT_KEYS}, None if n_roles else probe


def sanitize_reference(text: str) -> tuple[str, dict[str, int]]:
    """:func:`sanitize` without the shortcuts (whole-text passes); tests check the two agree."""
    text, counts = _remove_each_class(text)
    probe = skeleton(text)
    text, n_tokens = _replace_spans(text, _TEMPLATE_RE, probe, TEMPLATE_PLACEHOLDER)
    if n_tokens:
        probe = skeleton(text)
    text, n_roles = _replace_spans(text, _ROLE_RE, probe, ROLE_PLACEHOLDER)
    counts["template_tokens"] = n_tokens
    counts["role_markers"] = n_roles
    return text, {key: counts.get(key, 0) for key in COUNT_KEYS}


_INVISIBLE_KEYS = ("zero_width", "bidi_controls", "unicode_tags", "other_invisible")
_TEMPLATE_WORDS = ("|", "inst", "sys", "tool", "control_", "_of_", "function", "</s>")
_ANY_INVISIBLE_RE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\u3164\ufeff\uffa0\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
_ASCII_BYTES = bytes(range(0x80))
# A "Human:" / "Assistant:" turn after a line break; the one at offset 0 is matched apart. A
# literal first character lets the regex engine skip to candidates in C.
_ROLE_AFTER_BREAK_RE = re.compile(r"\n[ \t>*#_]*(?:human|assistant)[ \t]*:")
_ROLE_AT_START_RE = re.compile(r"[ \t>*#_]*(?:human|assistant)[ \t]*:")


def _count_invisible(text: str, counts: dict[str, int]) -> None:
    """Per-class counts of invisible characters. Every one is non-ASCII, so the classes are
    counted on the non-ASCII characters alone (one C pass deletes the ASCII bytes); only the
    zero-width joiner depends on its neighbours, so when there is one it is counted in place."""
    rest = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")
    if not _ANY_INVISIBLE_RE.search(rest):
        return
    counts["zero_width"] = len(_ZERO_WIDTH_RE.findall(text if "\u200d" in rest else rest))
    counts["bidi_controls"] = len(_BIDI_RE.findall(rest))
    counts["unicode_tags"] = len(_TAGS_RE.findall(rest))
    counts["other_invisible"] = len(_OTHER_INVISIBLE_RE.findall(rest))


def _template_candidates(probe: str) -> list[int]:
    """Every offset where a template token can start: a ``<``, a ``[``, or right after
    ``[/inst]`` (the ``</s>`` that may follow it, spaced)."""
    starts: list[int] = []
    for needle, shift in (("<", 0), ("[", 0), ("[/inst]", 7)):
        pos = probe.find(needle)
        while pos >= 0:
            starts.append(pos + shift)
            pos = probe.find(needle, pos + 1)
    starts.sort()
    return starts


def _count_template_tokens(probe: str) -> int:
    """``sum(1 for m in _TEMPLATE_RE.finditer(probe) if m.end() > m.start())``, trying the
    pattern only where a token can start (it cannot match empty): the same left-to-right,
    non-overlapping matches."""
    if (probe.count("<") + probe.count("[")) * 8 > len(probe):  # dense: one C pass is cheaper
        return sum(1 for m in _TEMPLATE_RE.finditer(probe) if m.end() > m.start())
    count = end = 0
    for start in _template_candidates(probe):
        if start < end:
            continue
        m = _TEMPLATE_RE.match(probe, start)
        if m is not None:
            count += 1
            end = m.end()
    return count


def _count_role_markers(probe: str) -> int:
    """``len(_ROLE_RE.findall(probe))``: a turn prefix starts a line, so it is at offset 0 or
    right after a line break (and each match ends before the next line's break)."""
    if ":" not in probe or ("human" not in probe and "assistant" not in probe):
        return 0
    at_start = 1 if _ROLE_AT_START_RE.match(probe) else 0
    return at_start + len(_ROLE_AFTER_BREAK_RE.findall(probe))


def scan_counts(text: str, folded: str | None = None) -> dict[str, int]:
    """Counts only, without building the sanitised text (used by the classifier).

    ``folded`` (from :func:`ethos_core.injection.normalize.fold`) lets the classifier reuse its
    folded copy: token spellings are matched case-, width- and look-alike-insensitively.
    :func:`scan_counts_reference` gives the same counts with whole-text regex passes.
    """
    counts = dict.fromkeys(COUNT_KEYS, 0)
    if not text.isascii():
        _count_invisible(text, counts)
    probe = folded if folded is not None else skeleton(strip_invisible(text)[0])
    if "<" in probe or "[" in probe:
        counts["template_tokens"] = _count_template_tokens(probe)
    counts["role_markers"] = _count_role_markers(probe)
    return counts


def scan_counts_reference(text: str, folded: str | None = None) -> dict[str, int]:
    """:func:`scan_counts` in whole-text regex passes (tests check the two agree)."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    counts["zero_width"] = len(_ZERO_WIDTH_RE.findall(text))
    counts["bidi_controls"] = len(_BIDI_RE.findall(text))
    counts["unicode_tags"] = len(_TAGS_RE.findall(text))
    counts["other_invisible"] = len(_OTHER_INVISIBLE_RE.findall(text))
    probe = folded if folded is not None else skeleton(strip_invisible(text)[0])
    counts["template_tokens"] = sum(1 for m in _TEMPLATE_RE.finditer(probe) if m.end() > m.start())
    counts["role_markers"] = len(_ROLE_RE.findall(probe))
    return counts


def total(counts: Mapping[str, int]) -> int:
    return sum(counts.values())
