"""The built-in ``shell`` tool: run one bash command with a minimal environment.

Invariants:
- The command runs under ``bash --noprofile --norc -c`` with an environment built from an
  allowlist (``PATH``, ``LANG``, ``LC_ALL``, ``TZ``, ``TERM``) plus ``HOME`` set to a
  per-session directory; nothing named like a credential (``*_KEY``, ``*_TOKEN``,
  ``*_SECRET``, ``*PASSWORD*``…) is ever passed, even when listed in ``extra_env``.
- The handler re-runs the hardline check itself (defense in depth: a miswired engine still
  cannot run a hardline command) and refuses a cwd outside ``allowed_cwd`` when one is given.
- A timeout kills the whole process group; output is capped (the cap is stated in the result).

What it does not cover: confinement. The command runs with the agent's OS user's rights;
the stages before it (hardline, risk, approval) decide whether it runs at all, and the cwd
check is the engine's job (it must be inside the personality's write reach).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ethos_core.shell import judge_hardline
from ethos_core.types import ArgRole, Capability, Context, Personality, ToolCall, ToolSpec

ENV_ALLOWLIST = ("PATH", "LANG", "LC_ALL", "TZ", "TERM")
_SECRET_ENV = re.compile(r"(?i)(?:_KEY|_TOKEN|_SECRET|PASSWORD|PASSWD|CREDENTIAL|_PAT$|SESSION|COOKIE|^AWS_|^GH_)")
DEFAULT_TIMEOUT = 120.0
DEFAULT_OUTPUT_CAP = 64 * 1024

SPEC = ToolSpec(
    name="shell",
    description="Run one bash command and return its exit status and output.",
    parameters={
        "type": "object",
        "properties": {"command": {"type": "string", "description": "The bash command line to run."}},
        "required": ["command"],
        "additionalProperties": False,
    },
    capabilities={Capability.EXEC},
    arg_roles=(ArgRole("command", "command"),),
)


class ShellToolError(Exception):
    """The shell tool refused to run the command."""


def minimal_env(home: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    for key, value in (extra or {}).items():
        if not _SECRET_ENV.search(key):
            env[key] = value
    env["HOME"] = home
    return env


def _within(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def make_shell_tool(
    sessions_dir: str | Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    output_cap: int = DEFAULT_OUTPUT_CAP,
    allowed_cwd: tuple[str, ...] = (),
    extra_env: Mapping[str, str] | None = None,
    ethos_home: str | None = None,
) -> tuple[ToolSpec, Callable[[ToolCall, Any], str]]:
    """``(spec, handler)`` for the ``shell`` tool; ``handler(call, session) -> str``."""
    base = Path(sessions_dir)
    roots = tuple(Path(p).expanduser().resolve() for p in allowed_cwd)

    def handler(call: ToolCall, session: Any = None) -> str:
        command = call.args.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ShellToolError("the shell tool needs a non-empty string 'command'")
        ctx = Context(Personality(id="shell-tool", directory=str(base)), session=str(getattr(session, "id", "")))
        verdict = judge_hardline(call, ctx, ethos_home=ethos_home)
        if verdict.denied:
            raise ShellToolError(f"refused by {verdict.rule}: {verdict.reason}")
        session_id = re.sub(r"[^A-Za-z0-9_.-]", "_", str(getattr(session, "id", None) or "default"))[:64]
        home = base / session_id / "home"
        home.mkdir(parents=True, exist_ok=True)
        cwd = Path(call.cwd).expanduser().resolve() if call.cwd else home
        if roots and not _within(cwd, roots):
            raise ShellToolError(f"working directory {cwd} is outside the allowed reach")
        proc = subprocess.Popen(
            ["/bin/bash", "--noprofile", "--norc", "-c", command],
            cwd=cwd,
            env=minimal_env(str(home), extra_env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
            status = f"exit {proc.returncode}"
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, _ = proc.communicate()
            status = f"timed out after {timeout:g}s (killed)"
        text = out.decode("utf-8", errors="replace")
        if len(text) > output_cap:
            text = text[:output_cap] + f"\n[output truncated at {output_cap} characters]"
        return f"{status}\n{text}"

    return SPEC, handler
