"""Redaction before disk: every string of an audit event passes the redactor, whatever the caller did.

Invariant: :func:`scrub_value` returns JSON-safe data in which every string — values, dict
keys, list items, error texts, URLs — has passed ``redact`` (the pipeline's stage ⑬), and in
which every value under a key that *names* a secret (``password``, ``api_key``,
``Authorization``, ``*_token``, …) is replaced by ``[REDACTED:secret_key]`` even when the
redactor does not recognise it. A redactor that raises replaces the string by
``[REDACTED:redaction_error]`` (fail closed). Non-JSON values (bytes, objects) are stringified
and then redacted; nesting deeper than :data:`MAX_DEPTH` is cut.

The batched form (:func:`gather_strings`, :func:`redact_batch`, :func:`rebuild`) gives the same
result with ONE call of a ``list[str] -> list[str]`` redactor per event: the walk collects every
string that :func:`scrub_value` would redact, the batch is redacted at once, and the strings are
put back by position. Shapes it does not reproduce exactly (non-string keys, sets) raise
:class:`IrregularShape`; the caller then uses :func:`scrub_value`.

Does not cover: recognising secrets the redactor does not know under innocuous keys — that is
the redaction engine's job (ethos_core/redaction); this module guarantees it is applied.
"""

from __future__ import annotations

import enum
import functools
import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

Redactor = Callable[[str], str]
# Stage ⑬ for many strings at once: element i of the answer is the redaction of element i.
ManyRedactor = Callable[[list[str]], list[str]]

MAX_DEPTH = 32
REDACTION_ERROR = "[REDACTED:redaction_error]"
SECRET_KEY_MARK = "[REDACTED:secret_key]"
DEPTH_MARK = "[TRUNCATED:depth]"

# Key names (lower-cased, separators removed) whose values are secrets by definition. Suffix
# match, so ``x-api-key``, ``aws_secret_access_key`` and ``github_token`` are covered while
# counters such as ``max_tokens`` / ``input_tokens`` (plural) are not.
_SECRET_KEY_SUFFIXES = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "privatekey",
    "secretkey",
    "accesskey",
    "credential",
    "credentials",
    "clientsecret",
)
_SECRET_KEY_EXACT = frozenset({"pwd", "pass", "auth", "bearer", "otp", "pin", "dsn", "connectionstring"})
_KEY_NORMALISE = re.compile(r"[\s_\-.]")


@functools.lru_cache(maxsize=4096)
def key_names_secret(key: str) -> bool:
    """True when ``key`` (a dict key, header or parameter name) names a secret value.

    NFKC-folded (fullwidth letters), invisible format characters (zero-width spaces, bidi
    marks) and separators removed, case-insensitive.
    """
    folded = unicodedata.normalize("NFKC", key[:200])
    folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    norm = _KEY_NORMALISE.sub("", folded.casefold())
    return norm in _SECRET_KEY_EXACT or norm.endswith(_SECRET_KEY_SUFFIXES)


def safe_redact(redact: Redactor, text: str) -> str:
    """Apply ``redact``; any failure or non-string answer redacts the whole text."""
    if not text:
        return text
    try:
        out = redact(text)
    except Exception:  # noqa: BLE001 - a broken redactor must not let the raw text through
        return REDACTION_ERROR
    return out if isinstance(out, str) else REDACTION_ERROR


def _scalar(value: Any, redact: Redactor) -> Any:
    if value is None or isinstance(value, bool) or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return safe_redact(redact, value)
    if isinstance(value, enum.Enum):
        return _scalar(value.value, redact)
    if isinstance(value, (bytes, bytearray)):
        return safe_redact(redact, bytes(value).decode("utf-8", "replace"))
    return safe_redact(redact, str(value))


