"""docs/watcher.md stays true: its YAML loads as written and every rule id is documented."""

from __future__ import annotations

import re
from pathlib import Path

from ethos_core.config.load import load_model
from ethos_core.config.model import GlobalConfig, PersonalityConfig
from ethos_core.watcher import DEFAULTS, RULES
from ethos_core.watcher.rules import global_thresholds

DOC = Path(__file__).resolve().parents[2] / "docs" / "watcher.md"


def test_yaml_blocks_load_as_written() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 2
    for block in blocks:
        model = GlobalConfig if block.startswith("watcher:") else PersonalityConfig
        loaded = load_model(block, str(DOC), model)
        assert loaded.issues == () and loaded.value is not None


def test_documented_defaults_are_the_code_defaults() -> None:
    block = re.findall(r"```yaml\n(watcher:.*?)```", DOC.read_text(), re.S)[0]
    loaded = load_model(block, str(DOC), GlobalConfig)
    assert loaded.value is not None
    assert global_thresholds(loaded.value.watcher) == DEFAULTS


def test_every_rule_id_is_documented() -> None:
    text = DOC.read_text()
    for rule in RULES:
        assert f"`{rule}`" in text, rule
