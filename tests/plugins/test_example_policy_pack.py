"""plugins/ethos-example-policy installed into a fresh environment narrows and cannot widen."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "plugins" / "ethos-example-policy"

SCRIPT = textwrap.dedent(r'''
    import json, sys
    from pathlib import Path
    from ethos_core.engine import Engine
    from ethos_core.cli.main import cli
    from click.testing import CliRunner
    home = Path(sys.argv[1])
    assert CliRunner().invoke(cli, ["--home", str(home), "init"]).exit_code == 0
    (home / "personalities/default/config.yaml").write_text(
        "safety:\n  networkReach:\n    - host: pastebin.com\n      ports: [443]\n    - host: api.github.com\n      ports: [443]\n")
    with Engine.from_home(home) as engine:
        plugins = engine.plugin_names()
        paste = engine.check_url("https://pastebin.com/raw/x", resolve={"pastebin.com": ["104.20.67.143"]})
        github = engine.check_url("https://api.github.com/", resolve={"api.github.com": ["140.82.112.5"]})
        rm = engine.check_command("rm -rf /")
        import attrs
        from ethos_core.types import Context
        wide = attrs.evolve(engine.personality("default"), toolset=frozenset({"shell", "read_file"}))
        tools = sorted(engine.pipeline.filter_toolset(frozenset({"shell", "read_file"}), Context(personality=wide)))
    with Engine.from_home(home, autoload=False) as bare:
        bare_github = bare.check_url("https://api.github.com/", resolve={"api.github.com": ["140.82.112.5"]})
        bare_rm = bare.check_command("rm -rf /")
    print(json.dumps({"plugins": plugins, "paste": paste.to_json(), "github": github.to_json(),
                      "bare_github": bare_github.to_json(), "rm": rm.to_json(), "bare_rm": bare_rm.to_json(),
                      "tools": tools}))
''')


@pytest.mark.timeout(300)
def test_example_policy_pack_installed_in_a_fresh_environment(tmp_path: Path) -> None:
    env_dir = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    py = env_dir / "bin" / "python"
    fresh_site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                     capture_output=True, text=True, check=True).stdout.strip())
    # The fresh environment sees ethos-core and its dependencies from this one (no network here).
    parent_paths = [p for p in [*site.getsitepackages(), site.getusersitepackages(), str(REPO)] if Path(p).exists()]
    (fresh_site / "parent_env.pth").write_text("\n".join(parent_paths) + "\n", encoding="utf-8")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", str(PACK)],
        capture_output=True, text=True, timeout=240)
    assert install.returncode == 0, install.stderr
    assert any(p.name.startswith("ethos_example_policy") for p in fresh_site.iterdir())
    env = {k: v for k, v in os.environ.items() if k != "ETHOS_DISABLE_PLUGIN_AUTOLOAD"}
    run = subprocess.run([str(py), "-c", SCRIPT, str(tmp_path / "home")], capture_output=True, text=True,
                         timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert "ethos.plugins:example-policy" in out["plugins"]
    # narrows: the pack denies a host the personality allows, and removes a tool
    assert out["paste"]["verdict"] == "deny" and out["paste"]["rule"] == "example.pastebin"
    assert out["tools"] == ["read_file"]
    # cannot widen: its hardline hook answers ALLOW for everything, yet the verdicts equal the engine's alone
    assert out["github"] == out["bare_github"]
    assert out["rm"]["verdict"] == out["bare_rm"]["verdict"] != "allow"
