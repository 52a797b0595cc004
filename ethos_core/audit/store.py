"""The audit store: the one writer of ``observability.db``.

Invariants:

* **Redaction before disk.** Every string of an event — each column and every key and value
  nested in ``data`` — goes through stage ⑬, plus the secret-key floor of
  :mod:`ethos_core.audit.scrub`, before its row exists. Callers are not trusted to have done
  it. Stage ⑬ is given as ``redact_many`` (``list[str] -> list[str]``, the engine's joined
  scan) and/or ``redact`` (``str -> str``); either is derived from the other. A redactor that
  raises or answers with the wrong length or type redacts the strings concerned to
  ``[REDACTED:redaction_error]``, exactly as if their event had been redacted alone. Policy
  snapshot bodies too. The only strings stored without a redactor call are exact constants of
  ethos (category names, severities, stage names, verdicts: ``_VOCABULARY``). The searchable
  text (``search`` column, FTS5) is built from the redacted strings only.
* **Three threads, bounded queues, batched transactions.** ``write`` *captures* the event (its
  strings collected, nothing else) and enqueues it; a preparer thread redacts captured events
  with ONE ``redact_many`` call per group of up to 64 events (a call's cost is mostly fixed)
  and encodes their rows; a single writer thread commits up to ``batch_size`` rows per
  ``BEGIN IMMEDIATE`` … ``COMMIT``, so the writer's SQLite work (no GIL) overlaps the
  preparer's Python. Only an :class:`AuditEvent` with plain, deep-frozen data is deferred; any
  other event (a secret-naming key, bytes, objects, an invalid timestamp) is redacted inside
  ``write``, so a caller's ``__str__`` runs on the caller's thread. A full queue blocks the
  producer (back-pressure); nothing is ever dropped silently. The writer re-takes the GIL
  after every SQLite call (up to a switch interval while other threads run Python), so a batch
  uses few statements: multi-row INSERTs of up to 2,048 rows binding six parameters each (SQLite
  takes the hashed head's values out of its JSON text), and the chain head remembered from its
  last commit (checked under the write lock). With ``prepare_on_caller`` (the engine's mode)
  there is no preparer: ``write`` redacts and encodes the row itself, with one stage-⑬ call
  per event, and hands it to the writer. An agent writes a few events per tool call, and a
  third thread running Python would take the GIL from the agent at every system call it makes
  (measured: ~150–250 µs of waiting per tool call); bulk producers keep the preparer.
  ``commit_delay`` (the engine uses 20 ms) lets the writer gather a burst before committing,
  so its statements (each a GIL round trip) run once per burst instead of inside every tool
  call; ``flush``, ``close``, a full batch or a waiting producer end the gathering at once.
* **Fail closed.** When a batch cannot be committed (disk full, read-only file or filesystem,
  locked past the busy timeout, the file removed or replaced) the store enters the failed
  state: every later ``write`` and ``flush`` raises :class:`~ethos_core.errors.AuditWriteError`
  (the engine turns that into a denied tool call) and ``health()`` reports the error. The
  failed batch stays in memory and is retried every ``retry_interval`` seconds; when a retry
  commits, the store recovers. A removed or replaced file is not retried (it would silently
  write into an unlinked inode): the store stays failed until it is re-opened. A preparer
  that fails (a bug) fails the store the same way, for good; its events are reported unwritten.
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
an operator with write access who rewrites the whole chain (see chain.py); the process's own
memory, where a captured event waits unredacted for the preparer (not with
``prepare_on_caller``) as it waited in the caller.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from ethos_core.audit import retention as _retention
from ethos_core.audit.chain import (
    NotCanonical,
    VerifyResult,
    canonical_json,
    canonical_json_data,
    canonical_json_tree,
    row_hash_from_parts,
    verify_chain,
)
from ethos_core.audit.events import CATEGORIES
from ethos_core.audit.schema import (
    EVENT_FIELDS,
    FTS_INDEX_SQL,
    SchemaTooNewError,
    connect,
    migrate,
    search_text,
)
from ethos_core.audit.scrub import (
    Gathered,
    IrregularShape,
    ManyRedactor,
    NotPlain,
    Redactor,
    collect_plain,
    gather_strings,
    one_at_a_time,
    per_string,
    rebuild,
    redact_batch,
    redact_groups,
    scrub_value,
)
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

_INSERT_COLUMNS = EVENT_FIELDS + ("prev_hash", "row_hash", "search")
_SINK_WIDTH = len(EVENT_FIELDS) + 2  # sinks get the hashed fields and both hashes, not ``search``
_INSERT_SQL = f"INSERT INTO events ({', '.join(_INSERT_COLUMNS)}) VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})"


# Rows per multi-row INSERT. Each statement releases and re-takes the GIL, and re-taking it
# while other threads run Python costs up to a switch interval (5 ms): fewer statements per batch
# is the writer's largest lever. Preparing a multi-row INSERT costs ~10 µs per row, so only a
# few lengths are used (the statement cache keeps them): under load the writer takes whole
# multiples of this size (see _take_batch) and only a short tail gets a length of its own.
_MAX_ROWS_PER_STATEMENT = 2048

# FTS5 tuning, stored once in events_fts_config (queries unaffected, only their speed):
# * hashsize: FTS5 keeps a batch's new index entries in memory until they exceed it (default
#   1 MB), then writes a segment that later merges rewrite. A batch of events fits in 8 MB: one
#   segment per batch and less merge work.
# * automerge: merge segments when 8 (default 4) sit on one level. Each indexed byte is rewritten
#   log8 instead of log4 times (about 30% less indexing work on the writer measured over 100k
#   events); a search reads at most 7 segments per level instead of 3, still milliseconds.
_FTS_SETTINGS: Mapping[str, int] = {"hashsize": 8 * 1024 * 1024, "automerge": 8}

# The writer's page cache (negative = KiB): a batch dirties several MB; the 2 MB default spills.
_WRITER_PRAGMAS: Mapping[str, str | int] = {"cache_size": -16384}


@attrs.frozen
class _RowShape:
    """One way to bind event rows: ``width`` parameters per row, ``row`` SQL per row; a statement
    is ``INSERT INTO events (…) <prefix> <row>, <row>, … <suffix>``."""

    width: int
    row: str
    prefix: str
    suffix: str = ""

    def sql(self, count: int) -> str:
        return _shape_sql(self, count)

    def per_statement(self, conn: sqlite3.Connection) -> int:
        """Rows per multi-row INSERT: as many as the connection's variable limit allows."""
        try:
            limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except (AttributeError, sqlite3.Error):
            limit = 999  # the historical default
        return max(1, min(_MAX_ROWS_PER_STATEMENT, limit // self.width))


_INSERT_HEAD = f"INSERT INTO events ({', '.join(_INSERT_COLUMNS)})"

# Every column bound on its own (17 parameters per row).
_FULL_ROW = _RowShape(len(_INSERT_COLUMNS), "(" + ", ".join("?" * len(_INSERT_COLUMNS)) + ")", "VALUES")

# Six parameters per row: id, the row's head (the canonical JSON array of ts … snapshot_id that
# the chain hashes), data, prev_hash, row_hash, search. SQLite takes the twelve head values out
# of the JSON text itself, in C without the GIL (binding a parameter costs the writer ~0.3 µs of
# Python-side time, extracting it costs SQLite about as much off the GIL). Only for heads
# without a backslash: every value is then its JSON text between quotes (or a number or null),
# so the stored columns are exactly the values hashed (an escape such as \u0000 is not trusted
# to SQLite's JSON reader).
_COMPACT_ROW = _RowShape(
    6,
    "(?, ?, ?, ?, ?, ?)",
    "SELECT column1, "
    + ", ".join(f"column2->>{k}" for k in range(len(EVENT_FIELDS) - 2))
    + ", column3, column4, column5, column6 FROM (VALUES",
    ")",
)
_HAS_JSON_ARROW = sqlite3.sqlite_version_info >= (3, 38, 0)


@functools.lru_cache(maxsize=128)
def _shape_sql(shape: _RowShape, count: int) -> str:
    return f"{_INSERT_HEAD} {shape.prefix} {', '.join([shape.row] * count)}{shape.suffix}"


def _insert_rows(conn: sqlite3.Connection, shape: _RowShape, params: list[Any], per_statement: int) -> None:
    """Insert flat ``params`` (``shape.width`` values per row) with multi-row statements.

    Each ``execute`` releases and re-takes the GIL around ``sqlite3_step``; while other threads
    run Python, re-taking it can cost a switch interval, so a batch uses few statements.
    """
    width = shape.width
    step = per_statement * width
    for start in range(0, len(params), step):
        chunk = params[start : start + step]
        conn.execute(shape.sql(len(chunk) // width), chunk)


def _full_params(batch: list[_Row | _Snapshot], compact: list[Any]) -> list[Any]:
    """The _FULL_ROW parameters of the event rows of ``batch`` given their _COMPACT_ROW ones."""
    full: list[Any] = []
    extend = full.extend
    k = 0
    for item in batch:
        if type(item) is tuple:
            values, _, search = item
            extend((compact[k], *values, compact[k + 3], compact[k + 4], search))
            k += _COMPACT_ROW.width
    return full


_ts_prefix: tuple[int, str] = (-1, "")  # last whole second formatted (shared; a tuple swap is atomic)


def format_ts(ts: float) -> str:
    """Unix seconds → the on-disk ISO-8601 UTC form (sortable text, microseconds).

    Same text as ``datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")`` (the
    microseconds rounded half-even, as datetime does); the date part is formatted once per second.
    """
    global _ts_prefix
    frac, whole = math.modf(ts)
    micros = round(frac * 1e6)
    if micros >= 1_000_000:
        micros -= 1_000_000
        whole += 1.0
    if micros < 0:  # before 1970 (not stored, but keep the function exact)
        return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    second = int(whole)
    cached = _ts_prefix
    if cached[0] != second:
        cached = (second, dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S."))
        _ts_prefix = cached
    return f"{cached[1]}{micros:06d}Z"


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


# One event ready for the writer: its column values (EVENT_FIELDS[1:], redacted; data, the JSON
# text, last), the canonical JSON of every value but data, and the searchable text (built from
# the redacted strings of data). A plain tuple: built per event.
_Row = tuple[tuple[Any, ...], str, str]

_TS_LIMIT = 253402300800.0  # year 10000: stored timestamps stay sortable text


class _Pending:
    """An event captured by ``write``, not yet redacted: its column values (``slots`` name the
    ones to redact, ``texts[i]`` for ``slots[i]``), every string of its plain, deep-frozen
    ``data`` (``texts[first_data:]``, in :func:`collect_plain` order), its timestamp and snapshot.

    Tuples, not lists: a queued item outlives several garbage collections, and the collector
    stops tracking a tuple of strings and ints (a list it scans at every collection, and
    promotes, which made full collections over the whole heap several times per 40k events).
    """

    __slots__ = ("data", "texts", "columns", "slots", "first_data", "ts", "turn", "snapshot")

    def __init__(
        self,
        data: Mapping[str, Any],
        texts: tuple[str, ...],
        columns: tuple[Any, ...],
        slots: tuple[int, ...],
        first_data: int,
        ts: float,
        turn: int | None,
        snapshot: str | None,
    ) -> None:
        self.data = data
        self.texts = texts
        self.columns = columns
        self.slots = slots
        self.first_data = first_data
        self.ts = ts
        self.turn = turn
        self.snapshot = snapshot


@attrs.frozen
class _Snapshot:
    id: str
    personality: str
    body: str
    created: str


class _Stop:
    pass


class _StaleHead(Exception):  # noqa: N818 - a control-flow signal inside _commit
    """The remembered chain head is not the file's: another process committed since."""


_STOP = _Stop()
_Item = _Pending | _Row | _Snapshot | _Stop

# The preparer takes up to this many queued items per round and hands their rows over at once.
_PREPARE_CHUNK = 512
# Stage ⑬ is called once per group of captured events: up to this many events or characters.
# Most of a call's cost is fixed (a scan's set-up, the Python around it), so a group of events
# costs about a third of one call per event; the character bound keeps one call's text small.
_GROUP_EVENTS = 64
_GROUP_CHARS = 256 * 1024


# Column values of an event that pass the redactor (the others: id, ts, turn, snapshot_id, data).
_TEXT_COLUMNS = ("category", "code", "severity", "personality", "session", "stage", "rule", "verdict", "source")


def _strings_of(value: Any, out: list[str]) -> list[str]:
    """Every non-empty string of a scrubbed value (keys and values, in order): its searchable text."""
    if type(value) is str:
        if value:
            out.append(value)
    elif type(value) is dict:
        for key, item in value.items():
            if key:
                out.append(key)
            _strings_of(item, out)
    elif type(value) is list:
        for item in value:
            _strings_of(item, out)
    return out


def _column_texts(event: AuditEvent, texts: list[str]) -> tuple[list[Any], list[int]]:
    """The text column values of ``event`` (_TEXT_COLUMNS order) and the positions of those to
    redact; their strings are appended to ``texts`` (``texts[i]`` for position ``slots[i]``)."""
    columns: list[Any] = []
    slots: list[int] = []
    for value in (
        event.category,
        event.code or "",
        event.severity or "info",
        event.personality,
        event.session,
        event.stage,
        event.rule,
        event.verdict,
        event.source,
    ):
        if value is None or value in _VOCABULARY:
            columns.append(value)  # ethos's own constants: never a secret
            continue
        text = value if type(value) is str else str(value)
        if text:
            slots.append(len(columns))
            texts.append(text)
        columns.append(text)
    return columns, slots


def _row(ts: str, columns: Sequence[Any], turn: int | None, snapshot: str | None, data_json: str, searchable: list[str]) -> _Row:
    values = (
        ts,
        columns[0] or "unknown",
        columns[1] or "",
        columns[2] or "info",
        columns[3],
        columns[4],
        turn,
        columns[5],
        columns[6],
        columns[7],
        columns[8],
        snapshot,
        data_json,
    )
    return values, canonical_json_tree(values[:-1]), search_text(searchable)


class AuditStore:
    """The writer of ``observability.db`` (see the module docstring for its guarantees).

    ``redact_many`` is stage ⑬ as a ``list[str] -> list[str]`` function, called once per event
    with every string of it (element ``i`` of the answer redacts element ``i``); ``redact`` is
    stage ⑬ as a ``str -> str`` function. Give either or both (at least one); ``retention`` is
    ``observability.retention`` (glob → ``Nh/Nd/Nw/forever``); ``sinks`` receive every committed
    row. ``prepare_on_caller`` redacts and encodes each row inside ``write`` instead of on a
    preparer thread (lower latency for a few events at a time; less throughput in bulk).
    ``commit_delay`` (seconds, 0–1) is how long the writer lets events gather before a commit
    that no flush asked for; it only moves when unflushed events reach the file.
    Construction opens and migrates the file and raises :class:`AuditWriteError` when it
    cannot (the engine must not start tools without an audit trail).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        redact: Redactor | None = None,
        redact_many: ManyRedactor | None = None,
        retention: Mapping[str, str] | None = None,
        sinks: Sequence[object] = (),
        queue_size: int = 8192,
        batch_size: int = 8192,
        busy_timeout: float = 5.0,
        put_timeout: float = 30.0,
        retry_interval: float = 0.5,
        pragmas: Mapping[str, str | int] | None = None,
        prepare_on_caller: bool = False,
        commit_delay: float = 0.0,
    ) -> None:
        if redact is None and redact_many is None:
            raise TypeError("AuditStore needs a redact callable (stage 13); there is no unredacted mode")
        if (redact is not None and not callable(redact)) or (redact_many is not None and not callable(redact_many)):
            raise TypeError("AuditStore redact / redact_many must be callable (stage 13)")
        self.path = Path(path)
        # Both forms, whichever the caller gave: events use the batch (one call per event),
        # policy bodies the per-string form.
        self.redact: Redactor = redact if redact is not None else one_at_a_time(redact_many)  # type: ignore[arg-type]
        self.redact_many: ManyRedactor = redact_many if redact_many is not None else per_string(redact)  # type: ignore[arg-type]
        self.retention: dict[str, str] = dict(retention or {})
        _retention.validate_retention(self.retention)
        self.busy_timeout = busy_timeout
        self.put_timeout = put_timeout
        self.retry_interval = retry_interval
        self.batch_size = max(1, batch_size)
        if not (isinstance(commit_delay, (int, float)) and 0.0 <= commit_delay <= 1.0):
            raise ValueError("commit_delay must be between 0 and 1 second")
        self.commit_delay = float(commit_delay)
        self._pragmas = dict(pragmas or {})
        self._fts_tuned = False
        self._head: tuple[int, str] | None = None  # chain head after our last commit (writer thread)
        # Two bounded queues, lists swapped out whole (one lock round trip per batch, not per
        # item): producers -> _buffer -> preparer -> _ready -> writer. Items keep their order
        # and are numbered by position: the n-th item enqueued has seq n.
        self._capacity = max(1, queue_size)
        self._buffer: list[_Item] = []
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._preparer_waiting = False  # under _lock
        self._producers_waiting = 0  # under _lock
        self._ready: list[_Item] = []  # rows, snapshots and the stop marker, for the writer
        self._ready_lock = threading.Lock()
        self._ready_not_empty = threading.Condition(self._ready_lock)
        self._ready_not_full = threading.Condition(self._ready_lock)
        self._writer_waiting = False  # under _ready_lock
        self._handing_over = False  # under _ready_lock: the preparer waits for room
        self._gathering = False  # under _ready_lock: the writer lets a burst gather (commit_delay)
        self._flush_wanted = False  # under _ready_lock: a flush waits, so commit now
        self._state = threading.Condition()
        self._seq = 0  # items enqueued so far = seq of the last one (under _lock)
        self._committed_seq = 0  # items committed so far (under _state)
        self._committed_events = 0
        self._error: str | None = None
        self._fatal = False
        self._closed = False
        self._last_commit: float | None = None
        self._latest_snapshot: dict[str, str] = {}
        self._snap_lock = threading.Lock()
        self._abandon = threading.Event()
        try:
            self._conn = connect(self.path, busy_timeout=busy_timeout, pragmas={**_WRITER_PRAGMAS, **self._pragmas})
            try:
                self._per_statement = _FULL_ROW.per_statement(self._conn)
                self._per_compact_statement = _COMPACT_ROW.per_statement(self._conn)
                self.schema_version = migrate(self._conn)
                self._identity = self._stat_identity()
            except BaseException:
                self._conn.close()
                raise
        except (sqlite3.Error, OSError, SchemaTooNewError) as exc:
            raise AuditWriteError(f"cannot open audit store {self.path}: {exc}") from exc
        self._sinks = SinkDispatcher(sinks)
        self.prepare_on_caller = prepare_on_caller
        self._preparer: threading.Thread | None = None
        if not prepare_on_caller:
            self._preparer = threading.Thread(target=self._prepare_loop, name="ethos-audit-preparer", daemon=True)
            self._preparer.start()
        self._writer = threading.Thread(target=self._run, name="ethos-audit-writer", daemon=True)
        self._writer.start()

    @classmethod
    def for_runtime(
        cls,
        runtime: Any,
        *,
        redact: Redactor | None = None,
        redact_many: ManyRedactor | None = None,
        sinks: Sequence[object] = (),
        **kw: Any,
    ) -> AuditStore:
        """The engine's store: ``$ETHOS_HOME/observability.db`` with ``observability.retention``
        and the configured ``observability.sinks`` (plus ``sinks``, e.g. from ``ethos_audit_sinks``)."""
        from ethos_core.audit.sinks import sinks_from_config

        obs = runtime.config.observability
        configured = sinks_from_config(obs.sinks)
        return cls(
            runtime.home.observability_db,
            redact=redact,
            redact_many=redact_many,
            retention=obs.retention,
            sinks=[*configured, *sinks],
            **kw,
        )

    # --- producer side -----------------------------------------------------------------------

    def write(self, event: AuditEvent) -> None:
        """Capture ``event`` and enqueue it; blocks while the queue is full.

        An :class:`AuditEvent` whose data is plain (see :func:`collect_plain`) is redacted by
        the preparer thread, with other events in one stage-⑬ call; any other event is
        redacted here. Either way no string reaches the file unredacted. Raises
        :class:`AuditWriteError` when the store is failed or closed, or when the queue stayed
        full for ``put_timeout`` seconds.
        """
        self._raise_if_failed()
        if self._preparer is None:
            self._put(self._prepare(event))
        else:
            self._put(self._capture(event))

    def _capture(self, event: AuditEvent) -> _Pending | _Row:
        """``write``'s share: read everything the row needs from ``event`` now.

        Deferring the rest is safe only for data nobody can change: an ``AuditEvent``'s data is
        deep-frozen by its converter (read-only mappings and tuples of fresh containers), and
        plain data holds no object whose ``str`` could run code. Anything else is prepared now.
        """
        ts = event.ts
        if type(event) is not AuditEvent or type(ts) is not float or not 0.0 <= ts < _TS_LIMIT:
            return self._prepare(event)
        texts: list[str] = []
        columns, slots = _column_texts(event, texts)
        first_data = len(texts)
        try:
            collect_plain(event.data, texts)
        except NotPlain:
            return self._prepare(event)
        snapshot = self._latest_snapshot.get(event.personality) if event.personality is not None else None
        turn = None if event.turn is None else int(event.turn)
        return _Pending(event.data, tuple(texts), tuple(columns), tuple(slots), first_data, ts, turn, snapshot)

    def _prepare(self, event: AuditEvent) -> _Row:
        """The redacted row of ``event``, now: every string it holds goes through ONE
        ``redact_many`` call (columns, then every key and value of ``data``, then an invalid
        timestamp's text). The preparer's grouped rows are exactly these rows."""
        texts: list[str] = []
        columns, slots = _column_texts(event, texts)
        first_data = len(texts)
        plain = True
        gathered: Gathered | None = None
        try:
            collect_plain(event.data, texts)
        except NotPlain:
            plain = False
            del texts[first_data:]
            try:
                gathered = gather_strings(event.data, texts)
            except IrregularShape:
                del texts[first_data:]
        turn = None if event.turn is None else int(event.turn)
        snapshot = self._latest_snapshot.get(event.personality) if event.personality is not None else None
        ts, bad_ts = _event_ts(event.ts)
        if plain and bad_ts is None:
            pending = _Pending(
                event.data, tuple(texts), tuple(columns), tuple(slots), first_data, float(event.ts), turn, snapshot
            )
            return self._finish(pending, redact_batch(texts, self.redact_many))
        end_data = len(texts)
        if bad_ts is not None:
            texts.append(bad_ts)
        out = redact_batch(texts, self.redact_many)
        for pos, redacted in zip(slots, out, strict=False):
            columns[pos] = redacted
        searchable = out[first_data:end_data]
        data: Any
        if plain or gathered is not None:
            if gathered is None:
                gathered = gather_strings(event.data, [])  # plain: the same strings, in the same order
            data = rebuild(gathered.tree, iter(searchable))
        else:  # a shape the batch cannot mirror: the per-string walk
            data = scrub_value(event.data, self.redact)
            searchable = _strings_of(data, [])
        if bad_ts is not None:
            data = {"event": data, "invalid_ts": out[-1]}
            searchable = [*searchable, out[-1]]
        joined = "".join(out)
        try:
            data_json = canonical_json_data(data, joined.isascii() and "\x7f" not in joined)
        except NotCanonical:  # a read-only mapping that yields a key twice: the exact slow path
            data = scrub_value(event.data, self.redact)
            searchable = _strings_of(data, [])
            if bad_ts is not None:
                data = {"event": data, "invalid_ts": out[-1]}
                searchable = [*searchable, out[-1]]
            data_json = canonical_json_tree(data)
        return _row(ts, columns, turn, snapshot, data_json, searchable)

    def _finish(self, pending: _Pending, out: list[str]) -> _Row:
        """The row of a captured plain event from ``out``, the redaction of ``pending.texts``."""
        columns: Sequence[Any] = pending.columns
        first = pending.first_data
        searchable = out[first:]
        data: Any = pending.data  # nothing redacted: stored as it is (immutable, depth-checked)
        if tuple(out) != pending.texts:  # the columns hold the texts: only changes are applied
            changed = list(columns)
            for pos, redacted in zip(pending.slots, out, strict=False):
                changed[pos] = redacted
            columns = changed
            if tuple(searchable) != pending.texts[first:]:
                data = rebuild(gather_strings(pending.data, []).tree, iter(searchable))
        joined = "".join(out)
        try:
            data_json = canonical_json_data(data, joined.isascii() and "\x7f" not in joined)
        except NotCanonical:  # a read-only mapping that yields a key twice: the exact slow path
            data = scrub_value(pending.data, self.redact)
            searchable = _strings_of(data, [])
            data_json = canonical_json_tree(data)
        return _row(format_ts(pending.ts), columns, pending.turn, pending.snapshot, data_json, searchable)

    def _finish_items(self, items: list[_Item]) -> list[_Item]:
        """``items`` with every captured event replaced by its row, in order; stage ⑬ is called
        once per group of consecutive captured events (see :func:`redact_groups`)."""
        out: list[_Item] = []
        group: list[_Pending] = []
        chars = 0
        for item in items:
            if type(item) is _Pending:
                group.append(item)
                chars += sum(map(len, item.texts))
                if len(group) < _GROUP_EVENTS and chars < _GROUP_CHARS:
                    continue
            if group:
                answers = redact_groups([p.texts for p in group], self.redact_many)
                out.extend(map(self._finish, group, answers))
                group, chars = [], 0
            if type(item) is not _Pending:
                out.append(item)
        if group:
            answers = redact_groups([p.texts for p in group], self.redact_many)
            out.extend(map(self._finish, group, answers))
        return out

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
            self._put(_Snapshot(snap_id, personality, body, created))
            self._latest_snapshot[personality] = snap_id
        return snap_id

    def snapshot_for(self, personality: str) -> str | None:
        return self._latest_snapshot.get(personality)

    def _put(self, item: _Pending | _Row | _Snapshot) -> None:
        if self._preparer is None:
            self._put_ready(item)
            return
        with self._lock:
            if len(self._buffer) >= self._capacity:
                self._wait_for_room()
            self._raise_if_failed()
            self._buffer.append(item)
            self._seq += 1
            if self._preparer_waiting:
                self._preparer_waiting = False
                self._not_empty.notify()

    def _put_ready(self, item: _Pending | _Row | _Snapshot) -> None:
        """``_put`` without a preparer: ``item`` (a finished row) goes straight to the writer.

        ``_lock`` is held throughout, so the order of the writer's queue is the order of ``seq``
        across producers, as with the preparer. Back-pressure as in ``_wait_for_room``.
        """
        with self._lock:
            self._raise_if_failed()
            with self._ready_lock:
                if len(self._ready) >= self._capacity:
                    deadline = time.monotonic() + self.put_timeout
                    while len(self._ready) >= self._capacity:
                        self._raise_if_failed()
                        if time.monotonic() > deadline or not self._writer.is_alive():
                            raise AuditWriteError(
                                f"audit queue stayed full for {self.put_timeout:.0f}s; the writer is not keeping up"
                            )
                        self._handing_over = True
                        if self._gathering:
                            self._ready_not_empty.notify()
                        self._ready_not_full.wait(0.05)
                self._ready.append(item)
                self._seq += 1
                if self._writer_waiting or (self._gathering and len(self._ready) >= self.batch_size):
                    self._writer_waiting = False
                    self._ready_not_empty.notify()

    def _wait_for_room(self) -> None:
        """Back-pressure (called holding ``_lock``): wait for the writer, fail past ``put_timeout``."""
        deadline = time.monotonic() + self.put_timeout
        self._producers_waiting += 1
        try:
            while len(self._buffer) >= self._capacity:
                self._raise_if_failed()
                if time.monotonic() > deadline:
                    raise AuditWriteError(
                        f"audit queue stayed full for {self.put_timeout:.0f}s; the writer is not keeping up"
                    )
                self._not_full.wait(0.05)
        finally:
            self._producers_waiting -= 1

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
        if self.commit_delay:
            with self._ready_lock:
                self._flush_wanted = True
                if self._gathering:
                    self._ready_not_empty.notify()
        with self._state:
            while self._committed_seq < target:
                if self._error is not None:
                    raise AuditWriteError(f"audit store cannot be written: {self._error}")
                if not self._threads_alive():
                    raise AuditWriteError("audit writer stopped before the events were written")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise AuditWriteError(f"audit flush timed out with {target - self._committed_seq} items pending")
                self._state.wait(0.1 if remaining is None else min(0.1, remaining))

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, stop the writer and the sinks. Raises if events are left unwritten."""
        if self._closed:
            return
        with self._lock:
            if self._closed:  # a concurrent close() got here first: one stop marker only
                return
            self._closed = True
            if self._preparer is None:
                with self._ready_lock:  # the marker may exceed the capacity by one
                    self._ready.append(_STOP)
                    self._writer_waiting = False
                    self._ready_not_empty.notify()
            else:
                # The stop marker may exceed the capacity by one: it must not wait behind a full queue.
                self._buffer.append(_STOP)
                self._preparer_waiting = False
                self._not_empty.notify()
        deadline = time.monotonic() + timeout
        if self._preparer is not None:
            self._preparer.join(timeout)
        self._writer.join(max(0.0, deadline - time.monotonic()))
        # A writer still retrying a failed batch gives up now; its events are reported below.
        self._abandon.set()
        if self._preparer is not None:
            self._preparer.join(self.retry_interval + 1.0)
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

    def _threads_alive(self) -> bool:
        return (self._preparer is None or self._preparer.is_alive()) and self._writer.is_alive()

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

    def _take_items(self) -> list[_Item]:
        """The preparer's share of the queue: wait for items, take up to _PREPARE_CHUNK, oldest first."""
        with self._lock:
            while not self._buffer:
                self._preparer_waiting = True
                self._not_empty.wait()
            buffer = self._buffer
            if len(buffer) <= _PREPARE_CHUNK:
                self._buffer = []
                taken = buffer
            else:
                taken = buffer[:_PREPARE_CHUNK]
                del buffer[:_PREPARE_CHUNK]
            if self._producers_waiting:
                self._not_full.notify_all()
            return taken

    def _prepare_loop(self) -> None:
        """The preparer thread: redact and encode captured events while the writer is in SQLite."""
        while True:
            items = self._take_items()
            try:
                ready = self._finish_items(items)
            except Exception as exc:  # noqa: BLE001 - a bug must fail closed, never drop events quietly
                with self._state:
                    self._error = f"audit preparer failed: {type(exc).__name__}: {exc}"
                    self._fatal = True
                    self._state.notify_all()
                ready = [_STOP]  # the writer commits what it has, then stops
            if not self._hand_over(ready) or ready[-1] is _STOP:
                return

    def _hand_over(self, items: list[_Item]) -> bool:
        """Append prepared ``items`` for the writer, waiting while it holds ``queue_size`` of them.

        False when the store was abandoned meanwhile (close() gave up on a failed writer).
        """
        with self._ready_lock:
            while len(self._ready) >= self._capacity and items[-1] is not _STOP:
                if self._abandon.is_set() or not self._writer.is_alive():
                    return False
                self._handing_over = True
                if self._gathering:
                    self._ready_not_empty.notify()
                self._ready_not_full.wait(0.1)
            self._ready.extend(items)
            if self._writer_waiting:
                self._writer_waiting = False
                self._ready_not_empty.notify()
        return True

    def _take_batch(self) -> list[_Item]:
        """The writer's share: wait for prepared items, take up to ``batch_size``, oldest first."""
        with self._ready_lock:
            while not self._ready:
                self._writer_waiting = True
                self._ready_not_empty.wait()
            if self.commit_delay and not self._flush_wanted:
                self._gather(time.monotonic() + self.commit_delay)
            self._flush_wanted = False
            ready = self._ready
            count = min(len(ready), self.batch_size)
            step = self._per_compact_statement if _HAS_JSON_ARROW else self._per_statement
            if count >= 2 * step:
                count -= count % step  # whole statements; the tail waits for the next batch
            if count == len(ready):
                self._ready = []
                taken = ready
            else:
                taken = ready[:count]
                del ready[:count]
            if self._handing_over:
                self._handing_over = False
                self._ready_not_full.notify()
            return taken

    def _gather(self, deadline: float) -> None:
        """Let a burst of events gather (``commit_delay``; called holding ``_ready_lock``).

        An agent writes an event or two per tool call; committing each at once makes the writer
        take the GIL (five statements, each a GIL round trip) in the middle of every call. Ends
        early for a flush, a full batch, a producer waiting for room or the stop marker.
        """
        self._gathering = True
        try:
            while not (
                self._flush_wanted
                or self._handing_over
                or len(self._ready) >= self.batch_size
                or self._ready[-1] is _STOP
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._ready_not_empty.wait(remaining)
        finally:
            self._gathering = False

    def _run(self) -> None:
        pending: list[_Item] = []
        stopping = False
        while True:
            if not pending:
                if stopping:
                    return
                pending = self._take_batch()
            # A stop marker can only be last: nothing is enqueued after close() put it.
            if pending and pending[-1] is _STOP:
                pending.pop()
                stopping = True
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
            done = len(pending)
            pending = []
            with self._state:
                self._committed_seq += done
                self._committed_events += len(committed)
                self._error = None
                self._last_commit = time.time()
                self._state.notify_all()
            if committed and self._sinks.sinks:
                self._sinks.submit(committed)

    def _commit(self, batch: list[_Row | _Snapshot]) -> list[dict[str, Any]]:
        self._check_file()
        remembered, self._head = self._head, None  # set again only by a successful commit
        if remembered is not None:
            try:
                return self._commit_once(batch, remembered)
            except _StaleHead:
                pass  # another process wrote since our last commit: read the head, chain again
        return self._commit_once(batch, None)

    def _commit_once(self, batch: list[_Row | _Snapshot], head: tuple[int, str] | None) -> list[dict[str, Any]]:
        """One transaction. ``head`` is the chain head this store committed last (None: read it).

        A remembered head saves a SELECT (two GIL round trips); it is checked by the final
        ``UPDATE chain … WHERE head_id = ? AND head_hash = ?`` under the write lock, and a
        mismatch (another process wrote meanwhile) rolls the whole batch back (_StaleHead).
        """
        conn = self._conn
        remembered = head is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            if head is None:
                state = conn.execute("SELECT head_id, head_hash FROM chain WHERE k = 1").fetchone()
                if state is None:
                    raise AuditWriteError("chain state row is missing; run `ethos audit verify`")
                head = (int(state[0]), str(state[1]))
            head_id, head_hash = head
            first_id, first_hash = head
            if not self._fts_tuned:
                self._tune_fts(conn)
            # Flat parameters of every row in _COMPACT_ROW order (id, head, data, both hashes, search).
            params: list[Any] = []
            extend = params.extend
            escaped = not _HAS_JSON_ARROW
            for item in batch:
                if type(item) is not tuple:
                    assert isinstance(item, _Snapshot)
                    conn.execute(
                        "INSERT OR IGNORE INTO policy_snapshots (id, personality, body, created) VALUES (?, ?, ?, ?)",
                        (item.id, item.personality, item.body, item.created),
                    )
                    continue
                values, row_head, search = item
                head_id += 1
                digest = row_hash_from_parts(head_hash, head_id, row_head, values[-1])
                extend((head_id, row_head, values[-1], head_hash, digest, search))
                if "\\" in row_head:
                    escaped = True
                head_hash = digest
            if params:
                try:
                    if escaped:
                        _insert_rows(conn, _FULL_ROW, _full_params(batch, params), self._per_statement)
                    else:
                        _insert_rows(conn, _COMPACT_ROW, params, self._per_compact_statement)
                except sqlite3.IntegrityError:
                    if remembered:
                        raise _StaleHead() from None  # ids taken by another process: re-read
                    raise
                conn.execute(FTS_INDEX_SQL, (first_id, head_id))
                moved = conn.execute(
                    "UPDATE chain SET head_id = ?, head_hash = ? WHERE k = 1 AND head_id = ? AND head_hash = ?",
                    (head_id, head_hash, first_id, first_hash),
                ).rowcount
                if moved != 1:
                    if remembered:
                        raise _StaleHead()
                    raise AuditWriteError("chain state row changed inside the write transaction")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise
        self._fts_tuned = True
        self._head = (head_id, head_hash) if params else None
        # A file unlinked during the transaction took the batch with it: not acknowledged.
        self._check_file()
        count = head_id - first_id
        if not self._sinks.sinks:
            return [{}] * count
        names = _INSERT_COLUMNS[:_SINK_WIDTH]
        full = _full_params(batch, params)
        width = len(_INSERT_COLUMNS)
        return [dict(zip(names, full[k : k + _SINK_WIDTH], strict=True)) for k in range(0, len(full), width)]

    @staticmethod
    def _tune_fts(conn: sqlite3.Connection) -> None:
        """Apply :data:`_FTS_SETTINGS` to the file once, inside the writer's first transaction."""
        current = dict(conn.execute("SELECT k, v FROM events_fts_config"))
        for name, value in _FTS_SETTINGS.items():
            if current.get(name) != value:
                conn.execute("INSERT INTO events_fts(events_fts, rank) VALUES (?, ?)", (name, value))

    # --- reporting ---------------------------------------------------------------------------

    def refusal(self) -> str | None:
        """Why writes would be refused right now (failed, closed, writer gone), else None.

        The cheap check the engine makes before every tool call; :meth:`health` has the details.
        """
        error = self._error
        if error is not None:
            return error
        if self._closed:
            return "audit store is closed"
        if not self._threads_alive():
            return "audit writer stopped"
        return None

    def health(self) -> dict[str, Any]:
        """State for ``ethos health``: ``ok`` is False whenever writes would be refused."""
        with self._state:
            error, committed, last = self._error, self._committed_events, self._last_commit
        sinks = self._sinks.health()
        return {
            "ok": error is None and not self._closed and self._threads_alive(),
            "writable": error is None and not self._closed,
            "path": str(self.path),
            "last_error": error,
            "error": error,
            "fatal": self._fatal,
            "closed": self._closed,
            "queue_depth": len(self._buffer) + len(self._ready),
            "queue_capacity": self._capacity,
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
