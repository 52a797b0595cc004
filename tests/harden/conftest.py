"""Fixtures for ``ethos harden check``: homes in tmp dirs, and a machine that is not a container
(the suite itself may run inside one; the container checks get their own facts in their tests)."""

from __future__ import annotations

import importlib
import sys


def _stdlib_secrets() -> None:
    """Under pytest's prepend import mode a ``tests/secrets`` package can shadow the standard
    library's ``secrets`` (which the engine and the vault use); load the real one first."""
    if hasattr(sys.modules.get("secrets"), "token_bytes"):
        return
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if not p.rstrip("/").endswith("/tests")]
    sys.modules.pop("secrets", None)
    try:
        importlib.import_module("secrets")
    finally:
        sys.path[:] = saved


_stdlib_secrets()

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from ethos_core.harden import system as system_mod  # noqa: E402
from tests.harden.helpers import HOST, init_home  # noqa: E402


@pytest.fixture(autouse=True)
def not_a_container(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(system_mod, "probe_system", lambda: HOST)
    # The user's home decides where ~ points (and root's home is itself on the floor).
    user = tmp_path / "user"
    user.mkdir()
    monkeypatch.setenv("HOME", str(user))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return init_home(tmp_path / "home")
