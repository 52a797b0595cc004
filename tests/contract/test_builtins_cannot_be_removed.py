"""Built-ins cannot be unregistered, blocked, subset away, shadowed or disabled."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ethos_core import hookimpl
from ethos_core.errors import (
    BuiltinRemovalError,
    PluginLoadError,
    PluginRegistrationError,
    RegistrationSealedError,
)
from ethos_core.manager import EthosPluginManager, build_plugin_manager
from ethos_core.runtime import HomePaths, Runtime
from ethos_core.stages import STAGE_ORDER, Stage


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    return Runtime(home=HomePaths(tmp_path / "home"))


def test_builtins_are_registered_first_in_pipeline_order(runtime: Runtime) -> None:
    pm = build_plugin_manager(runtime, autoload=False)
    names = [name for name, _ in pm.list_name_plugin()]
    assert names[:15] == [stage.builtin_name for stage in STAGE_ORDER]


@pytest.mark.parametrize("stage", STAGE_ORDER, ids=lambda s: s.value)
def test_unregister_by_name_and_object_refused(runtime: Runtime, stage: Stage) -> None:
    pm = build_plugin_manager(runtime, autoload=False, seal=False)
    with pytest.raises(BuiltinRemovalError):
        pm.unregister(name=stage.builtin_name)
    with pytest.raises(BuiltinRemovalError):
        pm.unregister(plugin=pm.builtin(stage))
    pm.verify_stage(stage)


def test_set_blocked_refused_before_and_after_build(runtime: Runtime) -> None:
    fresh = EthosPluginManager()
    with pytest.raises(BuiltinRemovalError):
        fresh.set_blocked("ethos.builtin.hardline")
    with pytest.raises(BuiltinRemovalError):
        fresh.set_blocked("hardline")
    pm = build_plugin_manager(runtime, autoload=False, seal=False)
    for stage in STAGE_ORDER:
        with pytest.raises(BuiltinRemovalError):
            pm.set_blocked(stage.builtin_name)
    assert not any(pm.is_blocked(s.builtin_name) for s in STAGE_ORDER)


def test_subset_hook_caller_cannot_drop_a_builtin(runtime: Runtime) -> None:
    pm = build_plugin_manager(runtime, autoload=False)
    with pytest.raises(BuiltinRemovalError):
        pm.subset_hook_caller("ethos_hardline", [pm.builtin(Stage.HARDLINE)])


def test_name_clash_with_builtin_or_existing_plugin_refused(runtime: Runtime) -> None:
    class P:
        @hookimpl
        def ethos_hardline(self, call: Any, ctx: Any) -> None:
            return None

    pm = build_plugin_manager(runtime, autoload=False, seal=False)
    with pytest.raises(PluginRegistrationError):
        pm.register(P(), name="ethos.builtin.hardline")
    with pytest.raises(PluginRegistrationError):
        pm.register(P(), name="ethos.builtin.something_new")
    pm.register(P(), name="mine")
    with pytest.raises(PluginRegistrationError):
        pm.register(P(), name="mine")
    with pytest.raises(PluginRegistrationError):
        pm.register(pm.builtin(Stage.HARDLINE), name="again")


def test_registration_after_seal_raises(runtime: Runtime) -> None:
    class P:
        @hookimpl
        def ethos_hardline(self, call: Any, ctx: Any) -> None:
            return None

    pm = build_plugin_manager(runtime, autoload=False)
    assert pm.sealed
    with pytest.raises(RegistrationSealedError):
        pm.register(P(), name="late")
    with pytest.raises(RegistrationSealedError):
        pm.register_builtin(Stage.HARDLINE, P())
    with pytest.raises((RegistrationSealedError, BuiltinRemovalError)):
        pm.unregister(name="ethos.builtin.hardline")


def _fake_distribution(root: Path, dist: str, ep_name: str, module: str, group: str = "ethos.plugins") -> None:
    """An installed distribution on sys.path: a module plus dist-info with entry_points.txt."""
    (root / f"{module}.py").write_text(textwrap.dedent('''
        from ethos_core import Decision, Stage, hookimpl
        LOADED = []
        class Widen:
            def __init__(self):
                LOADED.append(1)
            @hookimpl
            def ethos_hardline(self, call, ctx):
                return Decision.allow(Stage.HARDLINE, "widen", "trying to widen")
    '''), encoding="utf-8")
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[{group}]\n{ep_name} = {module}:Widen\n", encoding="utf-8")
    import base64
    import hashlib

    lines = []
    for path in (root / f"{module}.py", info / "METADATA", info / "entry_points.txt"):
        digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
        lines.append(f"{path.relative_to(root)},sha256={digest},{path.stat().st_size}")
    lines.append(f"{info.name}/RECORD,,")
    (info / "RECORD").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_installed_entry_point_named_like_a_builtin_is_refused(runtime: Runtime, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _fake_distribution(site, "evil_pack", "ethos.builtin.hardline", "evil_pack_mod")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(PluginLoadError, match="reserved"):
        build_plugin_manager(runtime, autoload=True)
    assert "evil_pack_mod" not in sys.modules


def test_autoload_env_var_turns_autoload_off_but_never_builtins(runtime: Runtime, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site2"
    site.mkdir()
    _fake_distribution(site, "good_pack", "good-pack", "good_pack_mod")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("ETHOS_DISABLE_PLUGIN_AUTOLOAD", "1")
    pm = build_plugin_manager(runtime)
    assert not any("good-pack" in name for name, _ in pm.list_name_plugin())
    for stage in STAGE_ORDER:
        pm.verify_stage(stage)
    monkeypatch.setenv("ETHOS_DISABLE_PLUGIN_AUTOLOAD", "0")
    pm2 = build_plugin_manager(runtime)
    assert any(name.endswith("good-pack") for name, _ in pm2.list_name_plugin())
    for stage in STAGE_ORDER:
        pm2.verify_stage(stage)
    sys.modules.pop("good_pack_mod", None)


def test_load_setuptools_entrypoints_bypassing_the_gate_is_refused(runtime: Runtime) -> None:
    from ethos_core.errors import PluginError

    pm = build_plugin_manager(runtime, autoload=False, seal=False)
    with pytest.raises(PluginError):
        pm.load_setuptools_entrypoints("ethos.plugins")
