"""Stage ⑬ credential redaction: the non-removable floor is the full redaction engine.

Invariant: every span the engine finds (credential patterns, credentials in URLs, every value in
``runtime.secret_values`` in any encoded form, one decoding layer) is returned; plugins can
only add spans (the pipeline unions them). See :mod:`ethos_core.redaction.engine` for what is
not covered.
"""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.redaction import find_spans
from ethos_core.runtime import Runtime
from ethos_core.types import Context, RedactionSpan


class RedactFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_redact(self, text: str, ctx: Context) -> list[RedactionSpan]:
        return find_spans(text, self.runtime.secret_values)


def make_plugin(runtime: Runtime) -> object:
    return RedactFloor(runtime)
