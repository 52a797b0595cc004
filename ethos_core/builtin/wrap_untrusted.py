"""Stage ⑭ untrusted wrapping: any result not explicitly trusted is wrapped."""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.types import Context, ProvenanceVerdict, ToolResult


class WrapUntrustedFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_wrap_untrusted(self, result: ToolResult, ctx: Context) -> ProvenanceVerdict:
        return ProvenanceVerdict(untrusted=not result.trusted)


def make_plugin(runtime: Runtime) -> object:
    return WrapUntrustedFloor(runtime)