def _mask(value: Any, depth: int) -> Any:
    """Everything under a secret-naming key: keep the shape, hide every leaf."""
    if depth > MAX_DEPTH:
        return DEPTH_MARK
    if isinstance(value, Mapping):
        return {SECRET_KEY_MARK if not isinstance(k, str) else k: _mask(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_mask(v, depth + 1) for v in value]
    if value is None or isinstance(value, bool):
        return value
    return SECRET_KEY_MARK


def _redact_str(value: str, redact: Redactor) -> str:
    """:func:`safe_redact` for a non-empty ``str`` (the hot path: every string of every event)."""
    try:
        redacted = redact(value)
    except Exception:  # noqa: BLE001 - a broken redactor must not let the raw text through
        return REDACTION_ERROR
    return redacted if type(redacted) is str else REDACTION_ERROR


def scrub_value(value: Any, redact: Redactor, depth: int = 0) -> Any:
    """Redacted, JSON-safe copy of ``value`` (see the module invariant)."""
    kind = type(value)
    if kind is str:  # the common cases first: this runs for every string of every event
        return _redact_str(value, redact) if value else value
    if kind is int or kind is bool or value is None:
        return value
    if depth > MAX_DEPTH:
        return DEPTH_MARK
    if kind is dict or kind is MappingProxyType or isinstance(value, Mapping):
        return _scrub_mapping(value, redact, depth)
    if kind is list or kind is tuple or isinstance(value, (list, tuple)):
        return _scrub_items(value, redact, depth)
    if isinstance(value, (set, frozenset)):
        items = [scrub_value(v, redact, depth + 1) for v in value]
        return sorted(items, key=repr)
    return _scalar(value, redact)


def _scrub_mapping(value: Mapping[Any, Any], redact: Redactor, depth: int) -> dict[str, Any]:
    # Leaves and plain dicts are handled inline (the redactor call included): exactly
    # scrub_value(item, redact, depth + 1), without one or two Python calls per string.
    out: dict[str, Any] = {}
    child = depth + 1
    for raw_key, item in value.items():
        if type(raw_key) is str:
            key = raw_key
            if raw_key:
                try:
                    key = redact(raw_key)
                except Exception:  # noqa: BLE001 - a broken redactor must not let the raw text through
                    key = REDACTION_ERROR
                else:
                    if not isinstance(key, str):
                        key = REDACTION_ERROR
            if key_names_secret(raw_key):
                # The key text itself is kept only after redaction; the value is masked.
                out[key] = _mask(item, child)
                continue
        else:
            key = str(_scalar(raw_key, redact))
        kind = type(item)
        if kind is str:
            if item:
                try:
                    redacted = redact(item)
                except Exception:  # noqa: BLE001 - a broken redactor must not let the raw text through
                    redacted = REDACTION_ERROR
                else:
                    if type(redacted) is not str:
                        redacted = REDACTION_ERROR
                out[key] = redacted
            else:
                out[key] = item
        elif kind is int or kind is bool or item is None:
            out[key] = item
        elif child > MAX_DEPTH:
            out[key] = DEPTH_MARK
        elif kind is float:
            out[key] = item if math.isfinite(item) else str(item)
        elif kind is dict or kind is MappingProxyType:
            out[key] = _scrub_mapping(item, redact, child)
        else:
            out[key] = scrub_value(item, redact, child)
    return out


def _scrub_items(value: list[Any] | tuple[Any, ...], redact: Redactor, depth: int) -> list[Any]:
    out: list[Any] = []
    append = out.append
    child = depth + 1
    for item in value:
        kind = type(item)
        if kind is str:
            append(_redact_str(item, redact) if item else item)
        elif kind is int or kind is bool or item is None:
            append(item)
        else:
            append(scrub_value(item, redact, child))
    return out


# --- the batched form: one redactor call per event ------------------------------------------


_ONLY_STR = {str}


def redact_batch(texts: list[str], redact_many: ManyRedactor) -> list[str]:
    """``redact_many(texts)``, checked: a raise, a wrong length or a non-string answer redacts
    the strings concerned (all of them unless the answer is a list of the right length)."""
    if not texts:
        return []
    try:
        out = redact_many(texts)
    except Exception:  # noqa: BLE001 - a broken redactor must not let the raw text through
        return [REDACTION_ERROR] * len(texts)
    if type(out) is not list:
        try:
            out = list(out)
        except Exception:  # noqa: BLE001 - not even iterable: fail closed
            return [REDACTION_ERROR] * len(texts)
    if len(out) != len(texts):
        return [REDACTION_ERROR] * len(texts)
    if set(map(type, out)) != _ONLY_STR:
        out = [x if type(x) is str else REDACTION_ERROR for x in out]
    return out


def redact_groups(groups: Sequence[Sequence[str]], redact_many: ManyRedactor) -> list[list[str]]:
    """:func:`redact_batch` of every group, with ONE ``redact_many`` call for all of them.

    Element ``i`` of group ``g`` of the answer redacts element ``i`` of group ``g``. When the
    joint answer is not exactly a list of strings of the right length (or the call raises),
    each group is redacted on its own by :func:`redact_batch`, so a broken redactor fails
    closed exactly as it does for that group alone.
    """
    if len(groups) == 1:
        return [redact_batch(list(groups[0]), redact_many)]
    texts = [text for group in groups for text in group]
    if not texts:
        return [[] for _ in groups]
    try:
        out = redact_many(texts)
    except Exception:  # noqa: BLE001 - retried group by group, where failures are contained
        out = None
    if type(out) is not list or len(out) != len(texts) or set(map(type, out)) != _ONLY_STR:
        return [redact_batch(list(group), redact_many) for group in groups]
    answers: list[list[str]] = []
    start = 0
    for group in groups:
        end = start + len(group)
        answers.append(out[start:end])
        start = end
    return answers


def per_string(redact: Redactor) -> ManyRedactor:
    """A :data:`ManyRedactor` that calls ``redact`` once per string (each failure isolated)."""

    def redact_many(texts: list[str]) -> list[str]:
        try:
            return [redact(t) for t in texts]  # answers are type-checked by redact_batch
        except Exception:  # noqa: BLE001 - one string failed: isolate it, redact the others
            return [_redact_str(t, redact) if t else t for t in texts]

    return redact_many


def one_at_a_time(redact_many: ManyRedactor) -> Redactor:
    """A :data:`Redactor` built on ``redact_many`` (for the per-string paths: policy bodies)."""

    def redact(text: str) -> str:
        return redact_batch([text], redact_many)[0]

    return redact


class IrregularShape(Exception):  # noqa: N818 - a control-flow signal, not an error for users
    """The value has a shape the positional batch cannot mirror exactly (use :func:`scrub_value`)."""


class NotPlain(Exception):  # noqa: N818 - a control-flow signal, not an error for users
    """The value needs :func:`gather_strings` (a secret-naming key, a non-JSON value, deep nesting)."""


def collect_plain(value: Any, texts: list[str], depth: int = 0) -> None:
    """The fast walk: append to ``texts`` what :func:`gather_strings` would (same strings, same
    order) for a *plain* value, one that scrubbing leaves as it is when the redactor changes
    nothing: string keys, none naming a secret, and only str, int, bool, None, finite floats,
    dicts, read-only mappings, lists and tuples, at most :data:`MAX_DEPTH` deep. Raises
    :class:`NotPlain` otherwise (``texts`` then holds a partial list the caller discards).
    """
    kind = type(value)
    if kind is str:
        if value:
            texts.append(value)
        return
    if kind is int or kind is bool or value is None:
        return
    if depth > MAX_DEPTH:
        raise NotPlain("depth")
    if kind is dict or kind is MappingProxyType:
        child = depth + 1
        for key, item in value.items():
            if type(key) is not str:
                raise NotPlain("non-string key")
            if key:
                if key_names_secret(key):
                    raise NotPlain("secret-naming key")
                texts.append(key)
            k = type(item)
            if k is str:
                if item:
                    texts.append(item)
            elif not (k is int or k is bool or item is None):
                collect_plain(item, texts, child)
        return
    if kind is list or kind is tuple:
        child = depth + 1
        for item in value:
            k = type(item)
            if k is str:
                if item:
                    texts.append(item)
            elif not (k is int or k is bool or item is None):
                collect_plain(item, texts, child)
        return
    if kind is float and math.isfinite(value):
        return
    raise NotPlain(kind.__name__)


class _Keep:
    """A value :func:`rebuild` keeps as it is (a mask, a depth mark, a non-finite float's text)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Gathered:
    """What :func:`gather_strings` found: the tree and whether :func:`rebuild` is needed anyway."""

    __slots__ = ("tree", "kept")

    def __init__(self, tree: Any, kept: bool) -> None:
        self.tree = tree
        self.kept = kept


def gather_strings(value: Any, texts: list[str]) -> Gathered:
    """Walk ``value`` as :func:`scrub_value` does, appending every string it would redact to
    ``texts`` (keys before their values, in order) instead of redacting it.

    The returned tree holds the original strings in place; ``rebuild(tree, redacted)`` puts
    the redacted ones back. When the redactor changed nothing and ``kept`` is False, the tree
    is already the answer. Raises :class:`IrregularShape` for non-string keys and sets.
    """
    kept = [False]
    tree = _gather(value, texts, 0, kept)
    return Gathered(tree, kept[0])


def _gather(value: Any, texts: list[str], depth: int, kept: list[bool]) -> Any:
    kind = type(value)
    if kind is str:
        if value:
            texts.append(value)
        return value
    if kind is int or kind is bool or value is None:
        return value
    if depth > MAX_DEPTH:
        kept[0] = True
        return _Keep(DEPTH_MARK)
    if kind is dict or kind is MappingProxyType or isinstance(value, Mapping):
        return _gather_mapping(value, texts, depth, kept)
    if kind is list or kind is tuple or isinstance(value, (list, tuple)):
        out: list[Any] = []
        append = out.append
        child = depth + 1
        for item in value:
            k = type(item)
            if k is str:
                if item:
                    texts.append(item)
                append(item)
            elif k is int or k is bool or item is None:
                append(item)
            else:
                append(_gather(item, texts, child, kept))
        return out
    return _gather_scalar(value, texts, kept)


def _gather_mapping(value: Mapping[Any, Any], texts: list[str], depth: int, kept: list[bool]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    child = depth + 1
    count = 0
    for key, item in value.items():
        if type(key) is not str:
            raise IrregularShape("non-string key")
        count += 1
        if key:
            texts.append(key)
            if key_names_secret(key):
                kept[0] = True
                out[key] = _Keep(_mask(item, child))
                continue
        kind = type(item)
        if kind is str:
            if item:
                texts.append(item)
            out[key] = item
        elif kind is int or kind is bool or item is None:
            out[key] = item
        else:
            out[key] = _gather(item, texts, child, kept)
    if count != len(out):  # a Mapping that yields a key twice: keep scrub_value's exact answer
        raise IrregularShape("duplicate key")
    return out


def _gather_scalar(value: Any, texts: list[str], kept: list[bool]) -> Any:
    """:func:`_scalar` without the redaction: a string to redact is appended to ``texts``."""
    if isinstance(value, bool) or isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        kept[0] = True
        return _Keep(str(value))
    if isinstance(value, str):
        text = value  # a str subclass: redacted as it is, like _scalar does
    elif isinstance(value, enum.Enum):
        return _gather_scalar(value.value, texts, kept)
    elif isinstance(value, (set, frozenset)):
        raise IrregularShape("set")  # scrub_value sorts after redaction
    elif isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", "replace")
    else:
        text = str(value)
    if text:
        texts.append(text)
    kept[0] = True  # a new str object: rebuild must put the redacted text in its place
    return _Slot(text)


class _Slot:
    """A string made from a non-string value (bytes, an object): replaced by its redaction."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def rebuild(tree: Any, redacted: Any) -> Any:
    """``tree`` from :func:`gather_strings` with its strings replaced, in order, from the
    iterator ``redacted`` (the redactor's answers for the strings gather appended)."""
    kind = type(tree)
    if kind is str:
        return next(redacted) if tree else tree
    if kind is dict:
        out: dict[str, Any] = {}
        for key, item in tree.items():
            name = next(redacted) if key else key
            # Later keys win when two redact to the same text, as in scrub_value.
            out[name] = rebuild(item, redacted)
        return out
    if kind is list:
        return [rebuild(item, redacted) for item in tree]
    if kind is _Keep:
        return tree.value
    if kind is _Slot:
        return next(redacted) if tree.text else tree.text
    return tree
