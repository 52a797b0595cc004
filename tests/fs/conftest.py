"""Fixtures for the filesystem-boundary tests (the world itself lives in fsworld.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fsworld import World, build_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)
