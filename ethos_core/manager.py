"""EthosPluginManager: pluggy with non-removable built-ins and narrow-only registration.

Guarantees (each has a contract test):
- built-ins are registered first under ``ethos.builtin.<stage>``; ``unregister``,
  ``set_blocked`` and ``subset_hook_caller`` refuse them with :class:`BuiltinRemovalError`;
- third-party ``register`` is transactional: the reserved prefix, a name clash, an unknown
  ``ethos_*`` hook and ``wrapper``/``hookwrapper``/``tryfirst``/``trylast``/``optionalhook`` on
  an ``ethos_*`` hook are refused before any state changes;
- ``seal()`` freezes registration and snapshots the hook implementations; the pipeline checks
  the snapshot before every stage run (:meth:`stage_calls`, O(1) in the number of stages: the
  built-in under its reserved name, the hook caller and its implementation list are compared
  by identity with what ``seal()`` recorded) and then calls the snapshotted functions.
What it does not cover: code running in this process can always reach private state; the
integrity check catches tampering through pluggy's own structures, not a determined attacker
(that is the scanner's job, before import).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import pluggy

from ethos_core import hookspecs
from ethos_core.builtin import BUILTIN_MODULES
from ethos_core.errors import (
    BuiltinRemovalError,
    EngineIntegrityError,
    PluginError,
    PluginRegistrationError,
    RegistrationSealedError,
)
from ethos_core.markers import PROJECT_NAME
from ethos_core.runtime import HomePaths, Runtime, default_home
from ethos_core.stages import BUILTIN_PREFIX, STAGE_ORDER, Stage

FORBIDDEN_IMPL_OPTIONS = ("wrapper", "hookwrapper", "tryfirst", "trylast", "optionalhook")
AUTOLOAD_ENV = "ETHOS_DISABLE_PLUGIN_AUTOLOAD"


class StageImpl(NamedTuple):
    """One implementation of a stage as the pipeline calls it: ``function(*[kwargs[a] for a in argnames])``."""

    function: Callable[..., Any]
    argnames: tuple[str, ...]
    plugin: str
    builtin: bool


class _SealedStage:
    """What ``seal()`` recorded for one stage, and the calls built from it once."""

    __slots__ = ("builtin", "caller", "calls", "hook_name", "impls", "name")

    def __init__(self, builtin: object, name: str, hook_name: str, caller: pluggy.HookCaller,
                 impls: list[pluggy.HookImpl], calls: tuple[StageImpl, ...]) -> None:
        self.builtin = builtin
        self.name = name
        self.hook_name = hook_name
        self.caller = caller
        self.impls = impls  # a private copy of the caller's list at seal time, never handed out
        self.calls = calls


class EthosPluginManager(pluggy.PluginManager):
    """A pluggy PluginManager whose built-in stage floors cannot be removed or outranked."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self._builtin_by_stage: dict[Stage, object] = {}
        self._builtin_ids: set[int] = set()  # ids of the objects above (kept alive by that dict)
        # Filled by seal(), keyed by ``Stage.value`` (a str key hashes in C, an Enum in Python).
        self._sealed_stages: dict[str, _SealedStage] = {}
        self._sealed = False
        self._snapshot: dict[str, tuple[pluggy.HookImpl, ...]] = {}

    # --- built-ins -------------------------------------------------------------------------

    def register_builtin(self, stage: Stage, plugin: object) -> None:
        """Register the floor of ``stage``. Only the engine calls this, before any plugin."""
        if self._sealed:
            raise RegistrationSealedError("the plugin manager is sealed")
        if stage in self._builtin_by_stage:
            raise PluginRegistrationError(f"built-in for stage {stage.value} is already registered")
        if not callable(getattr(plugin, stage.hook_name, None)):
            raise PluginRegistrationError(f"built-in for {stage.value} lacks {stage.hook_name}")
        super().register(plugin, name=stage.builtin_name)
        self._builtin_by_stage[stage] = plugin
        self._builtin_ids.add(id(plugin))

    def builtin(self, stage: Stage) -> object | None:
        return self._builtin_by_stage.get(stage)

    def is_builtin(self, plugin: object | None = None, name: str | None = None) -> bool:
        if name is not None and name.startswith(BUILTIN_PREFIX):
            return True
        if plugin is not None:
            return id(plugin) in self._builtin_ids
        return False

    # --- third-party registration ----------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register a third-party plugin, refusing anything that could widen or reorder policy."""
        if self._sealed:
            raise RegistrationSealedError("the plugin manager is sealed; register plugins before startup ends")
        plugin_name = name or self.get_canonical_name(plugin)
        if plugin_name.startswith(BUILTIN_PREFIX) or self.is_builtin(plugin=plugin):
            raise PluginRegistrationError(f"plugin name {plugin_name!r} uses the reserved prefix {BUILTIN_PREFIX!r}")
        if plugin_name in self._name2plugin or self.is_registered(plugin):
            raise PluginRegistrationError(f"a plugin named {plugin_name!r} is already registered")
        self._check_impls(plugin, plugin_name)
        try:
            return super().register(plugin, name=plugin_name)
        except Exception as exc:
            # Roll back anything pluggy added before failing, so registration is all or nothing.
            if self.is_registered(plugin):
                super().unregister(plugin=plugin)
            raise PluginRegistrationError(f"plugin {plugin_name!r} refused: {exc}") from exc

    def _check_impls(self, plugin: object, plugin_name: str) -> None:
        problems = []
        for attr in dir(plugin):
            opts = self.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                continue
            hook_name = opts.get("specname") or attr
            if hook_name.startswith("ethos_"):
                if not hasattr(hookspecs, hook_name):
                    problems.append(f"{attr}: unknown hook {hook_name!r}")
                for option in FORBIDDEN_IMPL_OPTIONS:
                    if opts.get(option):
                        problems.append(f"{attr}: {option}=True is not allowed on ethos hooks")
        if problems:
            raise PluginRegistrationError(f"plugin {plugin_name!r} refused: " + "; ".join(problems))

    def load_setuptools_entrypoints(self, group: str, name: str | None = None) -> int:
        raise PluginError("entry points are loaded by ethos_core.loading behind the install-time scanner")

    # --- removal guards --------------------------------------------------------------------

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        if self._sealed:
            raise RegistrationSealedError("the plugin manager is sealed")
        target = plugin if plugin is not None else (self.get_plugin(name) if name else None)
        if self.is_builtin(plugin=target, name=name) or (
            target is not None and self.is_builtin(name=self.get_name(target))
        ):
            raise BuiltinRemovalError("built-in stage plugins cannot be unregistered")
        return super().unregister(plugin=plugin, name=name)

    def set_blocked(self, name: str) -> None:
        if name.startswith(BUILTIN_PREFIX) or name in {s.value for s in STAGE_ORDER}:
            raise BuiltinRemovalError(f"built-in {name!r} cannot be blocked")
        if self._sealed:
            raise RegistrationSealedError("the plugin manager is sealed")
        super().set_blocked(name)

    def subset_hook_caller(self, name: str, remove_plugins: Iterable[object]) -> Any:
        remove_plugins = list(remove_plugins)
        if any(self.is_builtin(plugin=p) for p in remove_plugins):
            raise BuiltinRemovalError("a hook caller without the built-in would skip the global floor")
        return super().subset_hook_caller(name, remove_plugins)

    # --- seal and integrity ----------------------------------------------------------------

    def seal(self) -> None:
        """Freeze registration and snapshot every ethos hook's implementations."""
        for stage in STAGE_ORDER:
            self.verify_stage(stage)
        self._snapshot = {
            name: tuple(getattr(self.hook, name).get_hookimpls())
            for name in dir(hookspecs)
            if name.startswith("ethos_")
        }
        self._sealed_stages = {
            stage.value: _SealedStage(
                self._builtin_by_stage[stage],
                stage.builtin_name,
                stage.hook_name,
                getattr(self.hook, stage.hook_name),
                list(self._snapshot[stage.hook_name]),
                self._calls(self._snapshot[stage.hook_name]),
            )
            for stage in STAGE_ORDER
        }
        self._sealed = True

    @property
    def sealed(self) -> bool:
        return self._sealed

    def hook_impls(self, hook_name: str) -> Sequence[pluggy.HookImpl]:
        caller = getattr(self.hook, hook_name)
        impls: list[pluggy.HookImpl] = caller.get_hookimpls()
        if self._sealed and tuple(impls) != self._snapshot.get(hook_name, ()):
            raise EngineIntegrityError(f"implementations of {hook_name} changed after seal")
        return impls

    def verify_stage(self, stage: Stage) -> list[pluggy.HookImpl]:
        """Raise EngineIntegrityError unless the built-in of ``stage`` is intact and registered."""
        sealed = self._sealed_stages.get(stage.value)
        if sealed is None:
            return self._verify_stage_fully(stage)
        self._check_sealed(stage, sealed)
        return list(sealed.impls)

    def stage_calls(self, stage: Stage) -> tuple[StageImpl, ...]:
        """The implementations of ``stage`` to call, after the same integrity check as
        :meth:`verify_stage`. After seal these are the snapshotted functions (a HookImpl whose
        ``function`` is swapped later is not followed); before seal, the live ones."""
        sealed = self._sealed_stages.get(stage._value_)
        if sealed is None:
            return self._calls(self._verify_stage_fully(stage))
        # Inlined _check_sealed: this runs for every stage of every call.
        if (
            self._name2plugin.get(sealed.name) is not sealed.builtin
            or getattr(self.hook, sealed.hook_name, None) is not sealed.caller
            or sealed.caller._hookimpls != sealed.impls
        ):
            self._check_sealed(stage, sealed)
        return sealed.calls

    def _check_sealed(self, stage: Stage, sealed: _SealedStage) -> None:
        """After seal the stage is checked against the record seal() made: the same built-in
        object under its reserved name, the same hook caller, exactly the snapshotted
        implementations (verified at seal to include the built-in)."""
        if self._name2plugin.get(sealed.name) is not sealed.builtin:
            raise EngineIntegrityError(f"stage {stage.value}: built-in floor was replaced or removed")
        if getattr(self.hook, sealed.hook_name, None) is not sealed.caller:
            raise EngineIntegrityError(f"stage {stage.value}: hook {sealed.hook_name} was replaced or removed")
        # The caller's own list, not a copy: equal means the same HookImpl objects in the same order.
        if sealed.caller._hookimpls != sealed.impls:
            raise EngineIntegrityError(f"stage {stage.value}: implementations changed after seal")

    def _calls(self, impls: Sequence[pluggy.HookImpl]) -> tuple[StageImpl, ...]:
        return tuple(
            StageImpl(impl.function, tuple(impl.argnames), impl.plugin_name, self.is_builtin(plugin=impl.plugin))
            for impl in impls
        )

    def _verify_stage_fully(self, stage: Stage) -> list[pluggy.HookImpl]:
        builtin = self._builtin_by_stage.get(stage)
        if builtin is None:
            raise EngineIntegrityError(f"stage {stage.value}: built-in floor is not registered")
        if self.get_plugin(stage.builtin_name) is not builtin:
            raise EngineIntegrityError(f"stage {stage.value}: built-in floor was replaced or removed")
        caller = getattr(self.hook, stage.hook_name, None)
        if caller is None:
            raise EngineIntegrityError(f"stage {stage.value}: hook {stage.hook_name} is missing")
        impls: list[pluggy.HookImpl] = caller.get_hookimpls()
        if not any(impl.plugin is builtin for impl in impls):
            raise EngineIntegrityError(f"stage {stage.value}: built-in implementation is not on the hook")
        if self._sealed and tuple(impls) != self._snapshot.get(stage.hook_name, ()):
            raise EngineIntegrityError(f"stage {stage.value}: implementations changed after seal")
        return impls


