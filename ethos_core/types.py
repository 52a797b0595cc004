"""Frozen value objects that cross hooks and the integrator API.

Every value a plugin receives or returns is one of these: immutable attrs classes holding
tuples, frozensets and read-only mappings, so no plugin can mutate what another sees.
Plugins never receive the plugin manager or the engine.
"""

from __future__ import annotations

import enum
import time
import types as _pytypes
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ethos_core.stages import Stage
from ethos_core.verdicts import Verdict

_SCALARS = (str, int, float, bool, type(None))
_EMPTY_MAPPING: Mapping[str, Any] = _pytypes.MappingProxyType({})


def freeze(value: Any) -> Any:
    """Deep-freeze JSON-like data: dicts → read-only mappings, lists/sets → tuples/frozensets."""
    kind = type(value)
    if kind in _SCALARS:  # exact types first: the ABC checks below cost more than the copy
        return value
    if kind is dict or kind is _pytypes.MappingProxyType or isinstance(value, Mapping):
        return _pytypes.MappingProxyType(
            {(k if type(k) is str else str(k)): (v if type(v) in _SCALARS else freeze(v)) for k, v in value.items()}
        )
    if kind is tuple or kind is list or isinstance(value, (list, tuple)):
        return tuple(v if type(v) in _SCALARS else freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze` for serialisation: read-only mappings → dicts, tuples → lists."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict or kind is _pytypes.MappingProxyType or isinstance(value, Mapping):
        return {k: (v if type(v) in _SCALARS else thaw(v)) for k, v in value.items()}
    if kind is tuple or kind is list or isinstance(value, (tuple, list)):
        return [v if type(v) in _SCALARS else thaw(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(thaw(v) for v in value)
    return value


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not value:
        return _EMPTY_MAPPING
    return freeze(dict(value))  # type: ignore[no-any-return]


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _str_frozenset(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _int_tuple(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(value)


def _resolve_map(value: Mapping[str, Iterable[str]] | None) -> Mapping[str, tuple[str, ...]] | None:
    if value is None:
        return None
    return _pytypes.MappingProxyType({str(k): tuple(str(ip) for ip in v) for k, v in value.items()})


# --- decisions -----------------------------------------------------------------------------


@attrs.frozen
class Decision:
    """The outcome of one decision stage, from the built-in or one plugin.

    ``rule`` is a stable id (``ssrf.metadata``, ``hardline.rm_root``) shared by the audit row,
    the CLI and the docs; ``reason`` is a sentence a user understands; ``source`` is the name
    of the plugin that decided, stamped by the pipeline (a plugin cannot choose it).
    """

    verdict: Verdict
    stage: Stage
    rule: str
    reason: str
    source: str = ""
    risk: str | None = None  # "low" | "medium" | "high" | "hardline" where a classifier set it
    evidence: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)

    @classmethod
    def allow(cls, stage: Stage, rule: str = "allow", reason: str = "allowed", **kw: Any) -> Decision:
        return cls(Verdict.ALLOW, stage, rule, reason, **kw)

    @classmethod
    def approve(cls, stage: Stage, rule: str, reason: str, **kw: Any) -> Decision:
        return cls(Verdict.APPROVE, stage, rule, reason, **kw)

    @classmethod
    def deny(cls, stage: Stage, rule: str, reason: str, **kw: Any) -> Decision:
        return cls(Verdict.DENY, stage, rule, reason, **kw)

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW

    @property
    def denied(self) -> bool:
        return self.verdict is Verdict.DENY

    def to_json(self) -> dict[str, Any]:
        """The ``ethos check --json`` shape: verdict, stage, rule, reason (+ source, risk)."""
        out: dict[str, Any] = {
            "verdict": str(self.verdict),
            "stage": self.stage.value,
            "rule": self.rule,
            "reason": self.reason,
        }
        if self.source:
            out["source"] = self.source
        if self.risk:
            out["risk"] = self.risk
        return out


# --- policy --------------------------------------------------------------------------------


class ApprovalMode(enum.Enum):
    MANUAL = "manual"
    SMART = "smart"
    OFF = "off"


class InjectionDefense(enum.Enum):
    STRICT = "strict"
    BALANCED = "balanced"
    OFF = "off"


class ObservabilityMode(enum.Enum):
    NONE = "none"
    REDACTED = "redacted"
    FULL = "full"


class ContextVisibility(enum.Enum):
    """Strictness order: ALL < ALLOWLIST_QUOTE < ALLOWLIST."""

    ALL = "all"
    ALLOWLIST_QUOTE = "allowlist_quote"
    ALLOWLIST = "allowlist"

    @property
    def strictness(self) -> int:
        return {"all": 0, "allowlist_quote": 1, "allowlist": 2}[self.value]


def _rules_tuple(value: Iterable[NetworkRule]) -> tuple[NetworkRule, ...]:
    return tuple(value)


def _quoted_tuple(value: Iterable[QuotedText]) -> tuple[QuotedText, ...]:
    return tuple(value)


def _roles_tuple(value: Iterable[ArgRole]) -> tuple[ArgRole, ...]:
    return tuple(value)


def _decisions_tuple(value: Iterable[Decision]) -> tuple[Decision, ...]:
    return tuple(value)


@attrs.frozen
class NetworkRule:
    """One ``safety.networkReach`` entry: ``host`` exact or ``*.domain``; empty ports = none."""

    host: str
    ports: tuple[int, ...] = attrs.field(default=(), converter=_int_tuple)


@attrs.frozen
class FsReach:
    """Per-personality filesystem reach; ``write`` implies read. Paths as configured (``~`` kept)."""

    read: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    write: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    declared: bool = False


@attrs.frozen
class WatcherPolicy:
    """Watcher thresholds; ``None`` means the global default applies. Overrides only narrow."""

    max_tool_calls_per_minute: int | None = None
    max_tokens_per_turn: int | None = None
    max_tokens_per_session: int | None = None
    max_cost_per_session: float | None = None
    max_consecutive_errors: int | None = None
    max_consecutive_errors_total: int | None = None  # consecutive failures over all tools
    max_identical_calls: int | None = None
    sequence_window_calls: int | None = None
    sequence_window_seconds: float | None = None


@attrs.frozen
class SafetyPolicy:
    """The ``safety:`` block of a personality after the global floor has been applied."""

    approval_mode: ApprovalMode = ApprovalMode.MANUAL
    injection_defense: InjectionDefense = InjectionDefense.BALANCED
    network_reach: tuple[NetworkRule, ...] = attrs.field(default=(), converter=_rules_tuple)
    network_declared: bool = False
    observability: ObservabilityMode = ObservabilityMode.REDACTED
    watcher: WatcherPolicy = WatcherPolicy()
    downgrade_turns: int = 2
    downgrade_extra_tools: frozenset[str] = attrs.field(default=frozenset(), converter=_str_frozenset)
    env_files: str = "approve"  # "approve" | "deny": reading a .env inside reach


@attrs.frozen
class Personality:
    """One personality's effective policy: what its agent may reach, after the global floor."""

    id: str
    directory: str
    toolset: frozenset[str] = attrs.field(default=frozenset(), converter=_str_frozenset)
    toolset_declared: bool = False
    fs_reach: FsReach = FsReach()
    safety: SafetyPolicy = SafetyPolicy()
    model: str | None = None
    provider: str | None = None
    system_prompt: str = ""


# --- stage context -------------------------------------------------------------------------


@attrs.frozen
class Context:
    """Who is acting: passed to every stage hook beside the subject being judged."""

    personality: Personality
    session: str = "cli"
    turn: int = 0
    channel: str | None = None
    bot: str | None = None


# --- channel -------------------------------------------------------------------------------


@attrs.frozen
class QuotedText:
    """Quoted, forwarded or history text with its author (``None`` = not attributable)."""

    text: str
    author: str | None
    kind: str = "quote"  # "quote" | "forward" | "history" | "reply"


@attrs.frozen
class InboundMessage:
    """A channel message normalised by an adapter. Mentions come from structured entities."""

    platform: str
    sender_id: str = attrs.field(converter=str)
    chat_id: str = attrs.field(converter=str)
    text: str
    is_dm: bool = True
    message_id: str = ""
    sender_name: str = ""
    mentions: frozenset[str] = attrs.field(default=frozenset(), converter=_str_frozenset)
    reply_to_sender: str | None = None
    reply_to_bot: bool = False
    quoted: tuple[QuotedText, ...] = attrs.field(default=(), converter=_quoted_tuple)
    edited: bool = False
    ts: float = attrs.field(factory=time.time)
    raw: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)


@attrs.frozen
class ChannelPolicy:
    """Effective ``channel_filter.<platform>`` for one bot."""

    platform: str
    owner: str | None = None
    allowed_senders: frozenset[str] = attrs.field(default=frozenset(), converter=_str_frozenset)
    pairing_enabled: bool = False
    context_visibility: ContextVisibility = ContextVisibility.ALLOWLIST
    require_mention: bool = True
    bot_username: str | None = None
    bot_id: str | None = None
    roles: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    # Group chats the bot may answer in (``allowedChats``); DMs are authorised by the sender.
    allowed_chats: frozenset[str] = attrs.field(default=frozenset(), converter=_str_frozenset)
    rate_per_sender_per_minute: int = 20
    rate_per_chat_per_minute: int = 60
    rate_burst: int = 5


# --- tools ---------------------------------------------------------------------------------


class Capability:
    """Capability tags a tool declares. Downgrades and watcher rules key on these, not names."""

    READ_FS = "fs.read"
    WRITE_FS = "fs.write"
    NETWORK = "network"
    EXFIL = "exfil"  # can move data out of the process (post, send, email, upload)
    EXEC = "exec"  # runs programs or code
    UNTRUSTED_OUTPUT = "untrusted_output"  # returns outside content that must be wrapped
    SECRETS = "secrets"
    SEND_MESSAGE = "send_message"

    ALL = frozenset({READ_FS, WRITE_FS, NETWORK, EXFIL, EXEC, UNTRUSTED_OUTPUT, SECRETS, SEND_MESSAGE})


@attrs.frozen
class ArgRole:
    """How the pipeline judges one argument: ``path`` (op read/write), ``url`` or ``command``."""

    name: str
    kind: str  # "path" | "url" | "command"
    op: str = "read"  # for paths: "read" | "write"


@attrs.frozen
class ToolSpec:
    """What a tool is: name, description, JSON schema of its args, capabilities, judged args."""

    name: str
    description: str
    parameters: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    capabilities: frozenset[str] = attrs.field(default=frozenset(), converter=_str_frozenset)
    arg_roles: tuple[ArgRole, ...] = attrs.field(default=(), converter=_roles_tuple)
    source: str = "builtin"  # plugin / distribution that registered it
    hosts: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)  # declared egress


@attrs.frozen
class ToolCall:
    """A tool call requested by the model. ``args`` is a read-only mapping."""

    name: str
    args: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    call_id: str = ""
    capabilities: frozenset[str] = attrs.field(default=frozenset(), converter=_str_frozenset)
    cwd: str | None = None

    def with_capabilities(self, capabilities: Iterable[str]) -> ToolCall:
        """This call with ``capabilities``: equal to ``attrs.evolve(self, capabilities=...)``, built
        without running the ``args`` converter again (``args`` were frozen when this call was
        built and are shared, not copied). For the engine's per-call stamping of a tool's
        registered capabilities."""
        clone = object.__new__(ToolCall)
        set_field = object.__setattr__  # the class is frozen: its own __setattr__ refuses
        set_field(clone, "name", self.name)
        set_field(clone, "args", self.args)
        set_field(clone, "call_id", self.call_id)
        set_field(clone, "capabilities", frozenset(capabilities))
        set_field(clone, "cwd", self.cwd)
        return clone


@attrs.frozen
class ToolResult:
    """What a tool returned (``ok``) or raised (``error``). Redaction and wrapping apply to both."""

    call_id: str
    tool: str
    ok: bool
    content: str = ""
    error: str | None = None
    source: str = "tool"  # provenance label: "web", "email", "file", "skill", "tool", …
    trusted: bool = False
    metadata: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)


# --- subjects of single stages -------------------------------------------------------------


@attrs.frozen
class Content:
    """A span of text entering the model's context, with where it came from (stages 4 and 14)."""

    text: str
    source: str  # "web" | "email" | "tool" | "channel" | "file" | "skill" | "owner" | …
    trusted: bool = False
    author: str | None = None


@attrs.frozen
class ProvenanceVerdict:
    """Result of stage 4 / 14 judgments. Reduced by OR on booleans and union on signals."""

    untrusted: bool = True
    flagged: bool = False
    quarantine: bool = False
    signals: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)


@attrs.frozen
class PathAccess:
    """Stage 9 subject: a filesystem operation on ``path`` (as requested, unresolved)."""

    path: str
    op: str  # "read" | "write"
    tool: str | None = None


@attrs.frozen
class UrlAccess:
    """Stage 10 subject. ``resolve`` stands in for DNS (like curl ``--resolve``) when given."""

    url: str
    method: str = "GET"
    tool: str | None = None
    resolve: Mapping[str, tuple[str, ...]] | None = attrs.field(default=None, converter=_resolve_map)


@attrs.frozen
class RedactionSpan:
    """Half-open ``[start, end)`` span of text to replace by ``[REDACTED:<label>]``."""

    start: int
    end: int
    label: str


@attrs.frozen
class AgentEvent:
    """One event of the agent's stream, as the watcher sees it."""

    kind: str  # "model_text" | "tool_start" | "tool_end" | "usage" | "error" | "approval" | "done"
    session: str = ""
    turn: int = 0
    tool: str | None = None
    capabilities: frozenset[str] = attrs.field(default=frozenset(), converter=_str_frozenset)
    data: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    ts: float = attrs.field(factory=time.monotonic)


@attrs.frozen
class ApprovalRequest:
    """What the approval stage (12) and an Approver see: the call and what flagged it."""

    call: ToolCall
    flagged: tuple[Decision, ...] = attrs.field(converter=_decisions_tuple)
    personality: str = ""
    session: str = ""
    request_id: str = ""


@attrs.frozen
class ApprovalAnswer:
    """An approver's answer. ``scope`` is ``once`` | ``session`` | ``always``."""

    approved: bool
    approver: str = ""
    scope: str = "once"
    reason: str = ""


@attrs.frozen
class AuditEvent:
    """One audit row before it is written. ``data`` is redacted by the pipeline before any sink."""

    category: str
    code: str = ""
    severity: str = "info"  # "info" | "warning" | "critical"
    personality: str | None = None
    session: str | None = None
    turn: int | None = None
    stage: str | None = None
    rule: str | None = None
    verdict: str | None = None
    source: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    ts: float = attrs.field(factory=time.time)
