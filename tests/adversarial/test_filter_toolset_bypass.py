"""Stage ⑥ bypass classes: only names listed in toolset.yaml ever run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ethos_core import Capability, ToolCall, ToolSpec, hookimpl
from ethos_core.engine import Engine
from ethos_core.errors import ConfigError
from ethos_core.verdicts import Verdict
from tests.conftest import make_home


class Tools:
    @hookimpl
    def ethos_register_tools(self, registry: Any) -> None:
        registry.add(ToolSpec(name="reader", description="r", capabilities={Capability.READ_FS}), lambda c, s: "r")
        registry.add(ToolSpec(name="poster", description="p", capabilities={Capability.EXFIL}), lambda c, s: "p")


def engine_with(tmp_path: Path, toolset: str | None) -> Engine:
    home = make_home(tmp_path / "h", toolset=toolset)
    if toolset is None:
        (home / "personalities/default/toolset.yaml").unlink()
    return Engine.from_home(home, plugins=[Tools()], autoload=False)


@pytest.mark.parametrize("name", ["Poster", "POSTER", "poster ", " poster", "ｐｏｓｔｅｒ", "pos\u200bter", "poster\x00",
                                  "reader/../poster", "poster;reader"])
def test_name_variants_of_unlisted_tool_are_denied(tmp_path: Path, name: str) -> None:
    with engine_with(tmp_path, "- reader\n") as engine:
        d = engine.session("default").before_tool(ToolCall(name, {}))
    assert d.verdict is Verdict.DENY and d.rule in ("toolset.unknown_tool", "toolset.not_allowed")


def test_unlisted_registered_tool_denied_and_audited(tmp_path: Path) -> None:
    events: list[Any] = []
    with engine_with(tmp_path, "- reader\n") as engine:
        engine.runtime.services["audit"] = type("Mem", (), {"write": lambda self, e: events.append(e)})()
        d = engine.session("default").before_tool(ToolCall("poster", {"body": "x"}))
    assert d.verdict is Verdict.DENY and d.rule == "toolset.not_allowed"
    assert [e.rule for e in events if e.category == "audit.block"] == ["toolset.not_allowed"]


@pytest.mark.parametrize("toolset", [None, "", "# nothing here\n", "[]\n", "tools: []\n", "tools:\n"])
def test_missing_empty_or_comment_only_toolset_means_no_tools(tmp_path: Path, toolset: str | None) -> None:
    with engine_with(tmp_path, toolset) as engine:
        s = engine.session("default")
        assert s.tool_specs() == []
        assert s.before_tool(ToolCall("reader", {})).verdict is Verdict.DENY


@pytest.mark.parametrize("toolset", ['- "*"\n', "- reader\n- poster2\n", "- 'reader '\n- re\u200bader\n"])
def test_wildcards_and_lookalike_names_in_toolset_are_config_errors(tmp_path: Path, toolset: str) -> None:
    home = make_home(tmp_path / "h", toolset=toolset)
    with pytest.raises(ConfigError):
        Engine.from_home(home, plugins=[Tools()], autoload=False)


def test_toolset_of_wrong_shape_is_a_config_error(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h", toolset="reader: true\n")
    with pytest.raises(ConfigError, match="list of tool names"):
        Engine.from_home(home, plugins=[Tools()], autoload=False)


def test_toolset_is_per_personality(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h", toolset="- reader\n")
    other = home / "personalities/poster"
    other.mkdir()
    (other / "toolset.yaml").write_text("- poster\n", encoding="utf-8")
    with Engine.from_home(home, plugins=[Tools()], autoload=False) as engine:
        a, b = engine.session("default"), engine.session("poster")
        assert [t.spec.name for t in a.tool_specs()] == ["reader"]
        assert [t.spec.name for t in b.tool_specs()] == ["poster"]
        assert a.before_tool(ToolCall("poster", {})).rule == "toolset.not_allowed"
