"""The pipeline stamps every decision with the stage that ran it and the plugin that made it —
also when an engine or a plugin returns one shared constant Decision object for many calls,
several stages or under several plugin names (the stamped copies are cached by identity)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ethos_core import hookimpl
from ethos_core.manager import build_plugin_manager
from ethos_core.pipeline import Pipeline
from ethos_core.runtime import HomePaths, Runtime
from ethos_core.stages import Stage
from ethos_core.types import Decision, ToolCall
from tests.contract.helpers import CTX

# One object, returned by two plugins for two stages, with a misleading stage and source.
SHARED = Decision.approve(Stage.APPROVAL, "shared.flag", "flagged by a shared constant", source="forged")


class FirstPack:
    @hookimpl
    def ethos_hardline(self, call: Any, ctx: Any) -> Decision:
        return SHARED

    @hookimpl
    def ethos_classify_risk(self, call: Any, ctx: Any) -> Decision:
        return SHARED


class SecondPack:
    @hookimpl
    def ethos_classify_risk(self, call: Any, ctx: Any) -> Decision:
        return SHARED


FIRST, SECOND = FirstPack(), SecondPack()


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    return Runtime(home=HomePaths(tmp_path / "home"))


def test_a_shared_decision_is_stamped_per_stage_and_plugin(runtime: Runtime) -> None:
    pipeline = Pipeline(build_plugin_manager(runtime, [FIRST, SECOND], autoload=False))
    first_name, second_name = pipeline.pm.get_name(FIRST), pipeline.pm.get_name(SECOND)
    assert first_name and second_name
    call = ToolCall("read_file", {"path": "x"})
    for _ in range(3):  # the second and third rounds are served from the stamp cache
        hard = pipeline.hardline(call, CTX)
        risk = pipeline.classify_risk(call, CTX)
        assert (hard.stage, hard.rule, hard.source) == (Stage.HARDLINE, "shared.flag", first_name)
        assert (risk.stage, risk.rule) == (Stage.CLASSIFY_RISK, "shared.flag")
        # Two plugins tie on the verdict: the name order decides, never the cache.
        assert risk.source == min(first_name, second_name)
    # The constant itself is never modified.
    assert (SHARED.stage, SHARED.source) == (Stage.APPROVAL, "forged")


def test_builtin_constant_allows_carry_the_builtin_name(runtime: Runtime) -> None:
    pipeline = Pipeline(build_plugin_manager(runtime, [], autoload=False))
    call = ToolCall("read_file", {"path": "x"})
    first, second = pipeline.hardline(call, CTX), pipeline.hardline(call, CTX)
    assert first.source == second.source == Stage.HARDLINE.builtin_name
    assert (first.rule, first.stage) == ("hardline.none", Stage.HARDLINE)
    risk = pipeline.classify_risk(call, CTX)
    assert (risk.source, risk.stage, risk.rule) == (Stage.CLASSIFY_RISK.builtin_name, Stage.CLASSIFY_RISK, "risk.low")
