"""Stage ④ provenance: everything that is not the owner's own text is untrusted.

Floor until the injection engine lands: marks untrusted, never flags.
"""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.types import Content, Context, ProvenanceVerdict


class ProvenanceFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_provenance(self, content: Content, ctx: Context) -> ProvenanceVerdict:
        return ProvenanceVerdict(untrusted=not content.trusted)


def make_plugin(runtime: Runtime) -> object:
    return ProvenanceFloor(runtime)
