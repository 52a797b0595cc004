"""Shared fixtures. Autoload of installed plugins is off for every test (explicit is better)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["ETHOS_DISABLE_PLUGIN_AUTOLOAD"] = "1"


def make_home(root: Path, *, personality: str = "default", config: str | None = None,
              personality_config: str | None = None, toolset: str | None = None) -> Path:
    """Create an ethos home under ``root`` like ``ethos init`` does, with optional overrides."""
    from click.testing import CliRunner

    from ethos_core.cli.main import cli

    result = CliRunner().invoke(cli, ["--home", str(root), "init"])
    assert result.exit_code == 0, result.output
    pdir = root / "personalities" / personality
    pdir.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (root / "config.yaml").write_text(config, encoding="utf-8")
    if personality_config is not None:
        (pdir / "config.yaml").write_text(personality_config, encoding="utf-8")
    if toolset is not None:
        (pdir / "toolset.yaml").write_text(toolset, encoding="utf-8")
    return root


@pytest.fixture
def ethos_home(tmp_path: Path) -> Path:
    """A fresh home made by ``ethos init``."""
    return make_home(tmp_path / "home")


@pytest.fixture
def engine(ethos_home: Path) -> Iterator[object]:
    from ethos_core.engine import Engine

    eng = Engine.from_home(ethos_home, autoload=False)
    yield eng
    eng.close()
