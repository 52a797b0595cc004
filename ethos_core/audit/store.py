"""The audit store: the one writer of ``observability.db``.

Invariants:

* **Redaction before disk.** :meth:`AuditStore.write` runs every string of the event — each
  column and every key and value nested in ``data`` — through the ``redact`` callable the
  store was built with (stage ⑬), plus the secret-key floor of :mod:`ethos_core.audit.scrub`,
  before the row exists. Callers are not trusted to have done it. Policy snapshot bodies too.
  The only strings stored without a redactor call are exact constants of ethos (category
  names, severities, stage names, verdicts: ``_VOCABULARY``).
* **One writer, bounded queue, batched transactions.** ``write`` enqueues; a single thread
  drains up to ``batch_size`` items per ``BEGIN IMMEDIATE`` … ``COMMIT``. A full queue blocks
  the producer (back-pressure); nothing is ever dropped silently.
* **Fail closed.** When a batch cannot be committed (disk full, read-only file or filesystem,
  locked past the busy timeout, the file removed or replaced) the store enters the failed
  state: every later ``write`` and ``flush`` raises :class:`~ethos_core.errors.AuditWriteError`
  (the engine turns that into a denied tool call) and ``health()`` reports the error. The
  failed batch stays in memory and is retried every ``retry_interval`` seconds; when a retry
  commits, the store recovers. A removed or replaced file is not retried (it would silently
  write into an unlinked inode): the store stays failed until it is re-opened.
* **Acknowledged = durable.** An event is *acknowledged* when ``write(event)`` returned and a
  later ``flush()`` (from any thread) returned without raising. ``flush`` returns only after
  every event enqueued before it was committed in WAL mode with ``synchronous=FULL``, so an
  acknowledged event survives a process kill and a power loss. Events written but not yet
  flushed survive a kill only if their batch had committed.
* **Tamper evidence.** Each row is chained (:mod:`ethos_core.audit.chain`) inside the same
  transaction that inserts it, reading the chain head from the file, so several processes can
  share one store file and the chain stays linear.

Does not cover: events lost because the process died before their batch committed and
before any ``flush`` acknowledged them (callers that must not lose an event call ``flush``);
an operator with write access who rewrites the whole chain (see chain.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from ethos_core.audit import retention as _retention
from ethos_core.audit.chain import VerifyResult, canonical_json, row_hash_from_parts, verify_chain
from ethos_core.audit.events import CATEGORIES
from ethos_core.audit.schema import EVENT_FIELDS, FTS_INDEX_SQL, SchemaTooNewError, connect, migrate
from ethos_core.audit.scrub import Redactor, scrub_text, scrub_value
from ethos_core.audit.sinks import SinkDispatcher
from ethos_core.errors import AuditWriteError
from ethos_core.stages import Stage
from ethos_core.types import AuditEvent

# Strings stored without a redactor call: exact constants of ethos (categories, severities,
# stage names, verdicts). Anything else — rule ids, sources, sessions, data — is redacted.
_VOCABULARY: frozenset[str] = frozenset(
    CATEGORIES
    | {"", "info", "warning", "critical", "allow", "approve", "deny"}
    | {stage.value for stage in Stage}
)

_INSERT_COLUMNS = EVENT_FIELDS + ("prev_hash", "row_hash")
_INSERT_SQL = f"INSERT INTO events ({', '.join(_INSERT_COLUMNS)}) VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})"


_ROWS_PER_STATEMENT = 128  # 16 columns × 128 rows stays far below SQLite's variable limit
_ROW_PLACEHOLDERS = "(" + ", ".join("?" * len(_INSERT_COLUMNS)) + ")"


@functools.lru_cache(maxsize=_ROWS_PER_STATEMENT)
def _multi_insert_sql(count: int) -> str:
    head = _INSERT_SQL.split(" VALUES ")[0]
    return f"{head} VALUES {', '.join([_ROW_PLACEHOLDERS] * count)}"


def _insert_rows(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert with multi-row statements: one sqlite3_step (one GIL hand-off) per chunk, not per row."""
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        conn.execute(_multi_insert_sql(len(chunk)), [value for row in chunk for value in row])


