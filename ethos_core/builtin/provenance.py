"""Stage ④ provenance: everything that is not the owner's own text is untrusted.

Invariant: ``Content.trusted`` (set by the producer for the owner's own text) is the only way to
be trusted. Untrusted text is classified by the tier-1 engine unless ``injectionDefense: off``;
a hit flags it (``balanced``) or quarantines it (``strict``) and emits ``audit.injection_flag``
with the signal ids. Tier-2 (service ``injection_tier2``, a
:class:`~ethos_core.injection.tier2.Tier2Classifier`) runs on hits and on large content when
attached. Wrapping and sanitising happen in :func:`ethos_core.injection.prepare_for_model`
regardless of the mode. The engine lives in :mod:`ethos_core.injection.engine`.
"""

from __future__ import annotations

from ethos_core.injection.engine import judge
from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.types import Content, Context, ProvenanceVerdict


class ProvenanceBuiltin:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_provenance(self, content: Content, ctx: Context) -> ProvenanceVerdict:
        return judge(
            content.text,
            trusted=content.trusted,
            source=content.source,
            ctx=ctx,
            emit=self.runtime.emit,
            tier2=self.runtime.service("injection_tier2"),
            code="provenance.flag",
        )


def make_plugin(runtime: Runtime) -> object:
    return ProvenanceBuiltin(runtime)
