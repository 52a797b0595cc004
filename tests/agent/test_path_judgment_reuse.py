"""Stage ⑨ runs once per path argument of a tool call: the scoped storage opening that same path
inside the handler reuses the ALLOW that before_tool just made. Denials are never reused, the
reuse never outlives the call, and a path the handler opens that was not an argument is judged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ethos_core import hookimpl
from ethos_core.engine import Engine
from ethos_core.stages import Stage
from ethos_core.types import Context, Decision, PathAccess, ToolCall
from ethos_core.verdicts import Verdict
from tests.conftest import make_home


class CountingPolicy:
    """A narrowing plugin: records every stage-⑨ call; denies paths named in ``deny_after``
    once it has seen them ``n`` times."""

    def __init__(self, deny_after: dict[str, int] | None = None) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.deny_after = deny_after or {}

    @hookimpl
    def ethos_fs_boundary(self, access: PathAccess, ctx: Context) -> Decision | None:
        self.calls.append((access.path, access.op, access.tool))
        seen = sum(1 for p, _, _ in self.calls if p == access.path)
        limit = self.deny_after.get(Path(access.path).name)
        if limit is not None and seen > limit:
            return Decision.deny(Stage.FS_BOUNDARY, "test.second_look", "denied on a second look")
        return None


def _engine(tmp_path: Path, plugin: CountingPolicy) -> tuple[Engine, Path]:
    home = make_home(tmp_path / "h", toolset="- read_file\n- write_file\n")
    data = home / "personalities/default/data"
    (data / "a.txt").write_text("alpha", encoding="utf-8")
    (data / "b.txt").write_text("beta", encoding="utf-8")
    return Engine.from_home(home, plugins=[plugin], autoload=False), data


def test_a_read_is_judged_once_and_the_open_reuses_the_allow(tmp_path: Path) -> None:
    plugin = CountingPolicy()
    engine, data = _engine(tmp_path, plugin)
    with engine:
        s = engine.session("default")
        out = s.run_tool(ToolCall("read_file", {"path": str(data / "a.txt")}))
    assert out.result.ok, out.result.error
    assert "alpha" in out.result.content
    assert [c[:2] for c in plugin.calls] == [(str(data / "a.txt"), "read")]


def test_the_reuse_does_not_outlive_the_call(tmp_path: Path) -> None:
    # Allowed on the first look only: a second call on the same path is judged afresh and denied.
    plugin = CountingPolicy(deny_after={"a.txt": 1})
    engine, data = _engine(tmp_path, plugin)
    with engine:
        s = engine.session("default")
        first = s.run_tool(ToolCall("read_file", {"path": str(data / "a.txt")}, call_id="1"))
        second = s.run_tool(ToolCall("read_file", {"path": str(data / "a.txt")}, call_id="2"))
        # Opening through the storage outside any tool call is judged by the stage too.
        storage = s.storage()
        try:
            storage.read_text(str(data / "a.txt"))
            direct_refused = False
        except Exception:  # noqa: BLE001 - the refusal type belongs to the fs engine
            direct_refused = True
    assert first.result.ok
    assert not second.result.ok and "test.second_look" in (second.result.error or "")
    assert direct_refused
    assert len(plugin.calls) == 3


def test_a_denial_is_never_reused_and_other_paths_are_judged(tmp_path: Path) -> None:
    plugin = CountingPolicy()
    engine, data = _engine(tmp_path, plugin)
    with engine:
        s = engine.session("default")
        denied = s.before_tool(ToolCall("read_file", {"path": "/etc/shadow"}))
        assert denied.verdict is Verdict.DENY
        # The storage still judges /etc/shadow itself (nothing was remembered for it).
        storage = s.storage()
        refused: Any = None
        try:
            storage.read_text("/etc/shadow")
        except Exception as exc:  # noqa: BLE001
            refused = exc
        assert refused is not None
        # A path that was not an argument of the call in flight is judged by the stage.
        assert s.before_tool(ToolCall("read_file", {"path": str(data / "a.txt")})).verdict is Verdict.ALLOW
        before = len(plugin.calls)
        assert storage.read_text(str(data / "b.txt")) == "beta"
        assert len(plugin.calls) == before + 1 and plugin.calls[-1][0] == str(data / "b.txt")
