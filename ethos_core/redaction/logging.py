"""Redaction for logs and error output: a ``logging.Filter`` and exception-text helpers.

Invariant: a record that passed :class:`RedactingFilter` carries no credential the engine can
find, in its message, its arguments, its formatted traceback or its stack info: the filter
formats the message, redacts it, stores the result in ``record.msg`` with no ``args`` and
replaces ``exc_info`` by a redacted ``exc_text``.

Install it on **handlers** (``handler.addFilter(RedactingFilter(...))``): a filter on a logger
does not see records propagated from child loggers. Not covered: handlers that bypass
``logging.Formatter`` and read ``record.__dict__`` extras directly (extras are not redacted),
and output written with ``print`` / ``sys.stderr.write`` (use :func:`redact_exception`).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping

from ethos_core.redaction.engine import EMPTY, redact_text

KnownValues = Mapping[str, str] | Callable[[], Mapping[str, str]]


def _values(known: KnownValues | None) -> Mapping[str, str]:
    if known is None:
        return EMPTY
    if callable(known):
        return known()
    return known


class RedactingFilter(logging.Filter):
    """Redacts every record it sees; never drops one.

    ``known_values`` is a mapping or a zero-argument callable returning one (pass
    ``lambda: runtime.secret_values`` so secrets resolved later are covered too).
    """

    def __init__(self, known_values: KnownValues | None = None, name: str = "") -> None:
        super().__init__(name)
        self._known = known_values

    def filter(self, record: logging.LogRecord) -> bool:
        known = _values(self._known)
        try:
            message = record.getMessage()
        except Exception as exc:  # noqa: BLE001 - a bad format string must not leak args
            message = f"{record.msg!s} (unformattable log arguments: {type(exc).__name__})"
        record.msg = redact_text(message, known)
        record.args = None
        if record.exc_info:
            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = redact_text(text.rstrip("\n"), known)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text, known)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, known)
        return True


def redact_exception(exc: BaseException, known_values: KnownValues | None = None, *, with_traceback: bool = True) -> str:
    """The exception (with its traceback and chained causes by default), redacted."""
    if with_traceback:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    else:
        text = "".join(traceback.format_exception_only(type(exc), exc))
    return redact_text(text.rstrip("\n"), _values(known_values))


def redact_message(exc: BaseException, known_values: KnownValues | None = None) -> str:
    """``str(exc)`` redacted: for one-line CLI errors (``Error: …``)."""
    return redact_text(str(exc), _values(known_values))


def install(logger: logging.Logger | None = None, known_values: KnownValues | None = None) -> RedactingFilter:
    """Add one :class:`RedactingFilter` to every handler of ``logger`` (default: the root logger)."""
    target = logger or logging.getLogger()
    flt = RedactingFilter(known_values)
    for handler in target.handlers:
        handler.addFilter(flt)
    return flt
