"""Stage ⑮ audit write: every decision lands in ``observability.db``, redacted first.

Invariant: every event reaches the store attached as ``runtime.services["audit"]`` (an
:class:`ethos_core.audit.AuditStore`), which redacts every string itself before the row
exists, whatever the caller did. When the store cannot be written ``write`` raises
:class:`~ethos_core.errors.AuditWriteError` and the pipeline turns that into a denied action
(fail closed). Without a store (unit tests of a single engine) events are kept in memory.

Does not cover: off-host shipping (sinks attached to the store, ``ethos_audit_sinks``).
"""

from __future__ import annotations

from ethos_core.errors import AuditWriteError
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
        try:
            store.write(event)
        except AuditWriteError:
            raise
        except Exception as exc:  # noqa: BLE001 - any store failure is an audit write failure
            raise AuditWriteError(f"audit store write failed: {type(exc).__name__}: {exc}") from exc


def make_plugin(runtime: Runtime) -> object:
    return AuditWriter(runtime)
