"""The pipeline's fast paths give the decisions of the general path.

- ``decide`` with the built-in alone on a stage returns what the general reduction returns for
  the same built-in beside an abstaining plugin (same verdict, rule, stage, source), and fails
  closed the same way when the built-in raises, returns None or returns a wrong type;
- ``stage_calls`` (the per-call integrity check) catches every tampering ``verify_stage``
  catches, and after seal the snapshotted functions run even if a HookImpl is edited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ethos_core import hookimpl
from ethos_core.errors import EngineIntegrityError
from ethos_core.manager import build_plugin_manager
from ethos_core.pipeline import Pipeline
from ethos_core.runtime import HomePaths, Runtime
from ethos_core.stages import DECISION_STAGES, Stage
from ethos_core.types import Decision
from tests.contract.helpers import DECISION_INPUTS


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    return Runtime(home=HomePaths(tmp_path / "home"))


def _abstainer(stage: Stage) -> object:
    """A plugin that answers None on ``stage`` (so the general loop runs, with the same winner)."""

    cls = type(f"Abstain_{stage.value}", (), {})
    spec_args = DECISION_INPUTS[stage][0].keys()
    src = f"def {stage.hook_name}(self, {', '.join(spec_args)}):\n    return None\n"
    namespace: dict[str, Any] = {}
    exec(src, namespace)  # noqa: S102 - builds a hook with the spec's argument names
    setattr(cls, stage.hook_name, hookimpl(namespace[stage.hook_name]))
    return cls()


def _key(d: Decision) -> tuple[Any, ...]:
    return (d.verdict, d.stage, d.rule, d.reason, d.source, d.risk, dict(d.evidence))


@pytest.mark.parametrize("stage", sorted(DECISION_STAGES, key=lambda s: s.value))
def test_builtin_alone_decides_like_the_general_reduction(runtime: Runtime, stage: Stage) -> None:
    alone = Pipeline(build_plugin_manager(runtime, autoload=False))
    general = Pipeline(build_plugin_manager(runtime, [_abstainer(stage)], autoload=False))
    assert len(alone.pm.stage_calls(stage)) == 1
    assert len(general.pm.stage_calls(stage)) == 2
    for kwargs in DECISION_INPUTS[stage]:
        assert _key(alone.decide(stage, **kwargs)) == _key(general.decide(stage, **kwargs))


@pytest.mark.parametrize(
    ("behaviour", "rule"),
    [("raise", "builtin.error"), ("none", "builtin.no_decision"), ("wrong_type", "plugin.bad_return")],
)
def test_a_failing_builtin_alone_fails_closed_like_the_general_path(runtime: Runtime, behaviour: str, rule: str) -> None:
    stage = Stage.HARDLINE
    kwargs = DECISION_INPUTS[stage][2]  # read_file: the intact built-in allows it

    def broken(call: Any, ctx: Any) -> Any:
        if behaviour == "raise":
            raise RuntimeError("boom")
        return None if behaviour == "none" else "allow"

    answers = []
    for plugins in ([], [_abstainer(stage)]):
        pm = build_plugin_manager(runtime, plugins, autoload=False, seal=False)
        (impl,) = [i for i in pm.hook.ethos_hardline.get_hookimpls() if i.plugin is pm.builtin(stage)]
        impl.function = broken  # before seal: the snapshot takes the broken built-in
        pm.seal()
        p = Pipeline(pm)
        d = p.decide(stage, **kwargs)
        assert d.denied and d.rule == rule and d.source == stage.builtin_name
        answers.append(_key(d))
    assert answers[0] == answers[1]


def test_stage_calls_catches_what_verify_stage_catches(runtime: Runtime) -> None:
    pm = build_plugin_manager(runtime, autoload=False)
    stage = Stage.FS_BOUNDARY
    pm.stage_calls(stage)
    caller = pm.hook.ethos_fs_boundary
    # the same objects in a new list object: not tampering
    original = caller._hookimpls
    copy = list(original)
    caller._hookimpls.clear()
    caller._hookimpls.extend(copy)
    pm.stage_calls(stage)
    # reordered / duplicated / removed implementations
    caller._hookimpls.append(copy[0])
    for check in (pm.stage_calls, pm.verify_stage):
        with pytest.raises(EngineIntegrityError):
            check(stage)
    caller._hookimpls.pop()
    # the hook caller replaced
    pm.hook.ethos_fs_boundary = object()
    for check in (pm.stage_calls, pm.verify_stage):
        with pytest.raises(EngineIntegrityError):
            check(stage)
    pm.hook.ethos_fs_boundary = caller
    # the built-in's name rebound to another object
    builtin = pm._name2plugin[stage.builtin_name]
    pm._name2plugin[stage.builtin_name] = object()
    for check in (pm.stage_calls, pm.verify_stage):
        with pytest.raises(EngineIntegrityError):
            check(stage)
    pm._name2plugin[stage.builtin_name] = builtin
    pm.stage_calls(stage)


def test_a_hookimpl_function_swapped_after_seal_is_not_followed(runtime: Runtime) -> None:
    pm = build_plugin_manager(runtime, autoload=False)
    p = Pipeline(pm)
    stage = Stage.HARDLINE
    kwargs = DECISION_INPUTS[stage][0]  # rm -rf /: the built-in denies
    assert p.decide(stage, **kwargs).denied
    pm.hook.ethos_hardline._hookimpls[0].function = lambda call, ctx: Decision.allow(stage, "forged", "forged")
    assert p.decide(stage, **kwargs).denied


def test_unsealed_manager_runs_the_live_implementations(runtime: Runtime) -> None:
    pm = build_plugin_manager(runtime, autoload=False, seal=False)
    calls = pm.stage_calls(Stage.APPROVAL)
    assert [c.plugin for c in calls] == [Stage.APPROVAL.builtin_name]
    assert calls[0].builtin


def test_audit_and_watch_call_every_implementation_before_failing(runtime: Runtime) -> None:
    from ethos_core.errors import AuditWriteError
    from ethos_core.types import AgentEvent, AuditEvent
    from tests.contract.helpers import CTX

    seen: list[str] = []

    class Sink:
        @hookimpl
        def ethos_audit(self, event: Any) -> None:
            seen.append("audit")

        @hookimpl
        def ethos_watch(self, event: Any, ctx: Any) -> None:
            seen.append("watch")

    class Broken:
        @hookimpl
        def ethos_watch(self, event: Any, ctx: Any) -> None:
            raise RuntimeError("watch plugin bug")

    pm = build_plugin_manager(runtime, [Broken(), Sink()], autoload=False, seal=False)
    (impl,) = [i for i in pm.hook.ethos_audit.get_hookimpls() if i.plugin is pm.builtin(Stage.AUDIT)]

    def store_down(event: Any) -> None:
        raise OSError("disk full")

    impl.function = store_down
    pm.seal()
    p = Pipeline(pm)
    with pytest.raises(AuditWriteError, match="disk full"):
        p.audit(AuditEvent(category="audit.test", code="t"))
    p.watch(AgentEvent("model_text", turn=1), CTX)  # a failing watch plugin never raises
    assert seen == ["audit", "watch"]
    assert [(stage, err) for stage, _plugin, err in p.plugin_failures] == [("audit", "OSError"), ("watch", "RuntimeError")]
