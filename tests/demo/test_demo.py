"""`ethos demo` end to end: every chain is stopped by the expected layer, and the audit rows exist."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ethos_core.cli.main import cli
from ethos_core.demo import run_demo
from ethos_core.demo.chains import FAKE_KEY

EXPECTED = {
    "poisoned email → web_post exfiltration": ("tool_downgraded", "audit.block"),
    "skill uses the network without declaring it": ("manifest.undeclared_network", "install.scan"),
    "SSRF to cloud metadata (direct)": ("ssrf.metadata", "audit.block"),
    "SSRF to cloud metadata (through a redirect)": ("ssrf.metadata", "audit.block"),
    "a tool failing again and again": ("watcher.errors_tool", "audit.watcher"),
    "credential inside a tool error": ("redaction.applied", "audit.redacted"),
    "drive-by group message": ("channel.not_allowed, mention.missing", "channel.deny"),
    "read another personality's files": ("fs.outside_reach", "audit.block"),
    "rm -rf ~": ("hardline.rm_root", "audit.block"),
}


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> tuple[list, Path]:
    root = tmp_path_factory.mktemp("demo")
    return run_demo(root), root / "demo-home" / "observability.db"


def test_every_chain_is_stopped_by_the_expected_layer(played: tuple[list, Path]) -> None:
    rows, _ = played
    assert [r.attack for r in rows] == list(EXPECTED)
    for row in rows:
        assert row.stopped, (row.attack, row.detail)
        assert row.rule == EXPECTED[row.attack][0], row


def test_each_chain_has_its_audit_row(played: tuple[list, Path]) -> None:
    rows, db = played
    with sqlite3.connect(db) as conn:
        for row in rows:
            assert row.event_id is not None, row
            category, rule = conn.execute("SELECT category, rule FROM events WHERE id = ?", (row.event_id,)).fetchone()
            assert category == EXPECTED[row.attack][1], (row.attack, category)
            if category in ("audit.block", "audit.watcher"):
                assert rule == row.rule
        # the redirect chain was refused on its second hop
        hops = conn.execute("SELECT data FROM events WHERE category = 'audit.block' AND rule = 'ssrf.metadata'").fetchall()
        assert any('"hop": 1' in d[0] or '"hop":1' in d[0] for d in hops), hops
        # the watcher recorded its evidence; channel denials carry both rules
        assert conn.execute("SELECT COUNT(*) FROM events WHERE category='channel.deny' AND rule='mention.missing'").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM events WHERE category='channel.deny' AND rule='channel.not_allowed'").fetchone()[0] == 1


def test_the_leaked_key_never_reaches_disk(played: tuple[list, Path]) -> None:
    _, db = played
    raw = b"".join(p.read_bytes() for p in db.parent.glob("observability.db*") if p.is_file())
    assert FAKE_KEY.encode() not in raw
    assert FAKE_KEY[:20].encode() not in raw


def test_demo_cli_json_and_exit_code(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--home", str(tmp_path / "d"), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 9 and all(r["stopped"] for r in rows)
