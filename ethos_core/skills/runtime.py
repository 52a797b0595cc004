"""What a skill tool can reach at run time: its manifest ∩ the personality's policy.

Invariant: a skill tool's handler receives a :class:`SkillContext`, never the Session. Each
method checks the tool's manifest entry first and raises :class:`BoundaryError` for anything
undeclared (rule ids ``skill.capability_*``), then goes through the same engine path a built-in
tool uses, so the personality's policy applies on top:

- ``open(path, mode)`` — the path must lie under a declared ``fs-read``/``fs-write`` root, then
  the Session's scoped filesystem applies ``fs_reach`` and the floor (stage ⑨);
- ``fetch(url, method)`` — needs declared ``network`` hosts; the fetcher is built with
  ``tool_hosts`` = those hosts, so a host must be in both the manifest and ``networkReach``
  (stage ⑩ on every hop); methods that send data need ``exfil``;
- ``secret(ref)`` — the ref must be declared *and* granted by the operator
  (``skills.secretGrants.<distribution>`` in config.yaml);
- ``run(argv)`` — ``argv[0]`` must be a declared executable (a bare name, resolved on the
  minimal PATH); the command is judged by the hardline stage (⑦); the process gets
  :func:`skill_subprocess_env` (PATH, LANG, a per-skill HOME and TMPDIR, and only granted
  secrets as ``ETHOS_SECRET_<REF>``), no shell, a timeout and bounded output.

Not covered: a skill is Python code in this process; one that ignores the context and calls
the OS directly is not stopped here — that is what the install-time scanner (``code.*`` rules)
and hash-pinned loading are for. Children of an allowed executable are not confined.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ethos_core.errors import BoundaryError
from ethos_core.skills.manifest import ToolManifest, normalize_name

MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"
MAX_OUTPUT = 1 << 20
SENDING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def secret_env_name(ref: str) -> str:
    return "ETHOS_SECRET_" + re.sub(r"[^A-Za-z0-9]+", "_", ref).strip("_").upper()


def skill_home(skill: str, ethos_home: Path | None = None) -> Path:
    """The per-skill HOME given to its subprocesses (created on demand, mode 0700)."""
    from ethos_core.runtime import default_home

    root = (ethos_home or default_home()) / "skill-homes" / normalize_name(skill)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    (root / "tmp").mkdir(exist_ok=True, mode=0o700)
    return root


def skill_subprocess_env(skill: str, granted_secrets: Mapping[str, str] | None = None, *,
                         ethos_home: Path | None = None) -> dict[str, str]:
    """The whole environment of a skill's subprocess: nothing inherited but the locale.

    ``granted_secrets`` maps secret refs to values the operator granted this skill; each becomes
    ``ETHOS_SECRET_<REF>``. No other variable of the parent (``*_KEY``, ``*_TOKEN``, proxies,
    ``LD_PRELOAD``, ``PYTHONPATH`` …) reaches the child.
    """
    home = skill_home(skill, ethos_home)
    lang = os.environ.get("LANG", "C.UTF-8")
    env = {"PATH": MINIMAL_PATH, "LANG": lang if re.fullmatch(r"[A-Za-z0-9_.@-]{1,40}", lang) else "C.UTF-8",
           "HOME": str(home), "TMPDIR": str(home / "tmp")}
    for ref, value in (granted_secrets or {}).items():
        env[secret_env_name(ref)] = value
    return env


def run_skill_process(argv: Sequence[str], env: Mapping[str, str], *, cwd: str | Path | None = None,
                      input: str | None = None, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (no shell) with exactly ``env``; output bounded to :data:`MAX_OUTPUT` chars."""
    exe = shutil.which(argv[0], path=env.get("PATH", MINIMAL_PATH))
    if exe is None:
        raise BoundaryError("exec", argv[0], "skill.executable_missing", f"{argv[0]!r} is not on the skill PATH")
    done = subprocess.run([exe, *argv[1:]], env=dict(env), cwd=str(cwd or env.get("HOME") or "/"), input=input,
                          capture_output=True, text=True, timeout=timeout, check=False, shell=False,
                          stdin=None if input is not None else subprocess.DEVNULL)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout[:MAX_OUTPUT], done.stderr[:MAX_OUTPUT])


