"""Skill registration and run-time capabilities: manifest ∩ personality policy, minimal subprocess env."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ethos_core import hookimpl
from ethos_core.errors import BoundaryError, ToolRegistrationError
from ethos_core.manager import EthosPluginManager
from ethos_core.skills.gate import wrap_skill
from ethos_core.skills.lock import LockRecord
from ethos_core.skills.manifest import ManifestError, parse_manifest, skill_table_from_pyproject
from ethos_core.skills.runtime import SkillContext, run_skill_process, skill_subprocess_env
from ethos_core.testing import SkillHarness
from ethos_core.types import ToolSpec

MANIFEST = """
[tool.ethos.skill]
description = "Runtime test skill."

[[tool.ethos.skill.tools]]
name = "net_tool"
description = "Fetch a page from the API."
[tool.ethos.skill.tools.capabilities]
network = ["api.example.com"]
executables = ["env"]
secrets = ["svc/token", "svc/other"]
"""


def _manifest() -> Any:
    return parse_manifest(skill_table_from_pyproject(MANIFEST))


class _FakeSession:
    def __init__(self) -> None:
        self.hosts: Any = None

    def fetcher(self, tool_hosts: Any = None) -> Any:
        self.hosts = tuple(tool_hosts)
        session = self

        class F:
            def request(self, method: str, url: str, **kw: Any) -> str:
                return f"{method} {url} via {session.hosts}"
        return F()


class _Runtime:
    def __init__(self, home: Path, grants: dict[str, tuple[str, ...]], values: dict[str, str]) -> None:
        from ethos_core.config.model import GlobalConfig, SkillsConfig
        from ethos_core.runtime import HomePaths

        self.home = HomePaths(home)
        self.config = GlobalConfig(skills=SkillsConfig(secret_grants=grants))
        self.secret_values = values


def test_fetch_uses_declared_hosts_and_sending_needs_exfil(tmp_path: Path) -> None:
    session = _FakeSession()
    ctx = SkillContext(session, _manifest().tools[0], "rt-skill", _Runtime(tmp_path, {}, {}))
    assert "api.example.com" in ctx.fetch("https://api.example.com/x")
    assert session.hosts == ("api.example.com",)
    with pytest.raises(BoundaryError) as err:
        ctx.fetch("https://api.example.com/x", method="POST")
    assert err.value.rule == "skill.capability_exfil"


def test_secret_needs_declaration_and_grant(tmp_path: Path) -> None:
    rt = _Runtime(tmp_path, {"rt-skill": ("svc/token",)}, {"svc/token": "s3cr3t", "svc/other": "nope", "x/y": "z"})
    ctx = SkillContext(_FakeSession(), _manifest().tools[0], "rt-skill", rt)
    assert ctx.secret("svc/token") == "s3cr3t"
    with pytest.raises(BoundaryError, match="skill.secret_not_granted"):
        ctx.secret("svc/other")
    with pytest.raises(BoundaryError, match="skill.capability_secret"):
        ctx.secret("x/y")


def test_subprocess_gets_a_minimal_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    monkeypatch.setenv("GH_TOKEN", "ghp-should-not-leak")
    monkeypatch.setenv("LD_PRELOAD", "/tmp/evil.so")
    rt = _Runtime(tmp_path, {"rt-skill": ("svc/token",)}, {"svc/token": "granted-value"})
    ctx = SkillContext(_FakeSession(), _manifest().tools[0], "rt-skill", rt)
    done = ctx.run(["env"])
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert set(env) <= {"PATH", "LANG", "HOME", "TMPDIR", "ETHOS_SECRET_SVC_TOKEN", "PWD", "SHLVL", "_"}
    assert env["ETHOS_SECRET_SVC_TOKEN"] == "granted-value"
    assert env["HOME"].endswith("skill-homes/rt-skill") and "sk-should-not-leak" not in done.stdout
    with pytest.raises(BoundaryError, match="skill.capability_exec"):
        ctx.run(["sh", "-c", "id"])
    with pytest.raises(BoundaryError, match="skill.capability_exec"):
        ctx.run(["/usr/bin/env"])


def test_skill_subprocess_env_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    env = skill_subprocess_env("My_Skill", {"a/b": "v"}, ethos_home=tmp_path)
    assert set(env) == {"PATH", "LANG", "HOME", "TMPDIR", "ETHOS_SECRET_A_B"}
    assert Path(env["HOME"]) == tmp_path / "skill-homes" / "my-skill" and oct(Path(env["HOME"]).stat().st_mode)[-3:] == "700"
    out = run_skill_process(["env"], env)
    assert "AWS_SECRET_ACCESS_KEY" not in out.stdout


def test_skill_with_a_stage_hook_is_refused() -> None:
    class Sneaky:
        @hookimpl
        def ethos_register_tools(self, registry: Any) -> None:
            pass

        @hookimpl
        def ethos_network_reach(self, access: Any, ctx: Any) -> None:
            return None

    record = LockRecord(distribution="s", version="1", tier="untrusted", files={}, manifest=_manifest().to_json())
    with pytest.raises(ToolRegistrationError, match="code.stage_hook"):
        wrap_skill(EthosPluginManager(), Sneaky(), entry_point="s", distribution="s", record=record, runtime=None)


def test_skill_that_raises_or_collides_is_skipped_not_fatal(tmp_path: Path) -> None:
    class Broken:
        @hookimpl
        def ethos_register_tools(self, registry: Any) -> None:
            registry.add(ToolSpec(name="net_tool", description=""), lambda c, s: "")
            raise RuntimeError("boom")

    with SkillHarness(tmp_path / "a", Broken(), manifest=_manifest(), distribution="broken-skill") as h:
        assert "net_tool" not in h.engine.tools.names()  # all-or-nothing
        assert h.skipped and "RuntimeError" in h.skipped[0][1]
        assert any(e["code"] == "skill.not_loaded" for e in h.events("install.scan"))

    collide = parse_manifest(skill_table_from_pyproject(MANIFEST.replace('"net_tool"', '"read_file"')))

    class Collides:
        @hookimpl
        def ethos_register_tools(self, registry: Any) -> None:
            registry.add(ToolSpec(name="read_file", description=""), lambda c, s: "")

    with SkillHarness(tmp_path / "b", Collides(), manifest=collide, distribution="collide-skill") as h:
        assert h.engine.tools.get("read_file").spec.source == "builtin"
        assert h.skipped and "already registered" in h.skipped[0][1]


def test_registered_tool_takes_manifest_capabilities_and_source(tmp_path: Path) -> None:
    class Good:
        @hookimpl
        def ethos_register_tools(self, registry: Any) -> None:
            registry.add(ToolSpec(name="net_tool", description="Fetch a page from the API."), lambda c, s: "ok")

    with SkillHarness(tmp_path, Good(), manifest=_manifest(), distribution="good-skill", toolset=["net_tool"]) as h:
        spec = h.engine.tools.get("net_tool").spec
        assert spec.source == "good-skill" and spec.hosts == ("api.example.com",)
        assert {"network", "exec", "secrets"} <= spec.capabilities
        out = h.call("net_tool")  # exec capability: the risk stage asks a human; none here, so denied
        assert not out.result.ok and "approval" in (out.result.error or "")


@pytest.mark.parametrize("bad", [
    'description = "x"\n',  # no tools
    'description = "x"\n[[tools]]\nname = "t"\ndescription = "d"\ncapabilities = {shell = true}\n',
    'description = "x"\n[[tools]]\nname = "t"\ndescription = "d"\ncapabilities = {network = ["http://x"]}\n',
    'description = "x"\n[[tools]]\nname = "t"\ndescription = "d"\ncapabilities = {exfil = "yes"}\n',
    'description = "x"\n[[tools]]\nname = "bad name"\ndescription = "d"\n',
])
def test_manifest_validation(bad: str) -> None:
    import tomllib

    with pytest.raises(ManifestError):
        parse_manifest(tomllib.loads(bad))


def test_environment_is_untouched() -> None:
    assert "ETHOS_DISABLE_PLUGIN_AUTOLOAD" in os.environ
