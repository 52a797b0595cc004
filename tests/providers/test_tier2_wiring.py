"""Configured tier-2 services are built from providers.<name>: the command reviewer and the
injection classifier, each a separate LLM call through its own provider."""

from __future__ import annotations

import json
from pathlib import Path

from ethos_core.engine import Engine
from tests.conftest import make_home


def test_reviewer_and_injection_tier2_built_from_config(tmp_path: Path) -> None:
    script = tmp_path / "judge.json"
    script.write_text(json.dumps([{"text": "APPROVE"}]), encoding="utf-8")
    home = make_home(tmp_path / "h", config=(
        f"providers:\n  judge:\n    type: scripted\n    script: {script}\n"
        "approvals:\n  reviewer: judge\ninjection:\n  tier2Provider: judge\n  tier2TimeoutSeconds: 2.0\n"))
    with Engine.from_home(home, autoload=False) as engine:
        reviewer = engine.runtime.services["reviewer"]
        tier2 = engine.runtime.services["injection_tier2"]
        assert reviewer.provider.provider.name == "judge"
        assert tier2.timeout == 2.0 and tier2.provider.provider.name == "judge"
        assert reviewer.provider.complete([{"role": "user", "content": "x"}], 1.0) == "APPROVE"