def _within(path: Path, roots: Sequence[str]) -> bool:
    for root in roots:
        base = Path(os.path.realpath(os.path.expanduser(root)))
        if path == base or path.is_relative_to(base):
            return True
    return False


class SkillContext:
    """The handle a skill tool gets instead of the Session (see the module invariant)."""

    def __init__(self, session: Any, tool: ToolManifest, skill: str, runtime: Any) -> None:
        self._session = session
        self._tool = tool
        self._skill = skill
        self._runtime = runtime

    @property
    def skill(self) -> str:
        return self._skill

    @property
    def tool(self) -> str:
        return self._tool.name

    @property
    def personality(self) -> str:
        return str(self._session.personality.id)

    def _refuse(self, kind: str, target: str, rule: str, reason: str) -> BoundaryError:
        return BoundaryError(kind, target, rule, f"skill {self._skill} tool {self._tool.name}: {reason}")

    def open(self, path: str, mode: str = "r") -> Any:
        caps = self._tool.capabilities
        write = any(c in mode for c in "wax+")
        roots = caps.fs_write if write else (*caps.fs_read, *caps.fs_write)
        op = "write" if write else "read"
        if not roots:
            raise self._refuse(op, path, "skill.capability_fs", f"the manifest declares no fs-{op} root")
        resolved = Path(os.path.realpath(os.path.expanduser(path)))
        if not _within(resolved, roots):
            raise self._refuse(op, path, "skill.capability_fs", f"outside the declared fs-{op} roots {list(roots)}")
        return self._session.open(path, mode)

    def fetch(self, url: str, method: str = "GET", **kwargs: Any) -> Any:
        caps = self._tool.capabilities
        if not caps.network:
            raise self._refuse("fetch", url, "skill.capability_network", "the manifest declares no network hosts")
        if method.upper() in SENDING_METHODS and not caps.exfil:
            raise self._refuse("fetch", url, "skill.capability_exfil", f"{method.upper()} sends data; the manifest does not declare exfil")
        return self._session.fetcher(tool_hosts=caps.network).request(method, url, **kwargs)

    def _granted(self) -> dict[str, str]:
        config = getattr(self._runtime, "config", None)
        grants = getattr(getattr(config, "skills", None), "secret_grants", {}) or {}
        allowed = set(grants.get(self._skill, ())) | set(grants.get(normalize_name(self._skill), ()))
        values = getattr(self._runtime, "secret_values", {}) or {}
        return {ref: values[ref] for ref in self._tool.capabilities.secrets if ref in allowed and ref in values}

    def secret(self, ref: str) -> str:
        if ref not in self._tool.capabilities.secrets:
            raise self._refuse("secret", ref, "skill.capability_secret", "the manifest does not declare this secret")
        granted = self._granted()
        if ref not in granted:
            raise self._refuse("secret", ref, "skill.secret_not_granted",
                               f"not granted: add it to skills.secretGrants.{self._skill} in config.yaml")
        return granted[ref]

    def run(self, argv: Sequence[str], *, input: str | None = None, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        if not argv:
            raise self._refuse("exec", "", "skill.capability_exec", "empty command")
        exe = str(argv[0])
        if exe not in self._tool.capabilities.executables:
            raise self._refuse("exec", exe, "skill.capability_exec", "not a declared executable")
        judge = getattr(getattr(self._session, "pipeline", None), "hardline", None)
        if judge is not None:
            from ethos_core.types import Capability, ToolCall

            decision = judge(ToolCall(name="shell", args={"command": shlex.join(map(str, argv))},
                                      capabilities={Capability.EXEC}), self._session.ctx)
            if decision.denied:
                raise self._refuse("exec", exe, decision.rule, decision.reason)
        home = getattr(getattr(self._runtime, "home", None), "root", None)
        env = skill_subprocess_env(self._skill, self._granted(), ethos_home=home)
        return run_skill_process([str(a) for a in argv], env, input=input, timeout=timeout)

    def redact(self, text: str) -> str:
        return str(self._session.redact(text))


# What a skill author imports: ``from ethos_core.skills.runtime import run`` for scripts outside a tool.
run = run_skill_process