def format_ts(ts: float) -> str:
    """Unix seconds → the on-disk ISO-8601 UTC form (sortable text, microseconds)."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _event_ts(ts: Any) -> tuple[str, str | None]:
    """The stored timestamp; an unusable one (NaN, out of range, wrong type) becomes now."""
    try:
        value = float(ts)
        if 0 <= value < 253402300800:  # year 1970 … 9999: keeps the text sortable
            return format_ts(value), None
    except (TypeError, ValueError, OverflowError):
        pass
    return format_ts(time.time()), repr(ts)[:64]


def canonical_policy(policy: Any) -> Any:
    """A JSON-ready view of a policy mapping or attrs object (enums → values, sets sorted)."""
    if attrs.has(type(policy)):
        return {f.name: canonical_policy(getattr(policy, f.name)) for f in attrs.fields(type(policy))}
    if isinstance(policy, Mapping):
        return {str(k): canonical_policy(v) for k, v in policy.items()}
    if isinstance(policy, (list, tuple)):
        return [canonical_policy(v) for v in policy]
    if isinstance(policy, (set, frozenset)):
        return sorted((canonical_policy(v) for v in policy), key=canonical_json)
    if hasattr(policy, "value") and hasattr(type(policy), "__members__"):
        return canonical_policy(policy.value)
    if policy is None or isinstance(policy, (str, int, float, bool)):
        return policy
    return str(policy)


@attrs.frozen
class _Row:
    """One event ready for the writer: column values (redacted) and their canonical JSON."""

    seq: int
    values: tuple[Any, ...]  # EVENT_FIELDS[1:] (data, the JSON text, last)
    head: str  # canonical_json(list(values[:-1]))


@attrs.frozen
class _Snapshot:
    seq: int
    id: str
    personality: str
    body: str
    created: str


class _Stop:
    seq = 0


_STOP = _Stop()
_Item = _Row | _Snapshot | _Stop


class AuditStore:
    """The writer of ``observability.db`` (see the module docstring for its guarantees).

    ``redact`` is stage ⑬ as a ``str -> str`` function; ``retention`` is
    ``observability.retention`` (glob → ``Nh/Nd/Nw/forever``); ``sinks`` receive every committed
    row. Construction opens and migrates the file and raises :class:`AuditWriteError` when it
    cannot (the engine must not start tools without an audit trail).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        redact: Redactor,
        retention: Mapping[str, str] | None = None,
        sinks: Sequence[object] = (),
        queue_size: int = 8192,
        batch_size: int = 1024,
        busy_timeout: float = 5.0,
        put_timeout: float = 30.0,
        retry_interval: float = 0.5,
        pragmas: Mapping[str, str | int] | None = None,
    ) -> None:
        if not callable(redact):
            raise TypeError("AuditStore needs a redact callable (stage 13); there is no unredacted mode")
        self.path = Path(path)
        self.redact = redact
        self.retention: dict[str, str] = dict(retention or {})
        _retention.validate_retention(self.retention)
        self.busy_timeout = busy_timeout
        self.put_timeout = put_timeout
        self.retry_interval = retry_interval
        self.batch_size = max(1, batch_size)
        self._pragmas = dict(pragmas or {})
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=max(1, queue_size))
        self._put_lock = threading.Lock()
        self._state = threading.Condition()
        self._seq = 0  # last sequence number handed out (under _put_lock)
        self._committed_seq = 0  # last sequence number committed (under _state)
        self._committed_events = 0
        self._error: str | None = None
        self._fatal = False
        self._closed = False
        self._last_commit: float | None = None
        self._latest_snapshot: dict[str, str] = {}
        self._snap_lock = threading.Lock()
        self._abandon = threading.Event()
        try:
            self._conn = connect(self.path, busy_timeout=busy_timeout, pragmas=self._pragmas)
            try:
                self.schema_version = migrate(self._conn)
                self._identity = self._stat_identity()
            except BaseException:
                self._conn.close()
                raise
        except (sqlite3.Error, OSError, SchemaTooNewError) as exc:
            raise AuditWriteError(f"cannot open audit store {self.path}: {exc}") from exc
        self._sinks = SinkDispatcher(sinks)
        self._writer = threading.Thread(target=self._run, name="ethos-audit-writer", daemon=True)
        self._writer.start()

    @classmethod
    def for_runtime(cls, runtime: Any, *, redact: Redactor, sinks: Sequence[object] = (), **kw: Any) -> AuditStore:
        """The engine's store: ``$ETHOS_HOME/observability.db`` with ``observability.retention``
        and the configured ``observability.sinks`` (plus ``sinks``, e.g. from ``ethos_audit_sinks``)."""
        from ethos_core.audit.sinks import sinks_from_config

        obs = runtime.config.observability
        configured = sinks_from_config(obs.sinks)
        return cls(
            runtime.home.observability_db, redact=redact, retention=obs.retention, sinks=[*configured, *sinks], **kw
        )

    # --- producer side -----------------------------------------------------------------------

    def write(self, event: AuditEvent) -> None:
        """Redact ``event`` and enqueue it; blocks while the queue is full.

        Raises :class:`AuditWriteError` when the store is failed or closed, or when the queue
        stayed full for ``put_timeout`` seconds.
        """
        self._raise_if_failed()
        values = self._row_values(event)
        head = canonical_json(list(values[:-1]))
        self._put(lambda seq: _Row(seq, values, head))

    def _row_values(self, event: AuditEvent) -> tuple[Any, ...]:
        r = self.redact

        def column(value: str | None) -> str | None:
            # ethos's own fixed vocabulary is a constant of the code, never a secret.
            return value if value is None or value in _VOCABULARY else scrub_text(value, r)

        snapshot = self._latest_snapshot.get(event.personality) if event.personality is not None else None
        data = scrub_value(event.data, r)
        ts, bad_ts = _event_ts(event.ts)
        if bad_ts is not None:
            data = {"event": data, "invalid_ts": scrub_text(bad_ts, r)}
        return (
            ts,
            column(event.category) or "unknown",
            column(event.code or "") or "",
            column(event.severity or "info") or "info",
            column(event.personality),
            column(event.session),
            None if event.turn is None else int(event.turn),
            column(event.stage),
            column(event.rule),
            column(event.verdict),
            column(event.source),
            snapshot,
            canonical_json(data),
        )

    def register_policy(self, personality: str, policy: Any) -> str:
        """Store the effective ``policy`` of ``personality`` once; later events reference it.

        Returns the snapshot id: the sha256 of the canonical JSON of ``{"personality", "policy"}``
        after redaction. Registering the same policy again costs nothing and returns the same id.
        """
        self._raise_if_failed()
        body = canonical_json(scrub_value(canonical_policy(policy), self.redact))
        import hashlib

        snap_id = hashlib.sha256(canonical_json({"personality": personality, "policy": body}).encode()).hexdigest()
        with self._snap_lock:
            if self._latest_snapshot.get(personality) == snap_id:
                return snap_id
            created = format_ts(time.time())
            self._put(lambda seq: _Snapshot(seq, snap_id, personality, body, created))
            self._latest_snapshot[personality] = snap_id
        return snap_id

    def snapshot_for(self, personality: str) -> str | None:
        return self._latest_snapshot.get(personality)

    def _put(self, make: Callable[[int], _Row | _Snapshot]) -> None:
        deadline = time.monotonic() + self.put_timeout
        with self._put_lock:
            self._raise_if_failed()
            item = make(self._seq + 1)
            while True:
                try:
                    self._queue.put(item, timeout=0.05)
                    break
                except queue.Full:
                    self._raise_if_failed()
                    if time.monotonic() > deadline:
                        raise AuditWriteError(
                            f"audit queue stayed full for {self.put_timeout:.0f}s; the writer is not keeping up"
                        ) from None
            self._seq = item.seq

    def _raise_if_failed(self) -> None:
        if self._closed:
            raise AuditWriteError("audit store is closed")
        err = self._error
        if err is not None:
            raise AuditWriteError(f"audit store cannot be written: {err}")

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait until every event enqueued before this call is committed; raise if it cannot be."""
        target = self._seq
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._state:
            while self._committed_seq < target:
                if self._error is not None:
                    raise AuditWriteError(f"audit store cannot be written: {self._error}")
                if not self._writer.is_alive():
                    raise AuditWriteError("audit writer stopped before the events were written")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise AuditWriteError(f"audit flush timed out with {target - self._committed_seq} items pending")
                self._state.wait(0.1 if remaining is None else min(0.1, remaining))

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, stop the writer and the sinks. Raises if events are left unwritten."""
        if self._closed:
            return
        with self._put_lock:
            self._closed = True
            if self._writer.is_alive():
                try:
                    self._queue.put(_STOP, timeout=timeout)
                except queue.Full:
                    pass
        self._writer.join(timeout)
        # A writer still retrying a failed batch gives up now; its events are reported below.
        self._abandon.set()
        self._writer.join(self.retry_interval + 1.0)
        self._sinks.close()
        pending = self._seq - self._committed_seq
        try:
            self._conn.close()
        except sqlite3.Error:
            pass
        if pending > 0:
            raise AuditWriteError(f"audit store closed with {pending} events unwritten: {self._error or 'writer stopped'}")

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writer side ---------------------------------------------------------------------------

    def _stat_identity(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return (st.st_dev, st.st_ino)

    def _check_file(self) -> None:
        try:
            identity = self._stat_identity()
        except FileNotFoundError:
            self._fatal = True
            raise AuditWriteError(f"{self.path} was removed; events would go to an unlinked file") from None
        if identity != self._identity:
            self._fatal = True
            raise AuditWriteError(f"{self.path} was replaced by another file since it was opened")

    def _run(self) -> None:
        pending: list[_Item] = []
        stopping = False
        while True:
            if not pending:
                if stopping:
                    return
                pending.append(self._queue.get())
                while len(pending) < self.batch_size:
                    try:
                        pending.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
            if pending and isinstance(pending[-1], _Stop):
                pending.pop()
                stopping = True
            # A stop marker can only be last: nothing is enqueued after close() put it.
            if not pending:
                continue
            try:
                committed = self._commit(pending)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - every failure becomes the failed state
                message = exc.args[0] if isinstance(exc, AuditWriteError) else f"{type(exc).__name__}: {exc}"
                with self._state:
                    self._error = str(message)
                    self._state.notify_all()
                if self._fatal or self._abandon.is_set():
                    return
                self._abandon.wait(self.retry_interval)
                continue
            last_seq = pending[-1].seq
            pending = []
            with self._state:
                self._committed_seq = last_seq
                self._committed_events += len(committed)
                self._error = None
                self._last_commit = time.time()
                self._state.notify_all()
            if committed and self._sinks.sinks:
                self._sinks.submit(committed)

    def _commit(self, batch: list[_Row | _Snapshot]) -> list[dict[str, Any]]:
        self._check_file()
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            state = conn.execute("SELECT head_id, head_hash FROM chain WHERE k = 1").fetchone()
            if state is None:
                raise AuditWriteError("chain state row is missing; run `ethos audit verify`")
            head_id, head_hash = int(state[0]), str(state[1])
            first_id = head_id
            rows: list[tuple[Any, ...]] = []
            for item in batch:
                if isinstance(item, _Snapshot):
                    conn.execute(
                        "INSERT OR IGNORE INTO policy_snapshots (id, personality, body, created) VALUES (?, ?, ?, ?)",
                        (item.id, item.personality, item.body, item.created),
                    )
                    continue
                head_id += 1
                digest = row_hash_from_parts(head_hash, head_id, item.head, item.values[-1])
                rows.append((head_id, *item.values, head_hash, digest))
                head_hash = digest
            if rows:
                _insert_rows(conn, rows)
                conn.execute(FTS_INDEX_SQL, (first_id, head_id))
                conn.execute("UPDATE chain SET head_id = ?, head_hash = ? WHERE k = 1", (head_id, head_hash))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise
        # A file unlinked during the transaction took the batch with it: not acknowledged.
        self._check_file()
        if not self._sinks.sinks:
            return [{}] * len(rows)
        return [dict(zip(_INSERT_COLUMNS, row, strict=True)) for row in rows]

    # --- reporting ---------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """State for ``ethos health``: ``ok`` is False whenever writes would be refused."""
        with self._state:
            error, committed, last = self._error, self._committed_events, self._last_commit
        sinks = self._sinks.health()
        return {
            "ok": error is None and not self._closed and self._writer.is_alive(),
            "writable": error is None and not self._closed,
            "path": str(self.path),
            "last_error": error,
            "error": error,
            "fatal": self._fatal,
            "closed": self._closed,
            "queue_depth": self._queue.qsize(),
            "queue_capacity": self._queue.maxsize,
            "pending": self._seq - self._committed_seq,
            "events_written": committed,
            "last_commit": None if last is None else format_ts(last),
            "schema_version": self.schema_version,
            "sinks": sinks,
            "sink_failures": sum(s["failures"] + s["dropped"] for s in sinks),
        }

    def verify(self) -> VerifyResult:
        """Check the hash chain of the whole file (see :func:`ethos_core.audit.chain.verify_chain`)."""
        conn = connect(self.path, busy_timeout=self.busy_timeout, readonly=True)
        try:
            return verify_chain(conn)
        finally:
            conn.close()

    def prune(self, now: dt.datetime | None = None, dry_run: bool = False) -> _retention.PruneReport:
        """Apply ``retention`` now (see :mod:`ethos_core.audit.retention`)."""
        self.flush()
        conn = connect(self.path, busy_timeout=self.busy_timeout, pragmas=self._pragmas)
        try:
            return _retention.prune(conn, self.retention, now=now, dry_run=dry_run)
        finally:
            conn.close()


def probe(path: str | Path, busy_timeout: float = 2.0) -> dict[str, Any]:
    """Health of a store file without a running writer (for ``ethos health`` outside the engine).

    Opens (and migrates) the file and takes the write lock without writing anything.
    """
    out: dict[str, Any] = {"path": str(path), "ok": False, "writable": False, "last_error": None}
    try:
        conn = connect(path, busy_timeout=busy_timeout)
        try:
            out["schema_version"] = migrate(conn)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE chain SET head_id = head_id WHERE k = 1")
            conn.execute("ROLLBACK")
            out["events"] = int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as exc:
        out["last_error"] = f"{type(exc).__name__}: {exc}"
        return out
    out["ok"] = out["writable"] = True
    return out