def autoload_disabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip() not in ("", "0", "false", "no")


def build_plugin_manager(
    runtime: Runtime | None = None,
    plugins: Sequence[object] = (),
    *,
    autoload: bool | None = None,
    seal: bool = True,
) -> EthosPluginManager:
    """Build a manager: built-ins first (pipeline order), then ``plugins``, then entry points.

    ``autoload`` defaults to on unless ``ETHOS_DISABLE_PLUGIN_AUTOLOAD`` is set. Entry points go
    through :mod:`ethos_core.loading` (the scanner gate). The manager is sealed unless ``seal``
    is false.
    """
    runtime = runtime or Runtime(home=HomePaths(default_home()))
    pm = EthosPluginManager()
    for stage, module_name in zip(STAGE_ORDER, BUILTIN_MODULES, strict=True):
        module = importlib.import_module(module_name)
        pm.register_builtin(stage, module.make_plugin(runtime))
    for lifecycle in _builtin_lifecycle_plugins(runtime):
        super(EthosPluginManager, pm).register(lifecycle[1], name=lifecycle[0])
    for plugin in plugins:
        pm.register(plugin)
    if autoload is None:
        autoload = not autoload_disabled()
    if autoload:
        from ethos_core.loading import load_entry_point_plugins

        load_entry_point_plugins(pm, runtime)
    if seal:
        pm.seal()
    return pm


def _builtin_lifecycle_plugins(runtime: Runtime) -> list[tuple[str, object]]:
    """Built-in implementations of lifecycle hooks (secret resolvers, tools, providers, …)."""
    from ethos_core.builtin_lifecycle import lifecycle_plugins

    return lifecycle_plugins(runtime)
