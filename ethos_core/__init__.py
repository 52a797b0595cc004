"""ethos: a defense-in-depth security runtime for AI agents.

Importing this package loads no plugin and touches no file; everything starts in
:meth:`ethos_core.engine.Engine.from_home` or :func:`ethos_core.manager.build_plugin_manager`.
"""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.stages import Stage
from ethos_core.types import (
    AgentEvent,
    ArgRole,
    Capability,
    Content,
    Context,
    Decision,
    InboundMessage,
    ProvenanceVerdict,
    RedactionSpan,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from ethos_core.verdicts import Verdict

__version__ = "0.1.0"

__all__ = [
    "AgentEvent",
    "ArgRole",
    "Capability",
    "Content",
    "Context",
    "Decision",
    "InboundMessage",
    "ProvenanceVerdict",
    "RedactionSpan",
    "Stage",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "Verdict",
    "__version__",
    "hookimpl",
]
