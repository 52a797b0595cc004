"""Tamper evidence for ``observability.db``: a SHA-256 hash chain over every event row.

Invariant: each row stores ``prev_hash`` (the ``row_hash`` of the event before it, or of the
prune anchor) and ``row_hash = sha256(prev_hash "\\n" canonical_json([id, ts, category, …,
snapshot_id]) "\\n" data)``. The ``chain`` table keeps the anchor (last event removed by
retention) and the head (last event written); ``pruned_events`` keeps the id and hashes of
events pruned from the middle of the sequence. :func:`verify_chain` therefore names the first row that was edited,
deleted (anywhere, including the newest) or moved, and a retention prune never breaks it.

Does not cover: an attacker with write access who recomputes every hash after an edit. The
chain has no secret key, because any key would sit on the same disk; off-host sinks (which
receive ``row_hash``) are the answer to that attacker. See docs/audit.md.
"""

from __future__ import annotations

import gc
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import attrs

GENESIS = "0" * 64


# One encoder for every call: ``json.dumps`` with options builds a new JSONEncoder each time.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept, non-finite floats refused."""
    return _CANONICAL.encode(value)


_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_TREE_ENCODER = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(
        None, _CANONICAL.default, json.encoder.encode_basestring, None, ":", ",", True, False, False
    )
)


class NotCanonical(TypeError):
    """A value :func:`canonical_json_data` does not encode (the caller takes the general path)."""


def _read_only_mapping(value: Any) -> dict[str, Any]:
    """``default`` hook: a read-only mapping (a frozen event's ``data``) is encoded as its items.

    A proxy of a dict is encoded as that dict (its only referent: no copy); any other proxy as
    its ``items()``, the same iteration :func:`~ethos_core.audit.scrub.collect_plain` walked to
    collect the strings that were redacted (not ``copy()``, which a mapping may answer apart).
    """
    if type(value) is MappingProxyType:
        wrapped = gc.get_referents(value)
        if len(wrapped) == 1 and type(wrapped[0]) is dict:
            return wrapped[0]
        items = dict(value.items())
        if len(items) == len(value):
            return items
    raise NotCanonical(f"{type(value).__name__} is not encoded by the fast path")


def _data_encoder(ascii_only: bool) -> Any:
    if _c_make_encoder is None:
        return None
    escape = json.encoder.encode_basestring_ascii if ascii_only else json.encoder.encode_basestring
    return _c_make_encoder(None, _read_only_mapping, escape, None, ":", ",", True, False, False)


_DATA_ENCODER = _data_encoder(False)
# For text that is all ASCII without DEL, the ASCII escaper writes exactly what the UTF-8 one
# writes (both escape only '"', '\\' and control characters) and runs a C loop instead of a
# call per string.
_DATA_ENCODER_ASCII = _data_encoder(True)


def canonical_json_data(value: Any, ascii_text: bool = False) -> str:
    """:func:`canonical_json` of an acyclic value of JSON types, tuples and ``MappingProxyType``.

    ``ascii_text`` is a promise by the caller that every string in ``value`` (keys included) is
    ASCII without DEL (``\x7f``); the text is then the same, made faster. Raises
    :class:`NotCanonical` for any other object.
    """
    encoder = _DATA_ENCODER_ASCII if ascii_text else _DATA_ENCODER
    if encoder is None:
        return json.JSONEncoder(
            sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_read_only_mapping
        ).encode(value)
    return "".join(encoder(value, 0))


def canonical_json_tree(value: Any) -> str:
    """:func:`canonical_json` of an acyclic value (a fresh tree from ``scrub_value``, a row tuple).

    Same text; skips the per-call encoder set-up and the circular-reference bookkeeping, so a
    cyclic value would recurse until RecursionError: never pass caller-owned structures.
    """
    if _TREE_ENCODER is None:
        return _CANONICAL.encode(value)
    return "".join(_TREE_ENCODER(value, 0))


def row_hash(prev_hash: str, fields: Sequence[Any]) -> str:
    """Hash of one event row: ``fields`` are the values of ``schema.EVENT_FIELDS`` in order.

    Input: ``prev_hash "\n" canonical_json(fields[:-1]) "\n" data`` — ``data`` (the stored JSON
    text, last field) is hashed as stored, so no re-encoding can change a verdict.
    """
    head = canonical_json(list(fields[:-1]))
    return hashlib.sha256(f"{prev_hash}\n{head}\n{fields[-1]}".encode()).hexdigest()


def row_hash_from_parts(prev_hash: str, row_id: int, head_without_id: str, data: str) -> str:
    """Fast path of :func:`row_hash`: ``head_without_id`` is ``canonical_json(fields[1:-1])``."""
    return hashlib.sha256(f"{prev_hash}\n[{row_id},{head_without_id[1:]}\n{data}".encode()).hexdigest()


