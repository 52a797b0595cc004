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


def sanitize(text: str) -> tuple[str, dict[str, int]]:
    """Sanitised ``text`` and counts per :data:`COUNT_KEYS` (every key present, 0 if none)."""
    text, counts = strip_invisible(text)
    probe = skeleton(text)
    text, n_tokens = _replace_spans(text, _TEMPLATE_RE, probe, TEMPLATE_PLACEHOLDER)
    if n_tokens:
        probe = skeleton(text)
    text, n_roles = _replace_spans(text, _ROLE_RE, probe, ROLE_PLACEHOLDER)
    counts["template_tokens"] = n_tokens
    counts["role_markers"] = n_roles
    return text, {key: counts.get(key, 0) for key in COUNT_KEYS}


_ANY_INVISIBLE_RE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\u3164\ufeff\uffa0\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
_TEMPLATE_HINT_RE = re.compile(r"(?m)[<\[]|^[ \t>*#_]*(?:human|assistant)")


def scan_counts(text: str, folded: str | None = None) -> dict[str, int]:
    """Counts only, without building the sanitised text (used by the classifier).

    ``folded`` (from :func:`ethos_core.injection.normalize.fold`) lets the classifier reuse its
    folded copy: token spellings are matched case-, width- and look-alike-insensitively.
    """
    counts = dict.fromkeys(COUNT_KEYS, 0)
    if not text.isascii() and _ANY_INVISIBLE_RE.search(text):
        counts["zero_width"] = len(_ZERO_WIDTH_RE.findall(text))
        counts["bidi_controls"] = len(_BIDI_RE.findall(text))
        counts["unicode_tags"] = len(_TAGS_RE.findall(text))
        counts["other_invisible"] = len(_OTHER_INVISIBLE_RE.findall(text))
    probe = folded if folded is not None else skeleton(strip_invisible(text)[0])
    if _TEMPLATE_HINT_RE.search(probe):
        counts["template_tokens"] = sum(1 for m in _TEMPLATE_RE.finditer(probe) if m.end() > m.start())
        counts["role_markers"] = len(_ROLE_RE.findall(probe))
    return counts


def total(counts: Mapping[str, int]) -> int:
    return sum(counts.values())
