"""The built-in shell tool: minimal environment, per-session HOME, hardline re-check, caps."""

from __future__ import annotations

from pathlib import Path

import pytest

from ethos_core.tools.shell import ShellToolError, make_shell_tool
from ethos_core.types import Capability, ToolCall


class Sess:
    id = "sess-1"


def run(handler, command: str, cwd: str | None = None) -> str:  # type: ignore[no-untyped-def]
    return handler(ToolCall("shell", {"command": command}, capabilities={"exec"}, cwd=cwd), Sess())  # type: ignore[no-any-return]


def test_spec() -> None:
    spec, _ = make_shell_tool("/tmp/unused")
    assert spec.name == "shell" and spec.capabilities == frozenset({Capability.EXEC})
    assert spec.arg_roles[0].name == "command" and spec.arg_roles[0].kind == "command"


def test_minimal_environment_without_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_should_not_leak")
    _, handler = make_shell_tool(tmp_path, extra_env={"MY_SECRET": "x", "COLOR": "1"})
    out = run(handler, "env")
    assert out.startswith("exit 0")
    assert "sk-should-not-leak" not in out and "ghp_should_not_leak" not in out and "MY_SECRET" not in out
    assert "COLOR=1" in out
    assert f"HOME={tmp_path / 'sess-1' / 'home'}" in out


def test_exit_status_and_output(tmp_path: Path) -> None:
    _, handler = make_shell_tool(tmp_path)
    assert run(handler, "echo hi; exit 3") == "exit 3\nhi\n"


def test_hardline_is_rechecked_in_the_handler(tmp_path: Path) -> None:
    _, handler = make_shell_tool(tmp_path)
    with pytest.raises(ShellToolError, match="hardline.rm_root"):
        run(handler, "rm -rf /")


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    _, handler = make_shell_tool(tmp_path, timeout=0.5)
    out = run(handler, "sleep 30 & sleep 30")
    assert out.startswith("timed out")


def test_output_cap(tmp_path: Path) -> None:
    _, handler = make_shell_tool(tmp_path, output_cap=100)
    out = run(handler, "head -c 5000 /dev/zero | tr '\\0' a")
    assert "[output truncated at 100 characters]" in out and len(out) < 200


def test_cwd_outside_allowed_reach_is_refused(tmp_path: Path) -> None:
    inside = tmp_path / "proj"
    inside.mkdir()
    _, handler = make_shell_tool(tmp_path / "sessions", allowed_cwd=(str(inside),))
    assert run(handler, "pwd", cwd=str(inside)).endswith(f"{inside}\n")
    with pytest.raises(ShellToolError, match="outside"):
        run(handler, "pwd", cwd="/")


def test_empty_command_is_refused(tmp_path: Path) -> None:
    _, handler = make_shell_tool(tmp_path)
    with pytest.raises(ShellToolError):
        run(handler, "   ")
