"""The Telegram adapter installs as its own distribution and is found through ``ethos.plugins``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "ethos-telegram"


@pytest.mark.slow
def test_installs_into_fresh_venv_and_registers_entry_point(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    src = tmp_path / "src"
    shutil.copytree(PLUGIN, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    # No pip inside the venv (ensurepip is slow); the running pip installs into it with --python.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, timeout=120)
    py = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-build-isolation", "--no-deps",
         "--no-index", str(src)],
        capture_output=True, text=True, timeout=180,
    )
    if install.returncode != 0 and "setuptools" in install.stderr.lower():
        pytest.skip("setuptools is not available to build the plugin offline")
    assert install.returncode == 0, install.stderr
    probe = (
        "import importlib.metadata as md\n"
        "eps = [ep for ep in md.entry_points(group='ethos.plugins') if ep.name == 'telegram']\n"
        "obj = eps[0].load()()\n"
        "print(eps[0].dist.name, [f.platform for f in obj.ethos_channel_adapters()])\n"
    )
    out = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ethos-telegram ['telegram']"
