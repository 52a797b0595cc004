"""Stages ⑤ and ⑪ through the real plugin manager and pipeline: the built-ins feed and ask the
watcher attached at ``runtime.services["watcher"]``; ``ethos_watcher_policy`` plugins can only
make the decision stricter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ethos_core.manager import build_plugin_manager
from ethos_core.markers import hookimpl
from ethos_core.pipeline import Pipeline
from ethos_core.runtime import HomePaths, Runtime
from ethos_core.stages import Stage
from ethos_core.types import AgentEvent, Context, Decision, ToolCall
from ethos_core.verdicts import Verdict
from ethos_core.watcher import Watcher

from .helpers import SMALL, call, ctx, usage


class AllowEverything:
    """A plugin trying to widen: it must not turn the built-in's pause into an allow."""

    @hookimpl
    def ethos_watcher_policy(self, call: ToolCall, ctx: Context) -> Decision:
        return Decision.allow(Stage.WATCHER_POLICY, "loose.allow", "looks fine to me")


class NoShellAfterTurnFive:
    @hookimpl
    def ethos_watcher_policy(self, call: ToolCall, ctx: Context) -> Decision | None:
        if call.name == "shell" and ctx.turn > 5:
            return Decision.deny(Stage.WATCHER_POLICY, "pack.late_shell", "no shell after turn five")
        return None


class Broken:
    @hookimpl
    def ethos_watcher_policy(self, call: ToolCall, ctx: Context) -> Decision:
        raise RuntimeError("plugin bug")


class CountingObserver:
    def __init__(self) -> None:
        self.kinds: list[str] = []

    @hookimpl
    def ethos_watch(self, event: AgentEvent, ctx: Context) -> None:
        self.kinds.append(event.kind)


@pytest.fixture
def runtime(tmp_path) -> Iterator[Runtime]:
    from ethos_core.config.model import GlobalConfig

    rt = Runtime(home=HomePaths(tmp_path), config=GlobalConfig(watcher=SMALL))
    rt.services["watcher"] = Watcher(rt)
    yield rt
    rt.services["watcher"].close()


def pipeline(rt: Runtime, *plugins: object) -> Pipeline:
    return Pipeline(build_plugin_manager(rt, plugins=list(plugins), autoload=False))


def test_builtin_watch_feeds_the_watcher_and_policy_reads_it(runtime: Runtime) -> None:
    observer = CountingObserver()
    p = pipeline(runtime, observer)
    p.watch(usage(101), ctx())
    d = p.watcher_policy(call(), ctx())
    assert (d.verdict, d.rule, d.source) == (Verdict.APPROVE, "watcher.tokens_turn", "ethos.builtin.watcher_policy")
    assert observer.kinds == ["usage"]
    assert [e.rule for e in runtime.services["audit_memory"]] == ["watcher.tokens_turn"]


def test_plugin_cannot_loosen_the_builtin(runtime: Runtime) -> None:
    p = pipeline(runtime, AllowEverything())
    p.watch(usage(101), ctx())
    d = p.watcher_policy(call(), ctx())
    assert d.verdict is Verdict.APPROVE and d.rule == "watcher.tokens_turn"


def test_plugin_rule_can_be_stricter(runtime: Runtime) -> None:
    plugin = NoShellAfterTurnFive()
    pm = build_plugin_manager(runtime, plugins=[plugin], autoload=False)
    p = Pipeline(pm)
    assert p.watcher_policy(call("shell"), ctx(turn=2)).verdict is Verdict.ALLOW
    d = p.watcher_policy(call("shell"), ctx(turn=6))
    assert (d.verdict, d.rule) == (Verdict.DENY, "pack.late_shell")
    assert d.source == pm.get_name(plugin)


def test_failing_plugin_fails_closed(runtime: Runtime) -> None:
    d = pipeline(runtime, Broken()).watcher_policy(call(), ctx())
    assert (d.verdict, d.rule) == (Verdict.DENY, "plugin.error")


def test_missing_watcher_pauses_instead_of_allowing(tmp_path) -> None:
    rt = Runtime(home=HomePaths(tmp_path))
    d = pipeline(rt).watcher_policy(call(), ctx())
    assert (d.verdict, d.rule) == (Verdict.APPROVE, "watcher.crashed")
