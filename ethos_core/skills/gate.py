"""Hash-pinned loading and manifest-bound registration of skills.

Invariant: :class:`LockfileGate` answers None for a distribution only when ``skills.lock`` has a
record for it and every file of it on disk hashes as recorded (no change, no addition, no
removal) — the loader calls it *before* ``ep.load()``, so unvetted bytes are never imported.
:func:`wrap_skill` then admits a loaded skill only if it implements nothing but
``ethos_register_tools`` and the observer hooks (``ethos_watch``, ``ethos_audit``), and returns
an adapter whose ``ethos_register_tools`` hands the skill a :class:`SkillToolRegistry`: every
tool must be in the locked manifest, its description must match it (what the scanner vetted for
poisoning is what the model sees), its capabilities and hosts may not exceed it, its source is
the distribution name, and its handler receives a :class:`~ethos_core.skills.runtime.SkillContext`
instead of the Session. Registration is all-or-nothing per skill; a skill that raises or
collides is skipped and audited (``install.scan``), never allowed to abort startup.

Not covered: see :mod:`ethos_core.skills.lock` (check-to-import window) and
:mod:`ethos_core.skills.runtime` (in-process code can bypass its context).
"""

from __future__ import annotations

import importlib.metadata as md
import logging
from collections.abc import Callable
from typing import Any

import attrs

from ethos_core.errors import ToolRegistrationError
from ethos_core.markers import hookimpl
from ethos_core.skills.lock import LockError, LockRecord, SkillsLock, verify_installed
from ethos_core.skills.manifest import ManifestError, SkillManifest, manifest_from_json, normalize_name
from ethos_core.skills.runtime import SkillContext
from ethos_core.types import AuditEvent, ToolSpec

log = logging.getLogger("ethos.skills")
ALLOWED_SKILL_HOOKS = frozenset({"ethos_register_tools", "ethos_watch", "ethos_audit"})


def _dist_name(dist: md.Distribution | None) -> str:
    if dist is None or dist.metadata is None:
        return "?"
    return str(dist.metadata["Name"] or "?")


def audit_refusal(runtime: Any, name: str, reason: str, *, code: str = "skill.not_loaded", distribution: str | None = None) -> None:
    """Record a skill that was not loaded: ``skipped_plugins`` (for ``ethos health``) and ``install.scan``."""
    rule = reason.split(":", 1)[0] if ":" in reason and " " not in reason.split(":", 1)[0] else "skill.load_failed"
    runtime.services.setdefault("skipped_plugins", []).append((name, reason))
    try:
        runtime.emit(AuditEvent(category="install.scan", code=code, severity="warning", rule=rule, verdict="deny",
                                source=distribution or name,
                                data={"entry_point": name, "distribution": distribution, "reason": reason}))
    except Exception:  # noqa: BLE001 - losing the event must not turn a refusal into a crash
        log.exception("could not audit the refusal of skill %s", name)
    log.warning("skill %s not loaded: %s", name, reason)


class LockfileGate:
    """``runtime.services["skill_gate"]``: ``gate(dist) -> reason | None`` against skills.lock."""

    def __init__(self, lock: SkillsLock):
        self.lock = lock
        self._records: dict[str, LockRecord] | None = None
        self._error: str | None = None

    @classmethod
    def for_runtime(cls, runtime: Any) -> LockfileGate:
        return cls(SkillsLock(runtime.home.skills_lock))

    def records(self) -> dict[str, LockRecord]:
        if self._records is None:
            try:
                self._records = self.lock.load()
            except LockError as exc:
                self._records, self._error = {}, f"lock.unreadable: {exc}"
        return self._records

    def record_for(self, dist: md.Distribution | None) -> LockRecord | None:
        return self.records().get(normalize_name(_dist_name(dist)))

    def __call__(self, dist: md.Distribution | None) -> str | None:
        records = self.records()
        if self._error:
            return self._error
        if dist is None:
            return "lock.missing: the entry point has no distribution to verify"
        name = _dist_name(dist)
        record = records.get(normalize_name(name))
        if record is None:
            return f"lock.missing: {name} has no skills.lock record (run: ethos skill install)"
        return verify_installed(dist, record)


def entry_point_outside(ep: md.EntryPoint, dist: md.Distribution | None) -> str | None:
    """A reason when ``ep`` names a module that ``dist`` does not contain."""
    if dist is None:
        return "entrypoint.outside: the entry point has no distribution"
    top = ep.module.split(".")[0]
    tops: set[str] = set()
    for entry in dist.files or ():
        parts = str(entry).replace("\\", "/").split("/")
        if parts[0] == ".." or parts[0].endswith((".dist-info", ".egg-info", ".data")):
            continue
        tops.add(parts[0][:-3] if len(parts) == 1 and parts[0].endswith(".py") else parts[0])
    if top not in tops:
        return f"entrypoint.outside: {ep.value!r} names module {top!r}, which {_dist_name(dist)} does not contain"
    return None


def skill_hooks(pm: Any, obj: object) -> list[str]:
    hooks = []
    for attr in dir(obj):
        opts = pm.parse_hookimpl_opts(obj, attr)
        if opts is not None:
            hooks.append(opts.get("specname") or attr)
    return hooks


@attrs.define
class _Pending:
    spec: ToolSpec
    handler: Callable[..., Any]


