"""The engine remembers stage-⑬ outputs so the audit path does not scan them twice. What it
remembers must be redaction output only: a secret in a tool result, an error or an argument —
whole, truncated by observability ``redacted`` mode, or split by the cut — never reaches the
database bytes; and the memory is bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ethos_core import ToolSpec, hookimpl
from ethos_core.audit.events import REDACTED_MODE_MAX_CHARS
from ethos_core.engine import _MEMO_MAX_CHARS, Engine
from ethos_core.types import ToolCall
from tests.conftest import make_home

ANT = "sk-ant-api03-" + "Qz7xV2mN9pL4kR8sT1wY6uB3cD5eF0gH" * 2 + "AA"
AWS = "AKIAZ7XV2MN9PL4KR8ST"


class LeakyTools:
    @hookimpl
    def ethos_register_tools(self, registry: Any) -> None:
        registry.add(ToolSpec(name="leak_result", description="returns a key"),
                     lambda call, s: f"here is the key {ANT} and {AWS}")
        # The secret straddles the cut of observability 'redacted' mode.
        registry.add(ToolSpec(name="leak_at_cut", description="returns a long text"),
                     lambda call, s: "x" * (REDACTED_MODE_MAX_CHARS - 20) + " " + ANT + " tail")

        def fail(call: Any, s: Any) -> str:
            raise RuntimeError(f"upstream said: invalid key {ANT}")

        registry.add(ToolSpec(name="leak_error", description="fails with a key"), fail)


def _raw(home: Path) -> bytes:
    blob = b""
    for suffix in ("", "-wal"):
        f = home / f"observability.db{suffix}"
        if f.exists():
            blob += f.read_bytes()
    return blob


def test_secrets_in_results_errors_and_arguments_never_reach_disk(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h", toolset="- leak_result\n- leak_at_cut\n- leak_error\n")
    with Engine.from_home(home, plugins=[LeakyTools()], autoload=False) as engine:
        s = engine.session("default")
        outs = [s.run_tool(ToolCall(name, {"note": f"arg carries {AWS}"}, call_id=name))
                for name in ("leak_result", "leak_at_cut", "leak_error")]
        # Run everything twice: the second round meets a warm memo.
        outs += [s.run_tool(ToolCall(name, {"note": f"arg carries {AWS}"}, call_id=name + "2"))
                 for name in ("leak_result", "leak_at_cut", "leak_error")]
        engine.runtime.services["audit"].flush()
    for out in outs:
        assert ANT not in out.text and AWS not in out.text
    blob = _raw(home)
    assert b"tool_call" in blob
    for secret in (ANT, AWS, ANT[:40], ANT[-40:]):
        assert secret.encode() not in blob, secret


def test_the_memo_is_bounded_in_total_characters(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h")
    with Engine.from_home(home, autoload=False) as engine:
        chunk = "y" * (_MEMO_MAX_CHARS // 3)
        for i in range(10):
            engine._remember_redacted(f"{i}{chunk}")
            with engine._memo_lock:  # the audit store's preparer thread records outputs too
                assert engine._redacted_chars <= _MEMO_MAX_CHARS
                assert sum(map(len, engine._redacted_outputs)) == engine._redacted_chars
        # Something larger than the whole budget is simply not remembered.
        engine._remember_redacted("z" * (_MEMO_MAX_CHARS + 1))
        assert engine._redacted_chars <= _MEMO_MAX_CHARS


def test_redact_event_covers_every_string_and_keeps_clean_events_as_they_are(tmp_path: Path) -> None:
    from ethos_core.types import AuditEvent

    home = make_home(tmp_path / "h")
    with Engine.from_home(home, autoload=False) as engine:
        clean = AuditEvent(category="audit.tool_call", code="tool_call.ok", rule="r", session="s1",
                           data={"tool": "t", "args": {"n": 1, "list": ["a", ("b", 2.5)], "none": None}})
        assert engine.redact_event(clean) is clean  # nothing to redact: no copy
        dirty = AuditEvent(
            category="audit.block", code=f"deny {AWS}", rule="r", session=f"s {ANT}",
            data={"tool": "t", ANT: "key named by a secret", 7: AWS,
                  "nested": {"list": ["ok", {"deep": f"x {ANT} y"}, (AWS, 3)], "n": 2}})
        out = engine.redact_event(dirty)
        text = repr(out)
        assert ANT not in text and AWS not in text
        assert out.category == "audit.block" and out.rule == "r"
        assert out.data["tool"] == "t" and out.data["nested"]["n"] == 2 and out.data["nested"]["list"][0] == "ok"
        assert out.code.startswith("deny [REDACTED:") and out.session.startswith("s [REDACTED:")
        # Sets and other objects take the general path and are redacted too.
        odd = AuditEvent(category="audit.block", data={"set": frozenset({f"a {AWS}", "b"}), "obj": Path(f"/x/{AWS}")})
        text = repr(engine.redact_event(odd))
        assert AWS not in text


def test_the_memo_stays_consistent_under_concurrent_writers(tmp_path: Path) -> None:
    """The audit store's preparer thread and the agent's thread both record redaction outputs:
    the character count must match the memo's content whatever the interleaving."""
    import threading

    home = make_home(tmp_path / "h")
    with Engine.from_home(home, autoload=False) as engine:
        chunk = "q" * (_MEMO_MAX_CHARS // 7)

        def record(tag: str) -> None:
            for i in range(400):
                engine._remember_redacted(f"{tag}{i}{chunk}")

        threads = [threading.Thread(target=record, args=(t,)) for t in "abcd"]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with engine._memo_lock:
            assert engine._redacted_chars <= _MEMO_MAX_CHARS
            assert sum(map(len, engine._redacted_outputs)) == engine._redacted_chars
