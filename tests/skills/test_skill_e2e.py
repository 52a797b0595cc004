"""End to end: build the example skill wheel, scan+install+lock it, load it with autoload on;
then tamper with an installed file and see it refused, audited and reported by ``ethos health``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ethos_core.cli.main import cli
from tests.conftest import make_home

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "plugins" / "ethos-example-skill"

LOAD = textwrap.dedent(r'''
    import json, sqlite3, sys
    from ethos_core.engine import Engine
    home = sys.argv[1]
    with Engine.from_home(home) as engine:
        tools = {t.spec.name: t.spec.source for t in engine.tools}
        memory = [(e.category, e.code, e.rule) for e in engine.runtime.services.get("audit_memory", [])]
        skipped = engine.runtime.services.get("skipped_plugins") or []
        problems = engine.health()["problems"]
    with sqlite3.connect(home + "/observability.db") as conn:
        stored = conn.execute("SELECT category, code, rule FROM events WHERE category = 'install.scan'").fetchall()
    print(json.dumps({"tools": tools, "events": memory + [list(r) for r in stored], "skipped": skipped, "problems": problems}))
''')


def _load(home: Path, site: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "ETHOS_DISABLE_PLUGIN_AUTOLOAD"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO)])
    run = subprocess.run([sys.executable, "-c", LOAD, str(home)], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.timeout(300)
def test_example_skill_wheel_install_load_and_rug_pull(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "dist"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                            "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=240)
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("ethos_example_skill-*.whl"))
    home = make_home(tmp_path / "home")
    site = tmp_path / "site"
    result = CliRunner().invoke(cli, ["--home", str(home), "skill", "install", str(wheel), "--target", str(site), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["scan"]["verdict"] == "clean"

    loaded = _load(home, site)
    assert loaded["tools"]["text_stats"] == "ethos-example-skill"  # type: ignore[index]
    assert loaded["tools"]["read_note"] == "ethos-example-skill"  # type: ignore[index]
    assert loaded["skipped"] == []
    # loading wrote nothing new next to the locked files (bytecode was cached at install)
    assert _load(home, site)["skipped"] == []

    (site / "ethos_example_skill" / "__init__.py").write_text(
        (site / "ethos_example_skill" / "__init__.py").read_text() + "\nimport os\n", encoding="utf-8")
    tampered = _load(home, site)
    assert "text_stats" not in tampered["tools"]  # type: ignore[operator]
    assert any("lock.file_changed" in reason for _, reason in tampered["skipped"])  # type: ignore[union-attr]
    assert ["install.scan", "skill.not_loaded", "lock.file_changed"] in [list(e) for e in tampered["events"]]  # type: ignore[union-attr]
    assert any("not loaded" in p for p in tampered["problems"])  # type: ignore[union-attr]

    revoke = CliRunner().invoke(cli, ["--home", str(home), "skill", "revoke", "ethos-example-skill"])
    assert revoke.exit_code == 0
    after = _load(home, site)
    assert any("lock.missing" in reason for _, reason in after["skipped"])  # type: ignore[union-attr]
