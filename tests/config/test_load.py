"""Configuration errors name file, line, column and key path; all are reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ethos_core.config.home import effective_personality, load_home
from ethos_core.config.load import load_model, load_toolset
from ethos_core.config.model import GlobalConfig, PersonalityConfig, WatcherConfig
from ethos_core.engine import Engine
from ethos_core.errors import ConfigError
from ethos_core.types import ApprovalMode
from tests.conftest import make_home


def issues(text: str, model: type = PersonalityConfig) -> list[str]:
    return [i.render() for i in load_model(text, "config.yaml", model).issues]


def test_unknown_key_on_line_n_names_line_and_key_path() -> None:
    text = "safety:\n  approvalMode: manual\n  colour: blue\n"
    assert issues(text) == ["config.yaml:3:3: safety.colour: unknown key 'colour'"]


def test_all_errors_reported_at_once_in_line_order() -> None:
    text = (
        "fs_reach:\n  read: [~/a]\n  exec: [~/b]\n"
        "safety:\n  approvalMode: sometimes\n  networkReach:\n    - host: api.github.com\n      ports: ['443']\n"
        "  watcher:\n    maxToolCallsPerMinute: 1.5\n"
    )
    found = issues(text)
    assert len(found) == 4, found
    assert found[0].startswith("config.yaml:3:3: fs_reach.exec: unknown key")
    assert found[1].startswith("config.yaml:5:17: safety.approvalMode: 'sometimes' is not one of")
    assert found[2].startswith("config.yaml:8:15: safety.networkReach[0].ports[0]: wrong type")
    assert found[3].startswith("config.yaml:10:28: safety.watcher.maxToolCallsPerMinute: wrong type")


@pytest.mark.parametrize("value", ['"yes"', "1", "null"])
def test_strict_types_no_coercion(value: str) -> None:
    text = f"channel_filter:\n  telegram:\n    pairingEnabled: {value}\n"
    found = issues(text, GlobalConfig)
    assert found and "channel_filter.telegram.pairingEnabled" in found[0]


def test_literal_credentials_are_errors_pointing_to_secret_refs() -> None:
    shapes = [
        "sk-ant-api03-" + "a" * 40,
        "sk-proj-" + "b" * 40,
        "xoxb-1234567890-abcdefghijkl",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_" + "c" * 36,
    ]
    for shape in shapes:
        text = f"bots:\n  - platform: slack\n    personality: default\n    token: {shape}\n"
        found = issues(text, GlobalConfig)
        assert found and found[0].startswith("config.yaml:4:12: bots[0].token: looks like a literal"), (shape, found)
        assert "${secrets:<ref>}" in found[0]
        assert shape not in found[0]


def test_secret_refs_are_collected_with_positions() -> None:
    loaded = load_model("bots:\n  - platform: telegram\n    personality: default\n    token: ${secrets:tg_token}\n",
                        "config.yaml", GlobalConfig)
    assert not loaded.issues
    assert loaded.secret_refs == (("tg_token", 4, "bots[0].token"),)


def test_yaml_syntax_and_duplicate_keys() -> None:
    assert issues("safety:\n  approvalMode: [\n")[0].startswith("config.yaml:")
    dup = issues("safety:\n  approvalMode: manual\n  approvalMode: off\n")
    assert dup and "duplicate key" in dup[0] and dup[0].startswith("config.yaml:3")


def test_non_mapping_file() -> None:
    assert "must hold a mapping" in issues("- a\n- b\n")[0]


@pytest.mark.parametrize("text", ["", "# only comments\n", "[]\n", "tools: []\n"])
def test_empty_toolset_means_no_tools(tmp_path: Path, text: str) -> None:
    path = tmp_path / "toolset.yaml"
    path.write_text(text, encoding="utf-8")
    names, declared, problems = load_toolset(path)
    assert names == frozenset() and declared and not problems


def test_missing_toolset_means_no_tools(tmp_path: Path) -> None:
    assert load_toolset(tmp_path / "toolset.yaml") == (frozenset(), False, [])


def test_toolset_entries_must_be_names(tmp_path: Path) -> None:
    path = tmp_path / "toolset.yaml"
    path.write_text("- read_file\n- {evil: true}\n", encoding="utf-8")
    names, _, problems = load_toolset(path)
    assert names == {"read_file"} and problems and problems[0].line == 2


def test_watcher_overrides_only_tighten(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h", config="watcher:\n  maxToolCallsPerMinute: 30\n  maxConsecutiveErrors: 5\n",
                     personality_config="safety:\n  watcher:\n    maxToolCallsPerMinute: 100\n    maxConsecutiveErrors: 2\n"
                                        "  downgrade:\n    turns: 0\n")
    loaded = load_home(home)
    assert not loaded.errors
    p = effective_personality(loaded.personalities["default"], loaded.config)
    assert p.safety.watcher.max_tool_calls_per_minute == 30
    assert p.safety.watcher.max_consecutive_errors == 2
    assert p.safety.downgrade_turns == 2


def test_engine_refuses_a_broken_home_with_every_error(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h", config="bogus: 1\n", personality_config="safety:\n  approvalMode: never\n")
    with pytest.raises(ConfigError) as info:
        Engine.from_home(home, autoload=False)
    text = str(info.value)
    assert "config.yaml:1:1: bogus: unknown key 'bogus'" in text
    assert "safety.approvalMode" in text and len(info.value.issues) == 2


def test_defaults_are_locked_down(engine: Engine) -> None:
    p = engine.personality("default")
    assert p.toolset == frozenset() and not p.fs_reach.declared and not p.safety.network_declared
    assert p.safety.approval_mode is ApprovalMode.MANUAL
    assert WatcherConfig().max_tool_calls_per_minute is None
