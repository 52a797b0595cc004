"""Stage ⑭ untrusted wrapping: any tool result not explicitly trusted is wrapped.

Invariant: a result is trusted only when its producer set ``ToolResult.trusted`` (the engine does
so for tools that return the agent's own data); web fetches, email, files the agent did not
write, skill and MCP output and error messages are untrusted. An untrusted verdict makes the
engine wrap the result and arm the post-read downgrade
(:class:`ethos_core.injection.downgrade.DowngradeState`). The result text (content and error)
is also classified like stage ④, emitting ``audit.injection_flag`` on a hit.
"""

from __future__ import annotations

from ethos_core.injection.engine import judge
from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.types import Context, ProvenanceVerdict, ToolResult


def result_text(result: ToolResult) -> str:
    """Everything of a result that reaches the model: content and error text."""
    return "\n".join(part for part in (result.content, result.error or "") if part)


class WrapUntrustedBuiltin:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_wrap_untrusted(self, result: ToolResult, ctx: Context) -> ProvenanceVerdict:
        return judge(
            result_text(result),
            trusted=result.trusted,
            source=result.source or result.tool,
            ctx=ctx,
            emit=self.runtime.emit,
            tier2=self.runtime.service("injection_tier2"),
            code="wrap_untrusted.flag",
        )


def make_plugin(runtime: Runtime) -> object:
    return WrapUntrustedBuiltin(runtime)
