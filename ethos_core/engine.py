"""The integrator API: :class:`Engine` and :class:`Session` (DESIGN.md §9).

``Engine.from_home()`` loads configuration, resolves secrets, builds and seals the plugin
manager, attaches the engines' services and records ``system.startup``. A :class:`Session`
runs one conversation of one personality through the fifteen stages:

    admit(message)          ①–③   who reaches the agent, and what of the context it sees
    prepare(text, source)   ④     sanitise, classify and wrap text before the model sees it
    observe(event)          ⑤     every AgentEvent reaches the watcher
    before_tool(call)       ⑥–⑫   the final decision for one tool call (approvals resolved)
    after_tool(call, res)   ⑬–⑮   redaction, untrusted wrapping, audit
    fetch(url) / open(path)       the safe fetch and the scoped filesystem
    redact(text)            ⑬

Every method returns or raises typed values from :mod:`ethos_core.types` / :mod:`ethos_core.errors`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets as _secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from ethos_core.approval_grants import GrantStore
from ethos_core.approvals import Approver, ask
from ethos_core.audit.events import redaction_summary_event, startup_event, tool_call_event
from ethos_core.config.home import HomeConfig, effective_personality, load_home
from ethos_core.errors import (
    ActionDenied,
    BoundaryError,
    EthosError,
    SecretResolutionError,
)
from ethos_core.injection import DowngradeState, prepare_for_model
from ethos_core.manager import EthosPluginManager, build_plugin_manager
from ethos_core.pipeline import Pipeline
from ethos_core.runtime import HomePaths, Runtime, default_home
from ethos_core.shell.network import network_accesses
from ethos_core.stages import Stage
from ethos_core.tools.registry import RegisteredTool, ToolRegistry
from ethos_core.types import (
    AgentEvent,
    ApprovalAnswer,
    ApprovalRequest,
    AuditEvent,
    Capability,
    ChannelPolicy,
    Content,
    Context,
    ContextVisibility,
    Decision,
    FsReach,
    InboundMessage,
    PathAccess,
    Personality,
    ProvenanceVerdict,
    ToolCall,
    ToolResult,
    UrlAccess,
    thaw,
)
from ethos_core.verdicts import Verdict
from ethos_core.watcher import Watcher

log = logging.getLogger("ethos.engine")

DENIALS_TO_END_TURN = 3
# Seconds the audit writer lets a burst of events gather before committing (a flush commits at
# once). Committing every event as it comes puts the writer's GIL round trips inside each tool
# call; an event written but not yet flushed was never acknowledged (see AuditStore).
ENGINE_COMMIT_DELAY = 0.02
FALLBACK_PERSONALITY = "default"


@attrs.frozen
class AdmitResult:
    """Outcome of stages ①–③ for one inbound message."""

    decision: Decision
    message: InboundMessage | None  # filtered per context visibility; None when denied
    visibility: ContextVisibility | None = None


@attrs.frozen
class ProcessedResult:
    """A tool result after ⑬–⑮: what the model sees, and what was done to it."""

    result: ToolResult  # redacted
    text: str  # redacted, sanitised, wrapped (or quarantined) text for the model
    verdict: ProvenanceVerdict
    redactions: Mapping[str, int] = attrs.field(factory=dict)


_LIVE_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def live_secret_values() -> dict[str, str]:
    """Secret values held by every open engine (log redaction covers all of them)."""
    values: dict[str, str] = {}
    for engine in list(_LIVE_ENGINES):
        values.update(engine.runtime.secret_values)
    return values


class Engine:
    """A sealed engine over one ethos home. Thread-safe for concurrent sessions."""

    def __init__(
        self,
        home: HomeConfig,
        runtime: Runtime,
        pm: EthosPluginManager,
        pipeline: Pipeline,
        tools: ToolRegistry,
        approver: Approver | None,
    ):
        self.home = home
        self.runtime = runtime
        self.pm = pm
        self.pipeline = pipeline
        self.tools = tools
        self.approver = approver
        self._personalities: dict[str, Personality] = {}
        # Outputs of stage ⑬ (redaction is idempotent: such text needs no second scan), bounded
        # by count and by total characters so large tool results cannot pin memory.
        # Mutated under _memo_lock: the audit store's preparer thread redacts through this
        # engine too; lookups need no lock (a dict membership test is atomic).
        self._redacted_outputs: dict[str, None] = {}
        self._redacted_chars = 0
        self._memo_lock = threading.Lock()
        self._lock = threading.Lock()
        self._closed = False
        _LIVE_ENGINES.add(self)

    # --- construction ----------------------------------------------------------------------

    @classmethod
    def from_home(
        cls,
        path: str | Path | None = None,
        *,
        approver: Approver | None = None,
        plugins: Sequence[object] = (),
        autoload: bool | None = None,
        services: Mapping[str, Any] | None = None,
        resolve_secrets: bool = True,
        record_startup: bool = True,
    ) -> Engine:
        """Load the home, resolve secrets, build and seal the engine; emits ``system.startup``.

        Raises :class:`~ethos_core.errors.ConfigError` (every problem, with file:line:col) or
        :class:`~ethos_core.errors.PluginLoadError` (a policy pack failed: startup stops).
        ``record_startup=False`` (health probes, explanations) writes no ``system.startup`` row.
        """
        root = Path(path).expanduser() if path is not None else default_home()
        home = load_home(root)
        home.raise_for_errors()
        runtime = Runtime(home=HomePaths(root), config=home.config)
        runtime.services.update(services or {})
        pm = build_plugin_manager(runtime, plugins, autoload=autoload, seal=False)
        pipeline = Pipeline(pm)
        engine = cls(home, runtime, pm, pipeline, ToolRegistry(), approver)
        runtime.services["emit"] = engine.emit
        runtime.services["pipeline_redact"] = engine.redact
        if resolve_secrets:
            engine._resolve_secrets()
        engine._attach_services()
        # Events recorded before the store existed (e.g. skills refused at load) reach it now.
        for early in runtime.services.pop("audit_memory", []):
            engine.emit(early)
        engine._register_tools()
        engine.tools.freeze()
        # Toolset names must exist now that every tool is registered.
        unknown = [(pid, sorted(p.toolset - engine.tools.names())) for pid, p in home.personalities.items()]
        from ethos_core.config.load import raise_if_errors
        from ethos_core.errors import ConfigIssue

        raise_if_errors([
            ConfigIssue(str(home.personalities[pid].directory / "toolset.yaml"), None, None, name, f"unknown tool {name!r}")
            for pid, names in unknown for name in names
        ])
        pm.seal()
        pipeline.call_each("ethos_configure", config=home.config)
        for pid in home.personalities:
            engine._register_policy(engine.personality(pid))
        from ethos_core import __version__

        engine._tighten_store_modes()
        # Tier-1's hyperscan database compiles in the background from now on, so the first
        # untrusted content meets it ready (until then the pure-Python engine answers).
        from ethos_core.injection import classifier as _tier1

        _tier1.warm_up()
        if record_startup:
            engine.emit(startup_event(version=__version__, personalities=sorted(home.personalities),
                                      plugins=engine.plugin_names(),
                                      extra={"home": str(root), "tools": sorted(engine.tools.names())}))
        return engine

    def _tighten_store_modes(self) -> None:
        """Stores hold audit history, grants and pairing state: owner-only, whatever the umask."""
        root = self.runtime.home.root
        for pattern in ("observability.db*", "state.db*", "skills.lock"):
            for path in root.glob(pattern):
                try:
                    if path.is_file() and not path.is_symlink() and path.stat().st_mode & 0o077:
                        os.chmod(path, 0o600)
                except OSError:
                    log.warning("could not restrict the mode of %s", path.name)

    def _register_tools(self) -> None:
        """Call every ``ethos_register_tools``; tools are stamped with the registering plugin."""
        for impl in self.pm.hook_impls("ethos_register_tools"):
            source = "builtin" if self.pm.is_builtin(name=impl.plugin_name) else impl.plugin_name
            with self.tools.registering_as(source):
                impl.function(*[{"registry": self.tools}[name] for name in impl.argnames])

    def _resolve_secrets(self) -> None:
        resolvers = [item for _, item in self.pipeline.collect("ethos_secret_resolvers")]
        self.runtime.services["secret_resolvers"] = resolvers
        missing = []
        for ref, file, line, key in self.home.secret_refs:
            value = None
            for resolver in resolvers:
                try:
                    value = resolver.resolve(ref)
                except SecretResolutionError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a resolver crash must not leak values
                    raise SecretResolutionError(f"resolver {getattr(resolver, 'name', '?')} failed for {ref!r}: {type(exc).__name__}") from None
                if value:
                    break
            if value:
                self.runtime.secret_values[ref] = value
            else:
                missing.append(f"{file}:{line}: {key}: secret {ref!r} did not resolve")
        self.runtime.services["missing_secrets"] = missing

    def _attach_services(self) -> None:
        """Create the long-lived services of the engines present in this build."""
        rt = self.runtime
        if "audit" not in rt.services:
            from ethos_core.audit.store import AuditStore

            # Plugin sinks (ethos_audit_sinks) get a copy of every redacted event; the built-in
            # JSON Lines sink comes from observability.sinks inside for_runtime.
            plugin_sinks = [sink for source, sink in self.pipeline.collect("ethos_audit_sinks")
                            if not source.startswith("ethos.builtin.")]
            # Rows are prepared on the calling thread: an agent writes a few events per tool call,
            # and a preparer thread would take the GIL from the agent at every syscall it makes.
            rt.services["audit"] = AuditStore.for_runtime(rt, redact=self._redact_for_store, redact_many=self._redact_many,
                                                          sinks=plugin_sinks, prepare_on_caller=True,
                                                          commit_delay=ENGINE_COMMIT_DELAY)
        rt.services.setdefault("tool_registry", self.tools)
        if "grants" not in rt.services:
            rt.services["grants"] = GrantStore(rt.home.state_db)
        reviewer_name = rt.config.approvals.reviewer
        if reviewer_name and "reviewer" not in rt.services:
            from ethos_core.providers import build_provider
            from ethos_core.shell.reviewer import LLMReviewer

            rt.services["reviewer"] = LLMReviewer(_DictMessages(build_provider(self, reviewer_name)),
                                                  timeout=rt.config.approvals.reviewer_timeout_seconds)
        tier2_name = rt.config.injection.tier2_provider
        if tier2_name and "injection_tier2" not in rt.services:
            from ethos_core.injection.tier2 import Tier2Classifier
            from ethos_core.providers import build_provider

            rt.services["injection_tier2"] = Tier2Classifier(_DictMessages(build_provider(self, tier2_name)),
                                                             timeout=rt.config.injection.tier2_timeout_seconds,
                                                             emit=self.emit)
        if "watcher" not in rt.services:
            rt.services["watcher"] = Watcher(rt, emit=self.emit)

    # --- personalities and sessions --------------------------------------------------------

    def personality(self, personality_id: str | None = None) -> Personality:
        """Effective policy of a personality (floor applied). Unknown id → a locked-down one."""
        pid = personality_id or FALLBACK_PERSONALITY
        with self._lock:
            cached = self._personalities.get(pid)
            if cached is not None:
                return cached
            files = self.home.personalities.get(pid)
            if files is None:
                if personality_id is not None:
                    raise EthosError(f"no personality {pid!r} under {self.home.paths.personalities}")
                p = Personality(id=pid, directory=str(self.home.paths.personality_dir(pid)))
            else:
                p = effective_personality(files, self.home.config)
            self._personalities[pid] = p
            return p

    def session(
        self,
        personality: str | Personality | None = None,
        *,
        channel: str | None = None,
        session_id: str | None = None,
        bot: str | None = None,
        approver: Approver | None = None,
    ) -> Session:
        p = personality if isinstance(personality, Personality) else self.personality(personality)
        return Session(self, p, channel=channel, session_id=session_id or _secrets.token_hex(8), bot=bot,
                       approver=approver or self.approver)

    def plugin_names(self) -> list[str]:
        return sorted(name for name, plugin in self.pm.list_name_plugin() if plugin is not None)

    def _register_policy(self, personality: Personality) -> None:
        store = self.runtime.service("audit")
        if store is not None and hasattr(store, "register_policy"):
            store.register_policy(personality.id, policy_json(personality))

    # --- audit -----------------------------------------------------------------------------

    def emit(self, event: AuditEvent) -> None:
        """Redact every string of ``event`` (⑬) and hand it to every audit sink (⑮)."""
        self.pipeline.audit(self.redact_event(event))

    def redact_event(self, event: AuditEvent) -> AuditEvent:
        """Every string of the event (fields, nested keys and values) through stage ⑬, in one scan.

        The event is returned unchanged (no copy) when redaction changed nothing.
        """
        strings: list[str] = []
        fields = [f for f in _EVENT_TEXT_FIELDS if type(getattr(event, f)) is str]
        strings.extend(getattr(event, f) for f in fields)
        if not _collect_strings(event.data, strings):
            return self._redact_event_general(event)
        redacted = self._redact_many(strings)
        if redacted == strings:
            return event
        values = iter(redacted)
        changes: dict[str, Any] = {f: next(values) for f in fields}
        changes["data"] = _rebuild_strings(event.data, values)
        return attrs.evolve(event, **changes)

    def _redact_event_general(self, event: AuditEvent) -> AuditEvent:
        """:meth:`redact_event` for data holding sets, bytes or other objects (thawed first)."""
        strings: list[str] = []

        def collect(value: Any) -> Any:
            if isinstance(value, str):
                strings.append(value)
                return _Slot(len(strings) - 1)
            if isinstance(value, Mapping):
                return [(collect(str(k)), collect(v)) for k, v in value.items()]
            if isinstance(value, (list, tuple)):
                return _Seq([collect(v) for v in value])
            if value is None or isinstance(value, (bool, int, float)):
                return value
            # Anything else is stored as text (as the audit store does): redact that text.
            text = bytes(value).decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)
            return collect(text)

        field_slots = {f: collect(getattr(event, f)) for f in _EVENT_TEXT_FIELDS if isinstance(getattr(event, f), str)}
        data_shape = collect(thaw(event.data))
        redacted = self._redact_many(strings)

        def rebuild(shape: Any) -> Any:
            if isinstance(shape, _Slot):
                return redacted[shape.index]
            if isinstance(shape, _Seq):
                return [rebuild(v) for v in shape.items]
            if isinstance(shape, list):
                return {rebuild(k): rebuild(v) for k, v in shape}
            return shape

        changes: dict[str, Any] = {f: rebuild(slot) for f, slot in field_slots.items()}
        changes["data"] = rebuild(data_shape)
        return attrs.evolve(event, **changes)

    def _redact_many(self, texts: list[str]) -> list[str]:
        """Redact many strings with one scan; falls back to one scan each if a redaction would
        cross the separator (it never may join two strings)."""
        if not texts:
            return []
        pending = [i for i, t in enumerate(texts) if t and t not in self._redacted_outputs]
        out = list(texts)
        if not pending:
            return out
        joined = _SEPARATOR.join(texts[i] for i in pending)
        redacted = self.redact(joined).split(_SEPARATOR) if _SEPARATOR not in "".join(texts[i] for i in pending) else []
        if len(redacted) != len(pending):
            for i in pending:
                out[i] = self.redact(texts[i])
            return out
        for i, value in zip(pending, redacted, strict=True):
            out[i] = value
            self._remember_redacted(value)
        return out

    def _remember_redacted(self, text: str) -> None:
        """Record ``text`` as an output of stage ⑬ (see ``_redacted_outputs``); thread-safe."""
        if text in self._redacted_outputs:
            return
        with self._memo_lock:
            if text in self._redacted_outputs:
                return
            if len(self._redacted_outputs) >= _MEMO_MAX_TEXTS or self._redacted_chars + len(text) > _MEMO_MAX_CHARS:
                self._redacted_outputs.clear()
                self._redacted_chars = 0
            if len(text) <= _MEMO_MAX_CHARS:
                self._redacted_outputs[text] = None
                self._redacted_chars += len(text)

    def _redact_for_store(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str, ctx: Context | None = None) -> str:
        """Stage ⑬ on ``text``. Outputs are remembered: redaction is idempotent, so text that is
        already the output of a redaction (the audit store re-checks what the engine redacted)
        is returned without a second scan."""
        if ctx is None:
            if text in self._redacted_outputs:
                return text
            out = self.pipeline.redact(text, self._check_context(None))
            self._remember_redacted(out)
            return out
        return self.pipeline.redact(text, ctx)

    # --- checks (ethos check …) ------------------------------------------------------------

    def _check_context(self, personality: str | Personality | None) -> Context:
        p = personality if isinstance(personality, Personality) else self.personality(personality)
        return Context(personality=p, session="check")

    def check_url(self, url: str, personality: str | None = None, resolve: Mapping[str, Sequence[str]] | None = None) -> Decision:
        ctx = self._check_context(personality)
        access = UrlAccess(url=url, resolve={h: tuple(ips) for h, ips in resolve.items()} if resolve else None)
        return self.pipeline.network_reach(access, ctx)

    def check_path(self, path: str, op: str, personality: str | None = None, read: Sequence[str] = (),
                   write: Sequence[str] = ()) -> Decision:
        p = self.personality(personality)
        if read or write:
            p = attrs.evolve(p, fs_reach=FsReach(read=tuple(read), write=tuple(write), declared=True))
        return self.pipeline.fs_boundary(PathAccess(path=path, op=op), Context(personality=p, session="check"))

    def check_command(self, command: str, personality: str | None = None) -> Decision:
        ctx = self._check_context(personality)
        call = ToolCall(name="shell", args={"command": command}, capabilities={Capability.EXEC})
        hard = self.pipeline.hardline(call, ctx)
        if hard.verdict is Verdict.DENY:
            return hard
        risk = self.pipeline.classify_risk(call, ctx)
        return risk if risk.verdict >= hard.verdict else hard

    def check_text(self, text: str, source: str = "web", personality: str | None = None) -> ProvenanceVerdict:
        ctx = self._check_context(personality)
        return self.pipeline.provenance(Content(text=text, source=source, trusted=False), ctx)

    # --- health ----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Aggregate health of every attached service; ``ok`` is False when anything fails."""
        report: dict[str, Any] = {"ok": True, "problems": []}
        for name, service in sorted(self.runtime.services.items()):
            fn = getattr(service, "health", None)
            if not callable(fn):
                continue
            try:
                h = fn()
            except Exception as exc:  # noqa: BLE001
                h = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            report[name] = h
            if isinstance(h, Mapping) and h.get("ok") is False:
                report["ok"] = False
                report["problems"].append(f"{name}: {h.get('error') or h.get('reason') or 'unhealthy'}")
        for stage, plugin, err in self.pipeline.plugin_failures[-20:]:
            report["problems"].append(f"plugin {plugin} failed in {stage}: {err}")
        skipped = self.runtime.services.get("skipped_plugins") or []
        for name, reason in skipped:
            report["problems"].append(f"skill {name} not loaded: {reason}")
        return report

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for name in ("watcher", "audit"):
            service = self.runtime.services.get(name)
            close = getattr(service, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # noqa: BLE001
                    log.exception("closing %s failed", name)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _DictMessages:
    """Adapts a provider to reviewers that pass ``[{"role", "content"}]`` dicts."""

    def __init__(self, provider: Any):
        self.provider = provider

    def complete(self, messages: Sequence[Mapping[str, str]], timeout: float | None = None) -> str:
        from ethos_core.providers.base import Message

        text: str = self.provider.complete([Message(m["role"], m["content"]) for m in messages], timeout)
        return text


_MEMO_MAX_TEXTS = 8192
_MEMO_MAX_CHARS = 4_000_000

# Joins strings for one redaction scan. NUL between newlines: no credential pattern spans it.
_SEPARATOR = "\n\x00\x1e\x00\n"


_EVENT_TEXT_FIELDS = ("code", "rule", "source", "stage", "verdict", "personality", "session")


def _collect_strings(value: Any, out: list[str]) -> bool:
    """Append every string of JSON-like ``value`` (keys before their values, in order) to ``out``;
    False when it holds anything else than mappings, lists, tuples and scalars."""
    kind = type(value)
    if kind is str:
        out.append(value)
        return True
    if value is None or kind is int or kind is float or kind is bool:
        return True
    if isinstance(value, Mapping):
        for key, item in value.items():
            out.append(key if type(key) is str else str(key))
            if not _collect_strings(item, out):
                return False
        return True
    if isinstance(value, (list, tuple)):
        return all(_collect_strings(item, out) for item in value)
    return False


def _rebuild_strings(value: Any, strings: Iterator[str]) -> Any:
    """``value`` thawed, with its strings replaced by ``strings`` in :func:`_collect_strings` order."""
    if type(value) is str:
        return next(strings)
    if isinstance(value, Mapping):
        return {next(strings): _rebuild_strings(item, strings) for item in value.values()}
    if isinstance(value, (list, tuple)):
        return [_rebuild_strings(item, strings) for item in value]
    return value


@attrs.frozen
class _Slot:
    index: int


@attrs.frozen
class _Seq:
    items: list[Any]


def policy_json(personality: Personality) -> dict[str, Any]:
    """Canonical JSON of a personality's effective policy (for snapshots and `personality show`)."""
    s = personality.safety
    return {
        "personality": personality.id,
        "toolset": sorted(personality.toolset),
        "fs_reach": {"read": list(personality.fs_reach.read), "write": list(personality.fs_reach.write),
                     "declared": personality.fs_reach.declared},
        "safety": {
            "approvalMode": s.approval_mode.value,
            "injectionDefense": s.injection_defense.value,
            "networkReach": [{"host": r.host, "ports": list(r.ports)} for r in s.network_reach],
            "networkDeclared": s.network_declared,
            "observability": s.observability.value,
            "watcher": {k: v for k, v in attrs.asdict(s.watcher).items()},
            "downgrade": {"turns": s.downgrade_turns, "tools": sorted(s.downgrade_extra_tools)},
            "envFiles": s.env_files,
        },
    }


class Session:
    """One conversation of one personality. Not thread-safe; one agent loop drives it."""

    def __init__(self, engine: Engine, personality: Personality, *, channel: str | None, session_id: str,
                 bot: str | None, approver: Approver | None):
        self.engine = engine
        self.personality = personality
        self.channel = channel
        self.id = session_id
        self.bot = bot
        self.approver = approver
        self.turn = 0
        self.nonce = _secrets.token_hex(8)
        self.consecutive_denials = 0
        self.turn_over = False
        self.session_grants: set[tuple[str, str]] = set()
        self._storage: Any = None
        self._fetchers: dict[tuple[str, ...] | None, Any] = {}
        # Stage ⑨ ALLOW decisions made by before_tool for the call in flight, keyed (path, op):
        # the scoped storage opening that same path during the handler reuses them instead of
        # running the stage again. Cleared when the next call is decided and in after_tool; the
        # open itself stays race-free (openat2 without symlinks, or the verified descriptor walk).
        self._allowed_paths: dict[tuple[str, str], Decision] = {}
        self._downgrade = DowngradeState(turns=personality.safety.downgrade_turns,
                                         extra_tools=personality.safety.downgrade_extra_tools)

    @property
    def ctx(self) -> Context:
        return Context(personality=self.personality, session=self.id, turn=self.turn, channel=self.channel, bot=self.bot)

    @property
    def pipeline(self) -> Pipeline:
        return self.engine.pipeline

    def new_turn(self) -> int:
        self.turn += 1
        self.consecutive_denials = 0
        self.turn_over = False
        return self.turn

    # --- ①–③ -------------------------------------------------------------------------------

    def admit(self, message: InboundMessage, policy: ChannelPolicy) -> AdmitResult:
        """Stages ①–③: who reaches the agent, and which quoted context it sees.

        Every drop is audited as ``channel.deny`` and every admission as ``channel.allow``.
        """
        from ethos_core.channel.engine import admit_message

        outcome = admit_message(self.pipeline, self.engine.runtime, message, policy, self.ctx)
        return AdmitResult(outcome.decision, outcome.message, outcome.visibility)

    # --- ④ ---------------------------------------------------------------------------------

    def prepare(self, text: str, source: str, *, trusted: bool = False, author: str | None = None) -> str:
        """Text as the model must see it: sanitised, and wrapped/quarantined when untrusted."""
        verdict = self.pipeline.provenance(Content(text=text, source=source, trusted=trusted, author=author), self.ctx)
        if verdict.untrusted and self._downgrade is not None:
            self._downgrade.note_untrusted(self.turn)
        return self._render(text, source, verdict)

    def _render(self, text: str, source: str, verdict: ProvenanceVerdict) -> str:
        """Sanitised; quarantined (notice only) or wrapped in this session's markers when untrusted."""
        return prepare_for_model(text, source, verdict, self.nonce)

    # --- ⑤ ---------------------------------------------------------------------------------

    def observe(self, event: AgentEvent) -> None:
        if not event.session:
            event = attrs.evolve(event, session=self.id, turn=self.turn)
        self.pipeline.watch(event, self.ctx)

    # --- ⑥–⑫ -------------------------------------------------------------------------------

    def tool_specs(self) -> list[RegisteredTool]:
        """Tools the model may be offered this turn (⑥ applied)."""
        allowed = self.pipeline.filter_toolset(self.engine.tools.names(), self.ctx)
        return [t for t in self.engine.tools if t.spec.name in allowed]

    def before_tool(self, call: ToolCall) -> Decision:
        """Run stages ⑥–⑫ for ``call`` and return the final decision (ALLOW or DENY).

        APPROVE is resolved here: a standing grant, else the approver; no approver, a timeout or
        a refusal is DENY. Every non-ALLOW decision and every approval is audited.
        """
        decision = self._decide(call)
        if decision.verdict is Verdict.DENY:
            self.consecutive_denials += 1
            if self.consecutive_denials >= DENIALS_TO_END_TURN:
                self.turn_over = True
                decision = attrs.evolve(decision, reason=decision.reason + " — this is the third refusal in a row: "
                                        "stop trying variants of this action and tell the user what you wanted to do.")
        else:
            self.consecutive_denials = 0
        return decision

    def _decide(self, call: ToolCall) -> Decision:
        ctx = self.ctx
        self._allowed_paths.clear()
        tool = self.engine.tools.get(call.name)
        if tool is None:
            return self._block(Decision.deny(Stage.FILTER_TOOLSET, "toolset.unknown_tool", f"no tool named {call.name!r}"), call)
        # Capabilities come from the registered spec, never from the model.
        call = call.with_capabilities(tool.spec.capabilities)
        refused = self._audit_refusal()
        if refused is not None:
            return Decision.deny(Stage.AUDIT, "audit.unwritable",
                                 f"the audit store cannot be written ({refused}); actions are refused until it can")
        allowed = self.pipeline.filter_toolset(self.engine.tools.names(), ctx)
        if call.name not in allowed:
            return self._block(Decision.deny(Stage.FILTER_TOOLSET, "toolset.not_allowed",
                                             f"tool {call.name!r} is not in this personality's toolset.yaml",
                                             source="ethos.builtin.filter_toolset"), call)
        flagged: list[Decision] = []
        if self._downgrade is not None:
            held = self._check_downgrade(call, tool)
            if held is not None:
                return self._block(held, call)
        hard = self.pipeline.hardline(call, ctx)
        if hard.verdict is Verdict.DENY:
            return self._block(hard, call)
        if hard.verdict is Verdict.APPROVE:
            flagged.append(hard)
        checks: list[Callable[[], Decision]] = [lambda: self.pipeline.classify_risk(call, ctx)]
        # Stage ⑩ for every destination a command line names: the shell is no way around networkReach.
        for shell_access in network_accesses(call, ethos_home=str(self.engine.runtime.home.root))[0]:
            checks.append(lambda a=shell_access: self.pipeline.network_reach(a, ctx))  # type: ignore[misc]
        for role in tool.spec.arg_roles:
            value = call.args.get(role.name)
            if value is None:
                continue
            values = value if isinstance(value, (list, tuple)) else (value,)
            for v in values:
                if role.kind == "path":
                    path_access = PathAccess(path=str(v), op=role.op, tool=call.name)
                    checks.append(lambda a=path_access: self._judge_path_arg(a, ctx))  # type: ignore[misc]
                elif role.kind == "url":
                    url_access = UrlAccess(url=str(v), tool=call.name)
                    checks.append(lambda a=url_access: self.pipeline.network_reach(a, ctx))  # type: ignore[misc]
        checks.append(lambda: self.pipeline.watcher_policy(call, ctx))
        for check in checks:
            d = check()
            if d.verdict is Verdict.DENY:
                return self._block(d, call)
            if d.verdict is Verdict.APPROVE:
                flagged.append(d)
        request = ApprovalRequest(call=call, flagged=tuple(flagged), personality=self.personality.id, session=self.id,
                                  request_id=_secrets.token_hex(6))
        verdict = self.pipeline.approval(request, ctx)
        if verdict.verdict is Verdict.DENY:
            return self._block(verdict, call)
        if verdict.verdict is Verdict.ALLOW:
            for d in flagged:  # flags cleared by mode off / reviewer are still recorded
                self._audit_decision("audit.approval", d, call, extra={"cleared_by": verdict.rule})
            return verdict
        return self._resolve_approval(request, verdict, call)

    def _audit_refusal(self) -> str | None:
        """Why the audit store would refuse a write now (then no tool may run), else None."""
        store = self.engine.runtime.service("audit")
        if store is None:
            return None
        refusal = getattr(store, "refusal", None)
        if callable(refusal):
            reason = refusal()
            return None if reason is None else str(reason)
        if hasattr(store, "health"):
            h = store.health()
            if isinstance(h, Mapping) and h.get("ok") is False:
                return str(h.get("error", "unknown error"))
        return None

    def _judge_path_arg(self, access: PathAccess, ctx: Context) -> Decision:
        decision = self.pipeline.fs_boundary(access, ctx)
        if decision.verdict is Verdict.ALLOW:
            self._allowed_paths[(access.path, access.op)] = decision
        return decision

    def _judge_storage_path(self, access: PathAccess) -> Decision:
        """Stage ⑨ for an open by the scoped storage; an ALLOW already decided for this exact
        (path, op) by the call in flight is reused."""
        decided = self._allowed_paths.get((access.path, access.op))
        if decided is not None:
            return decided
        return self.pipeline.fs_boundary(access, self.ctx)

    def _check_downgrade(self, call: ToolCall, tool: RegisteredTool) -> Decision | None:
        """The post-read downgrade: after untrusted content, exfil/exec tools are held for N turns.

        A held call is put to the owner at once, for this single call (no grant is stored); a
        refusal, no approver or a timeout denies it with rule ``tool_downgraded``.
        """
        egress = bool(tool.spec.hosts) and tool.spec.source != "builtin"
        held: Decision | None = self._downgrade.check(call.name, call.capabilities, self.turn, egress=egress)
        if held is None:
            return None
        held = attrs.evolve(held, source="ethos.builtin.wrap_untrusted")
        if held.verdict is Verdict.DENY:
            return held
        request = ApprovalRequest(call=call, flagged=(held,), personality=self.personality.id, session=self.id,
                                  request_id=_secrets.token_hex(6))
        answer = ask(self.approver, request, self.engine.runtime.config.approvals.timeout_seconds)
        self.engine.emit(AuditEvent(category="audit.approval", code="approval.granted" if answer.approved else "approval.denied",
                                    personality=self.personality.id, session=self.id, turn=self.turn,
                                    stage=held.stage.value, rule=held.rule, verdict="allow" if answer.approved else "deny",
                                    source=held.source, data={"tool": call.name, "approver": answer.approver,
                                                              "scope": "once", "reason": answer.reason}))
        if answer.approved:
            return None
        return Decision.deny(held.stage, held.rule, f"{held.reason} The owner did not approve it "
                             f"({answer.reason or 'declined'}).", source=held.source, risk=held.risk,
                             evidence=thaw(held.evidence))

    def _grant_key(self, call: ToolCall) -> tuple[str, str]:
        return (call.name, json.dumps(thaw(call.args), sort_keys=True, default=str))

    def _resolve_approval(self, request: ApprovalRequest, verdict: Decision, call: ToolCall) -> Decision:
        """A standing grant (session or always) answers first; else the approver is asked."""
        grants = self.engine.runtime.service("grants")
        grant = None
        if grants is not None:
            try:
                grant = grants.lookup(call, self.id, self.personality.id)
            except Exception:  # noqa: BLE001 - an unreadable grant store means: ask the human
                log.warning("approval grant lookup failed; asking the approver")
        elif self._grant_key(call) in self.session_grants:
            grant = "session"
        if grant is not None:
            answer = ApprovalAnswer(approved=True, approver=f"grant:{getattr(grant, 'id', grant)}",
                                    scope=str(getattr(grant, "scope", grant)))
        else:
            answer = ask(self.approver, request, self.engine.runtime.config.approvals.timeout_seconds)
            if answer.approved and answer.scope in ("session", "always"):
                if grants is not None:
                    try:
                        stored = grants.grant(call, answer.scope, session=self.id, personality=self.personality.id,
                                              approver=answer.approver)
                        answer = attrs.evolve(answer, scope=stored.scope)
                    except Exception:  # noqa: BLE001 - losing a grant only costs a later prompt
                        log.warning("could not store the approval grant")
                else:
                    self.session_grants.add(self._grant_key(call))
        event_data = {"tool": call.name, "approved": answer.approved, "approver": answer.approver, "scope": answer.scope,
                      "flags": [d.rule for d in request.flagged], "reason": answer.reason, "request_id": request.request_id}
        self.engine.emit(AuditEvent(category="audit.approval", code="approval.granted" if answer.approved else "approval.denied",
                                    personality=self.personality.id, session=self.id, turn=self.turn, stage=Stage.APPROVAL.value,
                                    rule=verdict.rule, verdict="allow" if answer.approved else "deny", source=verdict.source,
                                    data=event_data))
        if answer.approved:
            return Decision.allow(Stage.APPROVAL, "approval.granted", f"approved by {answer.approver or 'a human'} ({answer.scope})",
                                  source="approver")
        flagged_by = ", ".join(f"{d.stage.value} {d.rule}" for d in request.flagged) or verdict.rule
        return Decision.deny(Stage.APPROVAL, "approval.denied",
                             f"flagged by {flagged_by}; a human did not approve this call ({answer.reason or 'declined'}); "
                             "it was denied, not failed", source="approver",
                             evidence={"flags": [d.rule for d in request.flagged]})

    def _block(self, decision: Decision, call: ToolCall) -> Decision:
        self._audit_decision("audit.block", decision, call)
        return decision

    def _audit_decision(self, category: str, decision: Decision, call: ToolCall, extra: Mapping[str, Any] | None = None) -> None:
        data = {"tool": call.name, "reason": decision.reason, **thaw(decision.evidence), **(extra or {})}
        if self.personality.safety.observability.value != "none":
            data["args"] = thaw(call.args)
        self.engine.emit(AuditEvent(category=category, code=decision.rule, severity="warning", personality=self.personality.id,
                                    session=self.id, turn=self.turn, stage=decision.stage.value, rule=decision.rule,
                                    verdict=str(decision.verdict), source=decision.source, data=data))

    # --- tool execution --------------------------------------------------------------------

    def run_tool(self, call: ToolCall) -> ProcessedResult:
        """before_tool → handler → after_tool. A denial becomes an error result the model sees."""
        decision = self.before_tool(call)
        if decision.verdict is not Verdict.ALLOW:
            result = ToolResult(call_id=call.call_id, tool=call.name, ok=False,
                                error=f"denied by {decision.stage.value} ({decision.rule}): {decision.reason}",
                                source="ethos", trusted=True)
            return self.after_tool(call, result, duration_ms=0.0, denied=decision)
        tool = self.engine.tools.get(call.name)
        assert tool is not None
        call = call.with_capabilities(tool.spec.capabilities)
        self.observe(AgentEvent(kind="tool_start", tool=call.name, capabilities=call.capabilities,
                                data={"args_digest": hashlib.sha256(json.dumps(thaw(call.args), sort_keys=True, default=str).encode()).hexdigest()[:16]}))
        start = time.perf_counter()
        try:
            out = tool.handler(call, self)
            if isinstance(out, ToolResult):
                result = out
            else:
                default_trusted = Capability.UNTRUSTED_OUTPUT not in tool.spec.capabilities and tool.spec.source == "builtin"
                result = ToolResult(call_id=call.call_id, tool=call.name, ok=True, content=str(out),
                                    source=str(getattr(out, "source", "tool")),
                                    trusted=bool(getattr(out, "trusted", default_trusted)) and default_trusted
                                    or (bool(getattr(out, "trusted", False)) and tool.spec.source == "builtin"))
        except BoundaryError as exc:
            result = ToolResult(call_id=call.call_id, tool=call.name, ok=False,
                                error=f"refused ({exc.rule}): {exc.reason}", source="ethos", trusted=True)
        except ActionDenied as exc:
            d = exc.decision if isinstance(exc.decision, Decision) else None
            result = ToolResult(call_id=call.call_id, tool=call.name, ok=False, error=str(exc), source="ethos", trusted=True)
            if d is not None:
                self._audit_decision("audit.block", d, call)
        except EthosError as exc:
            result = ToolResult(call_id=call.call_id, tool=call.name, ok=False, error=str(exc), source="ethos", trusted=False)
        except Exception as exc:  # noqa: BLE001 - tool failures are results, never crashes
            result = ToolResult(call_id=call.call_id, tool=call.name, ok=False, error=f"{type(exc).__name__}: {exc}",
                                source="tool", trusted=False)
        duration = (time.perf_counter() - start) * 1000
        processed = self.after_tool(call, result, duration_ms=duration)
        self.observe(AgentEvent(kind="tool_end", tool=call.name, capabilities=call.capabilities,
                                data={"ok": result.ok, "untrusted": processed.verdict.untrusted,
                                      "secret_path": bool(result.metadata.get("secret_path", False))}))
        return processed

    # --- ⑬–⑮ -------------------------------------------------------------------------------

    def after_tool(self, call: ToolCall, result: ToolResult, *, duration_ms: float = 0.0,
                   denied: Decision | None = None) -> ProcessedResult:
        """Redact (⑬) content and error, decide wrapping (⑭), audit the call (⑮)."""
        ctx = self.ctx
        self._allowed_paths.clear()
        counts: dict[str, int] = {}

        def red(text: str) -> str:
            spans = self.pipeline.redaction_spans(text, ctx)
            for span in spans:
                counts[span.label] = counts.get(span.label, 0) + 1
            from ethos_core.pipeline import apply_spans
            return apply_spans(text, spans)

        redacted = attrs.evolve(result, content=red(result.content), error=red(result.error) if result.error else None)
        verdict = self.pipeline.wrap_untrusted(redacted, ctx) if not redacted.trusted else ProvenanceVerdict(untrusted=False)
        if verdict.untrusted and self._downgrade is not None:
            self._downgrade.note_untrusted(self.turn)
        body = redacted.content if redacted.ok else f"error: {redacted.error}"
        text = self._render(body, redacted.source, verdict) if verdict.untrusted else body
        if denied is None:
            event = tool_call_event(
                self.personality.safety.observability, call.name, thaw(call.args), "ok" if result.ok else "error",
                duration_ms, personality=self.personality.id, session=self.id, turn=self.turn, call_id=call.call_id,
                result=redacted.content, error=redacted.error)
            if verdict.flagged:
                event = attrs.evolve(event, data={**thaw(event.data), "signals": list(verdict.signals)})
            # The event's result/error are the texts stage ⑬ just produced, at most truncated
            # (shape_tool_call_data only cuts): the audit path need not scan them again.
            for key in ("result", "error"):
                value = event.data.get(key)
                if isinstance(value, str):
                    self.engine._remember_redacted(value)
            self.engine.emit(event)
        if counts:
            summary = redaction_summary_event(counts, where="tool_error" if not result.ok else "tool_result",
                                              personality=self.personality.id, session=self.id, turn=self.turn,
                                              tool=call.name)
            if summary is not None:
                self.engine.emit(summary)
        return ProcessedResult(redacted, text, verdict, counts)

    def redact(self, text: str) -> str:
        return self.pipeline.redact(text, self.ctx)

    # --- safe fetch and scoped filesystem --------------------------------------------------

    def judge_url(self, url: str, method: str = "GET") -> Decision:
        return self.pipeline.network_reach(UrlAccess(url=url, method=method), self.ctx)

    def judge_path(self, path: str, op: str) -> Decision:
        return self.pipeline.fs_boundary(PathAccess(path=path, op=op), self.ctx)

    def fetcher(self, tool_hosts: Iterable[str] | None = None) -> Any:
        """A SafeFetcher for this session: every hop judged by the floor *and* stage ⑩ plugins."""
        from ethos_core.network.fetch import SafeFetcher

        key = tuple(sorted(tool_hosts)) if tool_hosts is not None else None
        fetcher = self._fetchers.get(key)
        if fetcher is None:
            fetcher = SafeFetcher.for_personality(
                self.engine.runtime, self.personality, session=self.id, tool_hosts=tool_hosts,
                stage=lambda access: self.pipeline.network_reach(access, self.ctx))
            self._fetchers[key] = fetcher
        return fetcher

    def fetch(self, url: str, method: str = "GET", **kwargs: Any) -> Any:
        """The safe fetch: pinned DNS, every redirect hop judged by stage ⑩ (built-in and plugins).

        Raises :class:`~ethos_core.errors.BoundaryError` (``FetchRefused``) when a hop is refused.
        """
        return self.fetcher().request(method, url, **kwargs)

    def storage(self) -> Any:
        """This session's ScopedStorage: fs_reach + floor, race-free opens, checkpoints."""
        from ethos_core.fs.scoped import ScopedStorage

        if self._storage is None:
            self._storage = ScopedStorage.for_personality(
                self.engine.runtime, self.personality, session=self.id, turn=self.turn,
                judge=self._judge_storage_path,
                on_approve=self._approve_boundary)
        self._storage.turn = self.turn
        return self._storage

    def _approve_boundary(self, decision: Decision) -> bool:
        """An APPROVE from the filesystem (e.g. reading a .env file) asks the approver."""
        call = ToolCall(name=decision.evidence.get("tool", "file") if decision.evidence else "file",
                        args={"path": decision.evidence.get("path", "") if decision.evidence else ""})
        request = ApprovalRequest(call=call, flagged=(decision,), personality=self.personality.id, session=self.id,
                                  request_id=_secrets.token_hex(6))
        answer = ask(self.approver, request, self.engine.runtime.config.approvals.timeout_seconds)
        self.engine.emit(AuditEvent(category="audit.approval", code="approval.granted" if answer.approved else "approval.denied",
                                    personality=self.personality.id, session=self.id, turn=self.turn,
                                    stage=decision.stage.value, rule=decision.rule,
                                    verdict="allow" if answer.approved else "deny",
                                    data={"approver": answer.approver, "scope": answer.scope, "reason": answer.reason}))
        return answer.approved

    def open(self, path: str, mode: str = "r") -> Any:
        """Open ``path`` through ScopedStorage (⑨ on the requested and the resolved path)."""
        return self.storage().open(path, mode)


__all__ = ["AdmitResult", "Engine", "ProcessedResult", "Session", "live_secret_values", "policy_json"]
