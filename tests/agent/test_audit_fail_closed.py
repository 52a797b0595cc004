"""An audit store that cannot be written (full disk, read-only file) denies every tool call with
``audit.unwritable`` — the engine never runs a tool it cannot record — and a store that
recovers lets calls run again."""

from __future__ import annotations

from pathlib import Path

import pytest

from ethos_core.audit import AuditStore
from ethos_core.engine import Engine
from ethos_core.errors import AuditWriteError
from ethos_core.types import AuditEvent, ToolCall
from ethos_core.verdicts import Verdict
from tests.conftest import make_home


@pytest.mark.parametrize("pragmas", [{"query_only": 1}, {"max_page_count": 1}], ids=["read_only", "full_disk"])
def test_an_unwritable_store_denies_tool_calls(tmp_path: Path, pragmas: dict[str, int]) -> None:
    home = make_home(tmp_path / "h", toolset="- read_file\n")
    data = home / "personalities/default/data"
    (data / "a.txt").write_text("alpha", encoding="utf-8")
    with Engine.from_home(home, autoload=False) as engine:
        s = engine.session("default")
        assert s.before_tool(ToolCall("read_file", {"path": str(data / "a.txt")})).verdict is Verdict.ALLOW
        healthy = engine.runtime.services["audit"]
        broken = AuditStore(healthy.path, redact=engine.redact, pragmas=pragmas, retry_interval=0.05)
        engine.runtime.services["audit"] = broken
        broken.write(AuditEvent("audit.tool_call", data={"body": "y" * 20_000}))
        with pytest.raises(AuditWriteError):
            broken.flush()
        decision = s.before_tool(ToolCall("read_file", {"path": str(data / "a.txt")}))
        out = s.run_tool(ToolCall("read_file", {"path": str(data / "a.txt")}))
        engine.runtime.services["audit"] = healthy  # the engine closes its own store
        try:
            broken.close(timeout=1)
        except AuditWriteError:
            pass  # the failed batch is reported as unwritten: expected
    assert decision.verdict is Verdict.DENY and decision.rule == "audit.unwritable"
    assert "cannot be written" in decision.reason
    assert not out.result.ok and "audit.unwritable" in (out.result.error or "")
    assert "alpha" not in out.text