class SkillToolRegistry:
    """What a skill's ``ethos_register_tools`` receives: ``add`` bound to its manifest."""

    def __init__(self, skill: str, manifest: SkillManifest, runtime: Any):
        self.skill = skill
        self.manifest = manifest
        self.runtime = runtime
        self.pending: list[_Pending] = []

    def add(self, spec: ToolSpec, handler: Callable[..., Any]) -> None:
        declared = self.manifest.tool(spec.name)
        if declared is None:
            raise ToolRegistrationError(f"skill.tool_undeclared: tool {spec.name!r} is not in {self.skill}'s manifest")
        if spec.description and " ".join(spec.description.split()) != " ".join(declared.description.split()):
            raise ToolRegistrationError(f"skill.description_mismatch: tool {spec.name!r} registers a description "
                                        "that differs from its manifest (the scanned one)")
        allowed = declared.capabilities.tags()
        extra = spec.capabilities - allowed
        if extra:
            raise ToolRegistrationError(f"skill.capability_undeclared: tool {spec.name!r} registers {sorted(extra)} "
                                        f"beyond its manifest ({sorted(allowed)})")
        extra_hosts = set(spec.hosts) - set(declared.capabilities.network)
        if extra_hosts:
            raise ToolRegistrationError(f"skill.capability_undeclared: tool {spec.name!r} registers hosts {sorted(extra_hosts)} "
                                        "its manifest does not declare")
        if any(p.spec.name == spec.name for p in self.pending):
            raise ToolRegistrationError(f"tool name {spec.name!r} registered twice by {self.skill}")
        # The manifest is the truth: its description, all of its capability tags and hosts.
        final = attrs.evolve(spec, description=declared.description, capabilities=allowed - _unused_optional(declared, spec),
                             hosts=declared.capabilities.network, source=self.skill)
        self.pending.append(_Pending(final, _bind(handler, declared, self.skill, self.runtime)))

    def commit(self, registry: Any) -> list[str]:
        taken = registry.names() if hasattr(registry, "names") else frozenset()
        clashes = [p.spec.name for p in self.pending if p.spec.name in taken]
        if clashes:
            raise ToolRegistrationError(f"tool name(s) {clashes} already registered; names are never renamed")
        previous = getattr(registry, "_current_source", None)
        try:
            if previous is not None:
                registry._current_source = self.skill
            for p in self.pending:
                registry.add(p.spec, p.handler)
        finally:
            if previous is not None:
                registry._current_source = previous
        return [p.spec.name for p in self.pending]


def _unused_optional(declared: Any, spec: ToolSpec) -> frozenset[str]:
    # untrusted_output is always allowed; it is kept only when declared or asked for.
    from ethos_core.types import Capability

    if declared.capabilities.untrusted_output or Capability.UNTRUSTED_OUTPUT in spec.capabilities:
        return frozenset()
    return frozenset({Capability.UNTRUSTED_OUTPUT})


def _bind(handler: Callable[..., Any], declared: Any, skill: str, runtime: Any) -> Callable[..., Any]:
    def skill_handler(call: Any, session: Any) -> Any:
        return handler(call, SkillContext(session, declared, skill, runtime))

    skill_handler.__name__ = f"skill_{getattr(handler, '__name__', 'handler')}"
    return skill_handler


def wrap_skill(pm: Any, obj: object, *, entry_point: str, distribution: str, record: LockRecord | None,
               runtime: Any) -> object:
    """The plugin to register for a loaded skill (raises ToolRegistrationError to refuse it)."""
    hooks = skill_hooks(pm, obj)
    forbidden = sorted(h for h in hooks if h not in ALLOWED_SKILL_HOOKS)
    if forbidden:
        raise ToolRegistrationError(f"code.stage_hook: skills may implement only {sorted(ALLOWED_SKILL_HOOKS)}; "
                                    f"{entry_point} implements {forbidden}")
    if record is None or record.manifest is None:
        raise ToolRegistrationError("manifest.missing: no locked manifest for this skill")
    try:
        manifest = manifest_from_json(record.manifest)
    except ManifestError as exc:
        raise ToolRegistrationError(f"manifest.invalid: {exc}") from exc
    namespace: dict[str, Any] = {}
    if "ethos_register_tools" in hooks:
        def ethos_register_tools(self: Any, registry: Any) -> None:
            proxy = SkillToolRegistry(distribution, manifest, runtime)
            try:
                obj.ethos_register_tools(registry=proxy)  # type: ignore[attr-defined]
                names = proxy.commit(registry)
            except Exception as exc:  # noqa: BLE001 - a skill that fails is skipped and audited
                audit_refusal(runtime, entry_point, str(exc) if ":" in str(exc).split(" ", 1)[0] else
                              f"skill.register_failed: {type(exc).__name__}: {exc}", distribution=distribution)
                return
            runtime.services.setdefault("loaded_skills", {})[distribution] = names
        namespace["ethos_register_tools"] = hookimpl(ethos_register_tools)
    for observer in ("ethos_watch", "ethos_audit"):
        if observer in hooks:
            namespace[observer] = hookimpl(_observer(obj, observer, entry_point))
    cls = type(f"Skill[{distribution}]", (), namespace)
    return cls()


def _observer(obj: object, name: str, entry_point: str) -> Callable[..., None]:
    target = getattr(obj, name)
    if name == "ethos_watch":
        def watch(self: Any, event: Any, ctx: Any) -> None:
            try:
                target(event=event, ctx=ctx)
            except Exception:  # noqa: BLE001 - an observer never affects the action
                log.warning("skill %s: %s raised", entry_point, name)
        return watch

    def audit(self: Any, event: Any) -> None:
        try:
            target(event=event)
        except Exception:  # noqa: BLE001
            log.warning("skill %s: %s raised", entry_point, name)
    return audit
