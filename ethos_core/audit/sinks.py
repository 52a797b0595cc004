"""Off-host audit sinks: every committed (already redacted) event is also sent elsewhere.

Invariant: sinks run on their own thread behind their own bounded queue, after the local
commit; a sink that raises, hangs or falls behind never blocks or fails the local write. Its
failures and dropped events are counted and shown by ``AuditStore.health()`` / ``ethos health``.
Sinks only ever receive rows as stored (redacted, with ``row_hash``), so a remote copy can be
checked against the local chain.

Does not cover: delivery guarantees to the remote end (a sink that is down loses events for
itself; the local store is the system of record).
"""

from __future__ import annotations

import json
import queue
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime


@runtime_checkable
class AuditSink(Protocol):
    """What ``ethos_audit_sinks`` returns: an object with ``send(event_dict)`` (``close()`` optional)."""

    def send(self, event: Mapping[str, Any]) -> None: ...


class JsonlSink:
    """Append each event as one JSON line to ``path`` (``"-"`` or None = stdout)."""

    def __init__(self, path: str | Path | None = "-") -> None:
        self.path = None if path in (None, "-") else Path(str(path)).expanduser()
        self.name = f"jsonl:{self.path or '-'}"
        self._fh: IO[str] | None = None

    def _stream(self) -> IO[str]:
        if self.path is None:
            return sys.stdout
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")
        return self._fh

    def send(self, event: Mapping[str, Any]) -> None:
        stream = self._stream()
        stream.write(json.dumps(dict(event), ensure_ascii=False, separators=(",", ":")) + "\n")
        stream.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def sink_name(sink: object) -> str:
    return str(getattr(sink, "name", "") or type(sink).__name__)


class SinkStats:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent = 0
        self.failures = 0
        self.dropped = 0
        self.last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sent": self.sent,
            "failures": self.failures,
            "dropped": self.dropped,
            "last_error": self.last_error,
        }


_STOP = object()


class SinkDispatcher:
    """Feeds committed events to every sink on one background thread."""

    def __init__(self, sinks: Sequence[object], capacity: int = 10_000) -> None:
        self.sinks = list(sinks)
        self.stats = [SinkStats(sink_name(s)) for s in self.sinks]
        self._queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._thread: threading.Thread | None = None
        if self.sinks:
            self._thread = threading.Thread(target=self._run, name="ethos-audit-sinks", daemon=True)
            self._thread.start()

    def submit(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Never blocks: when the sink queue is full the event is counted as dropped."""
        if not self.sinks:
            return
        for event in events:
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                for stat in self.stats:
                    stat.dropped += 1

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is _STOP:
                return
            for sink, stat in zip(self.sinks, self.stats, strict=True):
                try:
                    sink.send(event)  # type: ignore[attr-defined]
                except Exception as exc:  # noqa: BLE001 - a sink failure is reported, never raised
                    stat.failures += 1
                    stat.last_error = f"{type(exc).__name__}: {exc}"[:500]
                else:
                    stat.sent += 1

    def close(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            try:
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:
                pass
            self._thread.join(timeout)
            self._thread = None
        for sink, stat in zip(self.sinks, self.stats, strict=True):
            close = getattr(sink, "close", None)
            if callable(close):
                try:
                    close()
                except Exception as exc:  # noqa: BLE001
                    stat.failures += 1
                    stat.last_error = f"close: {type(exc).__name__}: {exc}"[:500]

    def health(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.stats]


def sinks_from_config(sink_configs: Iterable[Any]) -> list[object]:
    """Build the built-in sinks from ``observability.sinks`` entries (``{type: jsonl, path}``)."""
    out: list[object] = []
    for cfg in sink_configs:
        kind = getattr(cfg, "type", None) if not isinstance(cfg, Mapping) else cfg.get("type")
        path = getattr(cfg, "path", None) if not isinstance(cfg, Mapping) else cfg.get("path")
        if kind != "jsonl":
            raise ValueError(f"observability.sinks: unknown sink type {kind!r} (built-in: jsonl)")
        out.append(JsonlSink(path))
    return out


class BuiltinSinks:
    """Lifecycle plugin: the ``ethos_audit_sinks`` floor returns the configured JSON Lines sinks."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_audit_sinks(self) -> list[object]:
        return sinks_from_config(self.runtime.config.observability.sinks)


def make_plugin(runtime: Runtime) -> object:
    return BuiltinSinks(runtime)