@attrs.frozen
class VerifyResult:
    """Outcome of :func:`verify_chain`. ``problem`` names the first bad row in a sentence."""

    ok: bool
    checked: int
    problem: str | None = None
    bad_id: int | None = None
    anchor_id: int = 0
    head_id: int = 0

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _holder_of(conn: sqlite3.Connection, digest: str) -> int | None:
    row = conn.execute("SELECT id FROM events WHERE row_hash = ?", (digest,)).fetchone()
    if row is None:
        row = conn.execute("SELECT id FROM pruned_events WHERE row_hash = ?", (digest,)).fetchone()
    return None if row is None else int(row[0])


def verify_chain(conn: sqlite3.Connection) -> VerifyResult:
    """Walk every event (and pruned tombstone) in id order and check the chain end to end."""
    from ethos_core.audit.schema import EVENT_FIELDS

    state = conn.execute("SELECT anchor_id, anchor_hash, head_id, head_hash FROM chain WHERE k = 1").fetchone()
    if state is None:
        return VerifyResult(False, 0, "the chain state row is missing (table chain was emptied)")
    anchor_id, anchor_hash, head_id, head_hash = int(state[0]), str(state[1]), int(state[2]), str(state[3])

    def bad(checked: int, problem: str, bad_id: int | None) -> VerifyResult:
        return VerifyResult(False, checked, problem, bad_id, anchor_id, head_id)

    tombstones = {
        int(r[0]): (str(r[1]), str(r[2]))
        for r in conn.execute("SELECT id, prev_hash, row_hash FROM pruned_events ORDER BY id")
    }
    cols = ", ".join(EVENT_FIELDS)
    cursor = conn.execute(f"SELECT {cols}, prev_hash, row_hash FROM events ORDER BY id")
    expected_prev, last_id, checked = anchor_hash, anchor_id, 0
    tomb_ids = sorted(tombstones)
    ti = 0

    def link(row_id: int, prev: str) -> tuple[str, int] | None:
        """Why ``row_id`` (claiming ``prev``) does not follow ``last_id``, and the id to blame."""
        if prev == expected_prev:
            return None
        holder = _holder_of(conn, prev)
        if holder is not None and holder > row_id:
            return f"event id {row_id} is out of order: it was written after event id {holder}", row_id
        if row_id > last_id + 1:
            span = f"event id {last_id + 1}" + (f" to {row_id - 1}" if row_id - 1 > last_id + 1 else "")
            return f"{span} deleted: the chain breaks before event id {row_id}", last_id + 1
        return (
            f"event id {row_id} does not follow event id {last_id}: a row before it was deleted, replaced or reordered",
            row_id,
        )

    for row in cursor:
        row_id = int(row[0])
        while ti < len(tomb_ids) and tomb_ids[ti] < row_id:
            tid = tomb_ids[ti]
            t_prev, t_hash = tombstones[tid]
            broken = link(tid, t_prev)
            if broken:
                return bad(checked, broken[0] + " (pruned tombstone)", broken[1])
            expected_prev, last_id = t_hash, tid
            ti += 1
        if row_id <= anchor_id:
            return bad(checked, f"event id {row_id} is older than the prune anchor (id {anchor_id}): inserted afterwards", row_id)
        fields, prev, stored = row[: len(EVENT_FIELDS)], row[-2], row[-1]
        if prev is None or stored is None:
            return bad(checked, f"event id {row_id} has no hash: inserted outside the audit writer", row_id)
        broken = link(row_id, str(prev))
        if broken:
            return bad(checked, broken[0], broken[1])
        if row_hash(str(prev), fields) != stored:
            return bad(checked, f"event id {row_id} was edited: its content no longer matches its row_hash", row_id)
        expected_prev, last_id = str(stored), row_id
        checked += 1
    while ti < len(tomb_ids):
        tid = tomb_ids[ti]
        t_prev, t_hash = tombstones[tid]
        broken = link(tid, t_prev)
        if broken:
            return bad(checked, broken[0] + " (pruned tombstone)", broken[1])
        expected_prev, last_id = t_hash, tid
        ti += 1
    if last_id != head_id or expected_prev != head_hash:
        if head_id > last_id:
            span = f"event id {last_id + 1}" + (f" to {head_id}" if head_id > last_id + 1 else "")
            return bad(checked, f"{span} deleted: the newest events are missing (head is id {head_id})", last_id + 1)
        return bad(checked, f"the chain head (id {head_id}) does not match the last event (id {last_id})", last_id)
    return VerifyResult(True, checked, None, None, anchor_id, head_id)
