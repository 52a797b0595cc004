"""Stage ⑮ audit write: every decision lands in ``observability.db``, redacted first.

Invariant: the pipeline hands this stage only events whose strings already passed stage ⑬;
when the store cannot be written the call raises and the engine denies the action.
"""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.types import AuditEvent


class AuditWriter:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_audit(self, event: AuditEvent) -> None:
        store = self.runtime.service("audit")
        if store is None:
            # No store attached (unit tests of the pipeline): keep events in memory.
            self.runtime.services.setdefault("audit_memory", []).append(event)
            return
        store.write(event)


def make_plugin(runtime: Runtime) -> object:
    return AuditWriter(runtime)
