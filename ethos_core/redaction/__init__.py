"""Credential redaction (stage ⑬): patterns, known secret values, JSON and log redaction.

Public API: :func:`find_spans`, :func:`redact_text`, :func:`redact_json`, :func:`count_labels`,
:func:`redact_with_counts`; :mod:`ethos_core.redaction.logging` holds the log filter.
See ``engine.py`` for the invariant and what is not covered, docs/redaction.md for the labels.
"""

from ethos_core.redaction.engine import (
    apply_spans,
    count_labels,
    find_spans,
    find_spans_many,
    is_secret_key,
    merge_counts,
    redact_json,
    redact_json_with_counts,
    redact_many,
    redact_text,
    redact_with_counts,
)
from ethos_core.redaction.patterns import LABELS

__all__ = [
    "LABELS",
    "apply_spans",
    "count_labels",
    "find_spans",
    "find_spans_many",
    "is_secret_key",
    "merge_counts",
    "redact_json",
    "redact_json_with_counts",
    "redact_many",
    "redact_text",
    "redact_with_counts",
]
