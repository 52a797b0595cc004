"""The audit substrate: ``observability.db`` (one SQLite file, one writer, redacted, chained).

Public API: :class:`AuditStore` (write/flush/close/health/register_policy/verify/prune),
:class:`JsonlSink`, the event factories of :mod:`ethos_core.audit.events` and
:data:`CATEGORIES`. See docs/audit.md.
"""

from __future__ import annotations

from ethos_core.audit.chain import VerifyResult, verify_chain
from ethos_core.audit.events import (
    CATEGORIES,
    redaction_summary_event,
    shape_tool_call_data,
    startup_event,
    tool_call_event,
)
from ethos_core.audit.retention import PruneReport, retention_warnings, validate_retention
from ethos_core.audit.sinks import AuditSink, JsonlSink, sinks_from_config
from ethos_core.audit.store import AuditStore, probe

__all__ = [
    "AuditSink",
    "AuditStore",
    "CATEGORIES",
    "JsonlSink",
    "PruneReport",
    "VerifyResult",
    "probe",
    "redaction_summary_event",
    "retention_warnings",
    "shape_tool_call_data",
    "sinks_from_config",
    "startup_event",
    "tool_call_event",
    "validate_retention",
    "verify_chain",
]
