"""Entry-point discovery behind the scanner gate (DESIGN.md §5).

Two groups with different trust: ``ethos.plugins`` (policy packs: stage hooks, narrowing only)
and ``ethos.skills`` (tools and observer hooks only). Entry points are enumerated once; an entry
point is loaded only when the install-time scanner's lock record for its distribution exists
and every file still matches its hash. A policy pack that fails to load stops startup (missing
narrowing would fail open); a skill that fails is skipped and audited.
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


def _default_gate(dist: md.Distribution | None, group: str, runtime: Runtime) -> str | None:
    if group == SKILL_GROUP:
        gate = runtime.service("skill_gate")
        if gate is None:
            return "no skills.lock record (run: ethos skill install)"
        reason: str | None = gate(dist)
        return reason
    return None


def load_entry_point_plugins(pm: object, runtime: Runtime, gate: VetGate | None = None) -> list[str]:
    """Load ``ethos.plugins`` then ``ethos.skills`` entry points into ``pm``; returns names loaded."""
    gate = gate or _default_gate
    loaded: list[str] = []
    skipped: list[tuple[str, str]] = runtime.services.setdefault("skipped_plugins", [])
    for group in (POLICY_GROUP, SKILL_GROUP):
        for ep in md.entry_points(group=group):
            dist = ep.dist
            if ep.name.startswith(BUILTIN_PREFIX) or ep.name in STAGE_NAMES:
                # Nothing installed may pose as a built-in, whatever group it is in.
                message = f"entry point {ep.name!r} uses a name reserved for built-ins"
                if group == POLICY_GROUP:
                    raise PluginLoadError(message)
                skipped.append((ep.name, message))
                continue
            reason = gate(dist, group, runtime)
            if reason is not None:
                if group == POLICY_GROUP:
                    raise PluginLoadError(f"policy plugin {ep.name!r} refused: {reason}")
                skipped.append((ep.name, reason))
                log.warning("skill %s not loaded: %s", ep.name, reason)
                continue
            try:
                obj = ep.load()
                if isinstance(obj, type):
                    obj = obj()
                pm.register(obj, name=f"{group}:{ep.name}")  # type: ignore[attr-defined]
            except PluginRegistrationError as exc:
                if group == POLICY_GROUP:
                    raise PluginLoadError(f"policy plugin {ep.name!r} failed to register: {exc}") from exc
                skipped.append((ep.name, str(exc)))
                continue
            except Exception as exc:
                if group == POLICY_GROUP:
                    raise PluginLoadError(f"policy plugin {ep.name!r} failed to load: {exc!r}") from exc
                skipped.append((ep.name, f"load failed: {type(exc).__name__}"))
                continue
            loaded.append(ep.name)
    return loaded
