from __future__ import annotations

from pathlib import Path

import pytest

from ethos_core.runtime import HomePaths, Runtime


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    return Runtime(home=HomePaths(tmp_path))
