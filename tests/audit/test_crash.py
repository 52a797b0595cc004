"""A process killed (SIGKILL) mid-batch leaves a consistent database with every acknowledged event."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ethos_core.audit import query as q
from ethos_core.audit.chain import verify_chain

WRITER = textwrap.dedent(
    """
    import sys
    from ethos_core.audit import AuditStore
    from ethos_core.types import AuditEvent

    store = AuditStore(sys.argv[1], redact=str, batch_size=64, prepare_on_caller=sys.argv[2] == "caller")
    turn = 0
    while True:
        for _ in range(97):  # never a multiple of the batch size: kills land mid-batch
            store.write(AuditEvent("audit.tool_call", turn=turn, data={"pad": "x" * 300}))
            turn += 1
        store.flush()
        print(turn - 1, flush=True)  # every turn up to here is acknowledged
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("prepare", ["preparer", "caller"])
def test_sigkill_mid_batch_keeps_every_acknowledged_event(tmp_path: Path, prepare: str) -> None:
    path = tmp_path / "observability.db"
    acknowledged = -1
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), prepare],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    ) as proc:
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                acknowledged = int(line)
                if acknowledged >= 2000:
                    break
            proc.send_signal(signal.SIGKILL)  # the writer is still producing: the kill lands mid-stream
        finally:
            proc.kill()
            _, err = proc.communicate(timeout=30)
    assert acknowledged >= 2000, err

    conn = sqlite3.connect(path)  # recovery from the WAL happens on open
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute("INSERT INTO events_fts(events_fts) VALUES ('integrity-check')")
        turns = [r[0] for r in conn.execute("SELECT turn FROM events ORDER BY id")]
    finally:
        conn.close()
    assert turns[: acknowledged + 1] == list(range(acknowledged + 1))
    assert turns == list(range(len(turns)))  # whatever else committed is whole and in order
    ro = q.open_readonly(path)
    try:
        assert verify_chain(ro).ok
    finally:
        ro.close()
