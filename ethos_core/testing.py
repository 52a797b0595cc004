"""Helpers for skill and plugin authors: run your tools under the real engine, in a temp home.

Opt-in (nothing imports this module but your tests). A :class:`SkillHarness` creates an ethos
home like ``ethos init`` does, registers your skill object through *the same* manifest-bound
path the loader uses for an installed, locked skill (:func:`ethos_core.skills.gate.wrap_skill`),
and gives you a Session — so the toolset filter, hardline, risk classifier, filesystem and
network boundaries, redaction and audit all apply to your tools exactly as in production::

    from ethos_core.testing import SkillHarness, scan_project

    def test_text_stats(tmp_path):
        with SkillHarness(tmp_path, ExampleSkill(), project=PROJECT_DIR, toolset=["text_stats"]) as h:
            out = h.call("text_stats", text="a b c")
            assert out.result.ok and "words=3" in out.text

    def test_scan_is_clean():
        assert scan_project(PROJECT_DIR).verdict == "clean"

Policy-pack authors: ``SkillHarness(..., policy_plugins=[MyPack()])`` registers stage plugins
directly (no manifest involved) next to the skill, or with ``skill=None`` alone.

Not covered: the lockfile and hash check (your skill is not installed here; the end-to-end
path is ``ethos skill install`` on a built wheel).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ethos_core.skills.findings import ScanReport
from ethos_core.skills.lock import LockRecord
from ethos_core.skills.manifest import SkillManifest, parse_manifest, skill_table_from_pyproject
from ethos_core.types import ToolCall


def load_project_manifest(project: str | Path) -> SkillManifest:
    """The ``[tool.ethos.skill]`` manifest of a project directory (or a pyproject.toml path)."""
    path = Path(project)
    path = path / "pyproject.toml" if path.is_dir() else path
    table = skill_table_from_pyproject(path.read_text(encoding="utf-8"))
    if table is None:
        raise ValueError(f"{path} has no [tool.ethos.skill] table")
    return parse_manifest(table)


def scan_project(path: str | Path) -> ScanReport:
    """Scan a project directory, wheel or sdist the way ``ethos skill scan`` does."""
    from ethos_core.skills.scanner import scan

    return scan(path, check_typosquat=False)


def make_home(root: Path, *, personality: str = "default", personality_config: str | None = None,
              toolset: Iterable[str] = (), config: str | None = None) -> Path:
    """A fresh home made by ``ethos init``, with optional personality config and toolset."""
    from click.testing import CliRunner

    from ethos_core.cli.main import cli

    result = CliRunner().invoke(cli, ["--home", str(root), "init"])
    if result.exit_code != 0:
        raise RuntimeError(f"ethos init failed: {result.output}")
    pdir = root / "personalities" / personality
    pdir.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (root / "config.yaml").write_text(config, encoding="utf-8")
    if personality_config is not None:
        (pdir / "config.yaml").write_text(personality_config, encoding="utf-8")
    names = list(toolset)
    if names:
        (pdir / "toolset.yaml").write_text("".join(f"- {n}\n" for n in names), encoding="utf-8")
    return root


class SkillHarness:
    """An Engine over a temp home with one skill (and optional policy packs) registered."""

    def __init__(self, tmp_path: str | Path, skill: object | None, *, project: str | Path | None = None,
                 manifest: SkillManifest | None = None, distribution: str = "test-skill",
                 toolset: Iterable[str] = (), personality_config: str | None = None, config: str | None = None,
                 policy_plugins: Iterable[object] = (), approver: Any = None, secrets: Mapping[str, str] | None = None):
        from ethos_core.engine import Engine
        from ethos_core.manager import EthosPluginManager
        from ethos_core.runtime import HomePaths, Runtime
        from ethos_core.skills.gate import wrap_skill

        self.home = make_home(Path(tmp_path) / "ethos-home", toolset=toolset, personality_config=personality_config,
                              config=config)
        plugins = list(policy_plugins)
        self.runtime_holder: dict[str, Any] = {}
        if skill is not None:
            if manifest is None:
                if project is None:
                    raise ValueError("give project= (a directory with pyproject.toml) or manifest=")
                manifest = load_project_manifest(project)
            record = LockRecord(distribution=distribution, version="0", tier="untrusted", files={},
                                manifest=manifest.to_json())
            # The engine builds its own Runtime; the wrapper reads it lazily through this proxy.
            self._early = Runtime(home=HomePaths(self.home))
            proxy = _RuntimeProxy(self.runtime_holder, self._early)
            plugins.append(wrap_skill(EthosPluginManager(), skill, entry_point=distribution, distribution=distribution,
                                      record=record, runtime=proxy))
        self.engine = Engine.from_home(self.home, plugins=plugins, autoload=False, approver=approver)
        self.runtime_holder["runtime"] = self.engine.runtime
        # Refusals recorded while the engine was still being built: hand them to the engine.
        early = getattr(self, "_early", None)
        if early is not None:
            self.engine.runtime.services.setdefault("skipped_plugins", []).extend(early.services.get("skipped_plugins", []))
            for event in early.services.get("audit_memory", []):
                self.engine.emit(event)
        if secrets:
            self.engine.runtime.secret_values.update(secrets)
        self.session = self.engine.session()

    def call(self, tool: str, **args: Any) -> Any:
        """Run one tool call through every stage; returns the engine's ProcessedResult."""
        return self.session.run_tool(ToolCall(name=tool, args=args, call_id=f"test-{tool}"))

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return list(self.engine.runtime.services.get("skipped_plugins") or [])

    def events(self, category: str | None = None) -> list[Any]:
        """Audit events recorded so far (from observability.db when attached, else memory)."""
        store = self.engine.runtime.service("audit")
        rows: list[Any] = []
        if store is not None and hasattr(store, "path"):
            import sqlite3

            if hasattr(store, "flush"):
                store.flush()

            with sqlite3.connect(store.path) as conn:
                rows = [dict(zip(("category", "code", "rule", "data"), r, strict=True)) for r in
                        conn.execute("SELECT category, code, rule, data FROM events ORDER BY id")]
        rows += [{"category": e.category, "code": e.code, "rule": e.rule, "data": dict(e.data)}
                 for e in self.engine.runtime.services.get("audit_memory", [])]
        return [r for r in rows if category is None or r["category"] == category]

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> SkillHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RuntimeProxy:
    """Forwards to the engine's Runtime once it exists (the skill is wrapped before the engine)."""

    def __init__(self, holder: dict[str, Any], fallback: Any):
        self._holder = holder
        self._fallback = fallback

    def __getattr__(self, name: str) -> Any:
        return getattr(self._holder.get("runtime", self._fallback), name)


__all__ = ["SkillHarness", "load_project_manifest", "make_home", "scan_project"]
