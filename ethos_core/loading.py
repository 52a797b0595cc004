"""Entry-point discovery behind the scanner gate (DESIGN.md §5).

Two groups with different trust: ``ethos.plugins`` (policy packs: stage hooks, narrowing only)
and ``ethos.skills`` (tools and observer hooks only). Entry points are enumerated once; an entry
point is loaded only when the install-time scanner's lock record for its distribution exists
and every file still matches its hash. A policy pack that fails to load stops startup (missing
narrowing would fail open); a skill that fails is skipped and audited.

Skills (``ethos.skills``): the gate is ``runtime.services["skill_gate"]`` — by default the
lockfile gate of :mod:`ethos_core.skills.gate`, installed here on first use — and it re-hashes
every file of the distribution on disk before ``ep.load()``. A refused or failing skill is
added to ``runtime.services["skipped_plugins"]`` (``ethos health`` reports it) and audited as
``install.scan``. A loaded skill is registered through :func:`ethos_core.skills.gate.wrap_skill`:
only ``ethos_register_tools`` and observer hooks, tools bound to the locked manifest.

Policy packs (``ethos.plugins``) are installed by the operator like any Python package and load
without a lock record; when a lock record *does* exist for a pack (it was installed with
``ethos skill install``) it must verify, and a mismatch stops startup like any failing pack.
A skill entry point whose module is not part of its own distribution is refused.
"""

from __future__ import annotations

import importlib.metadata as md
import logging
from collections.abc import Callable

from ethos_core.errors import PluginLoadError, PluginRegistrationError
from ethos_core.runtime import Runtime
from ethos_core.stages import BUILTIN_PREFIX, STAGE_ORDER

STAGE_NAMES = frozenset(stage.value for stage in STAGE_ORDER)

log = logging.getLogger("ethos.loading")

POLICY_GROUP = "ethos.plugins"
SKILL_GROUP = "ethos.skills"

# Gate: (distribution, runtime) -> None or a reason the distribution must not be imported.
# The skills engine installs the lockfile gate here; the default trusts policy packs installed by
# the operator and refuses skills that were not vetted.
VetGate = Callable[[md.Distribution | None, str, Runtime], str | None]


def skill_gate(runtime: Runtime) -> Callable[[md.Distribution | None], str | None]:
    """The attached ``skill_gate`` service, installing the lockfile gate when none is attached."""
    gate = runtime.service("skill_gate")
    if gate is None:
        from ethos_core.skills.gate import LockfileGate

        gate = LockfileGate.for_runtime(runtime)
        runtime.services["skill_gate"] = gate
    return gate  # type: ignore[no-any-return]


def _default_gate(dist: md.Distribution | None, group: str, runtime: Runtime) -> str | None:
    gate = skill_gate(runtime)
    if group == SKILL_GROUP:
        reason: str | None = gate(dist)
        return reason
    record_for = getattr(gate, "record_for", None)
    if callable(record_for) and record_for(dist) is not None:
        locked: str | None = gate(dist)
        return locked
    return None


def load_entry_point_plugins(pm: object, runtime: Runtime, gate: VetGate | None = None) -> list[str]:
    """Load ``ethos.plugins`` then ``ethos.skills`` entry points into ``pm``; returns names loaded."""
    gate = gate or _default_gate
    loaded: list[str] = []
    runtime.services.setdefault("skipped_plugins", [])
    for group in (POLICY_GROUP, SKILL_GROUP):
        for ep in md.entry_points(group=group):
            dist = ep.dist
            if ep.name.startswith(BUILTIN_PREFIX) or ep.name in STAGE_NAMES:
                # Nothing installed may pose as a built-in, whatever group it is in.
                message = f"entry point {ep.name!r} uses a name reserved for built-ins"
                if group == POLICY_GROUP:
                    raise PluginLoadError(message)
                _refuse_skill(runtime, ep.name, f"plugin.reserved_name: {message}", dist)
                continue
            reason = (_outside(ep, dist) if group == SKILL_GROUP else None) or gate(dist, group, runtime)
            if reason is not None:
                if group == POLICY_GROUP:
                    raise PluginLoadError(f"policy plugin {ep.name!r} refused: {reason}")
                _refuse_skill(runtime, ep.name, reason, dist)
                continue
            try:
                obj = ep.load()
                if isinstance(obj, type):
                    obj = obj()
                if group == SKILL_GROUP:
                    obj = _wrap_skill(pm, obj, ep.name, dist, runtime)
                pm.register(obj, name=f"{group}:{ep.name}")  # type: ignore[attr-defined]
            except PluginRegistrationError as exc:
                if group == POLICY_GROUP:
                    raise PluginLoadError(f"policy plugin {ep.name!r} failed to register: {exc}") from exc
                _refuse_skill(runtime, ep.name, str(exc), dist)
                continue
            except Exception as exc:
                if group == POLICY_GROUP:
                    raise PluginLoadError(f"policy plugin {ep.name!r} failed to load: {exc!r}") from exc
                _refuse_skill(runtime, ep.name, f"skill.load_failed: {type(exc).__name__}", dist)
                continue
            loaded.append(ep.name)
    return loaded


def _outside(ep: md.EntryPoint, dist: md.Distribution | None) -> str | None:
    from ethos_core.skills.gate import entry_point_outside

    return entry_point_outside(ep, dist)


def _dist_name(dist: md.Distribution | None) -> str | None:
    return None if dist is None or dist.metadata is None else dist.metadata["Name"]


def _refuse_skill(runtime: Runtime, name: str, reason: str, dist: md.Distribution | None) -> None:
    from ethos_core.skills.gate import audit_refusal

    audit_refusal(runtime, name, reason, distribution=_dist_name(dist))


def _wrap_skill(pm: object, obj: object, name: str, dist: md.Distribution | None, runtime: Runtime) -> object:
    from ethos_core.errors import ToolRegistrationError
    from ethos_core.skills.gate import wrap_skill

    gate = skill_gate(runtime)
    record_for = getattr(gate, "record_for", None)
    record = record_for(dist) if callable(record_for) else None
    try:
        return wrap_skill(pm, obj, entry_point=name, distribution=_dist_name(dist) or name, record=record, runtime=runtime)
    except ToolRegistrationError as exc:
        raise PluginRegistrationError(str(exc)) from exc
