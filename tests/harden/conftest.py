"""Fixtures for ``ethos harden check``: homes in tmp dirs, and a machine that is not a container
(the suite itself may run inside one; the container checks get their own facts in their tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ethos_core.harden import system as system_mod
from tests.harden.helpers import HOST, init_home


@pytest.fixture(autouse=True)
def not_a_container(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system_mod, "probe_system", lambda: HOST)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return init_home(tmp_path / "home")
