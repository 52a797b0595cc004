"""Every ethos hook. Each docstring is the contract for implementers.

Stage hooks (``ethos_<stage>``) are called once per implementation by the pipeline facade
(:mod:`ethos_core.pipeline`), never through ``pm.hook``; so registration order never matters,
an exception or a wrongly typed return counts as DENY from that plugin (fail closed), and the
deciding plugin's name is stamped on the decision. Results only ever narrow the built-in floor.

Plugin authors: decorate functions with ``ethos_core.hookimpl`` and name them after these
specs. ``tryfirst``, ``trylast``, ``wrapper``, ``hookwrapper`` and ``optionalhook`` are refused
on ``ethos_*`` hooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ethos_core.markers import hookspec
from ethos_core.types import (
    AgentEvent,
    ApprovalRequest,
    AuditEvent,
    ChannelPolicy,
    Content,
    Context,
    ContextVisibility,
    Decision,
    InboundMessage,
    PathAccess,
    ProvenanceVerdict,
    RedactionSpan,
    ToolCall,
    ToolResult,
    UrlAccess,
)

if TYPE_CHECKING:  # only for annotations; keeps import of this module cheap
    from ethos_core.config.model import GlobalConfig
    from ethos_core.tools.registry import ToolRegistry

SecretResolver = Any
ChannelAdapterFactory = Any
LLMProviderFactory = Any
ScanRule = Any
AuditSink = Any

# Names of the sections every hook docstring must carry (checked by tests/contract).
CONTRACT_SECTIONS = ("Called:", "Parameters:", "Returns:", "None means:", "Combining:", "Order:", "Exceptions:", "Built-in:", "Example::")


# -------------------- stage hooks, in pipeline order (① … ⑮) --------------------

@hookspec
def ethos_channel_admit(message: InboundMessage, policy: ChannelPolicy, ctx: Context) -> Decision | None:
    """Stage 1 (channel admit): once per inbound channel message, before anything else sees it.

    Called: stage 1 (channel admit): once per inbound channel message, before anything else sees it.

    Parameters:
        ``message``: the adapter-normalised message (sender and chat ids are strings)
        ``policy``: the effective ``channel_filter.<platform>`` of the bot that received it
        ``ctx``: the bot's personality and session

    Returns: a :class:`Decision` for stage ``channel_admit``.

    None means: no opinion; the built-in and other plugins decide.

    Combining: strictest verdict wins (DENY > APPROVE > ALLOW).

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception or a wrongly typed return is treated as DENY (or, for transforms, the strictest result) from this plugin and audited; it fails closed.

    Built-in: ``ethos.builtin.channel_admit``: owner and ``allowedSenders`` admitted, unknown DM senders get a pairing reply when pairing is enabled, everything else denied (``channel.deny``).

    Example::

        @hookimpl
        def ethos_channel_admit(message, policy, ctx):
            if message.sender_id in BANNED:
                return Decision.deny(Stage.CHANNEL_ADMIT, "mypack.banned", "sender is banned")
    """


@hookspec
def ethos_mention_gate(message: InboundMessage, policy: ChannelPolicy, ctx: Context) -> Decision | None:
    """Stage 2 (mention gate): for every admitted message; only group messages are gated by the built-in.

    Called: stage 2 (mention gate): for every admitted message; only group messages are gated by the built-in.

    Parameters:
        ``message``: the admitted message
        ``policy``: the bot's channel policy (``requireMention``, bot id and username)
        ``ctx``: personality and session

    Returns: a :class:`Decision` for stage ``mention_gate``.

    None means: no opinion; the built-in and other plugins decide.

    Combining: strictest verdict wins.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception or a wrongly typed return is treated as DENY (or, for transforms, the strictest result) from this plugin and audited; it fails closed.

    Built-in: ``ethos.builtin.mention_gate``: in groups only a structural mention (platform entity) or a reply to the bot's own message admits.

    Example::

        @hookimpl
        def ethos_mention_gate(message, policy, ctx):
            if not message.is_dm and message.edited:
                return Decision.deny(Stage.MENTION_GATE, "mypack.edited", "edited group messages are ignored")
    """


@hookspec
def ethos_context_visibility(message: InboundMessage, policy: ChannelPolicy, ctx: Context) -> ContextVisibility | None:
    """Stage 3 (context visibility): for every message that passed stages 1 and 2 and carries quoted, forwarded or history text.

    Called: stage 3 (context visibility): for every message that passed stages 1 and 2 and carries quoted, forwarded or history text.

    Parameters:
        ``message``: the admitted message
        ``policy``: the bot's channel policy
        ``ctx``: personality and session

    Returns: the :class:`ContextVisibility` mode to apply to the message's quoted/history entries.

    None means: no narrowing from this plugin.

    Combining: the strictest mode wins (``allowlist`` > ``allowlist_quote`` > ``all``); the engine then filters the message with it.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception or a wrongly typed return is treated as DENY (or, for transforms, the strictest result) from this plugin and audited; it fails closed.

    Built-in: ``ethos.builtin.context_visibility``: the configured ``contextVisibility`` (default ``allowlist``).

    Example::

        @hookimpl
        def ethos_context_visibility(message, policy, ctx):
            return ContextVisibility.ALLOWLIST  # never show non-allowlisted quotes
    """


@hookspec
def ethos_provenance(content: Content, ctx: Context) -> ProvenanceVerdict | None:
    """Stage 4 (provenance): for every span of text before it enters the model's context (channel text, quotes, tool output).

    Called: stage 4 (provenance): for every span of text before it enters the model's context (channel text, quotes, tool output).

    Parameters:
        ``content``: the text and its source label
        ``ctx``: personality (``injectionDefense``) and session

    Returns: a :class:`ProvenanceVerdict` (untrusted, flagged, quarantine, signals).

    None means: no narrowing from this plugin.

    Combining: booleans are OR-ed and signals united: a plugin can mark more content untrusted or flagged, never less.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception or a wrongly typed return is treated as DENY (or, for transforms, the strictest result) from this plugin and audited; it fails closed.

    Built-in: ``ethos.builtin.provenance``: everything but owner text is untrusted; tier-1 injection signals flag it.

    Example::

        @hookimpl
        def ethos_provenance(content, ctx):
            if "BEGIN PROMPT" in content.text:
                return ProvenanceVerdict(untrusted=True, flagged=True, signals=("mypack.prompt_marker",))
    """


@hookspec
def ethos_watch(event: AgentEvent, ctx: Context) -> None:
    """Stage 5 (watch): for every AgentEvent of a session (model text, tool start/end, usage, errors, approvals, done), off the agent's call path.

    Called: stage 5 (watch): for every AgentEvent of a session (model text, tool start/end, usage, errors, approvals, done), off the agent's call path.

    Parameters:
        ``event``: the event
        ``ctx``: personality and session

    Returns: nothing; observers record, the watcher policy stage (11) decides.

    None means: nothing to return; observers only.

    Combining: every implementation is called; return values are ignored.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception is logged and audited; it never changes what the built-in decided.

    Built-in: ``ethos.builtin.watch``: feeds the out-of-band watcher's per-session state.

    Example::

        @hookimpl
        def ethos_watch(event, ctx):
            metrics.count(event.kind)
    """


@hookspec
def ethos_filter_toolset(tools: frozenset[str], ctx: Context) -> frozenset[str] | None:
    """Stage 6 (filter toolset): whenever the set of tools offered to the model is computed (each turn) and before every tool call.

    Called: stage 6 (filter toolset): whenever the set of tools offered to the model is computed (each turn) and before every tool call.

    Parameters:
        ``tools``: every registered tool name
        ``ctx``: personality and session

    Returns: the subset of ``tools`` this plugin allows.

    None means: no narrowing from this plugin.

    Combining: the sets are intersected: a plugin can remove tools, never add one (names it returns that are not in the built-in's set are ignored).

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception or a wrongly typed return is treated as DENY (or, for transforms, the strictest result) from this plugin and audited; it fails closed.

    Built-in: ``ethos.builtin.filter_toolset``: the personality's ``toolset.yaml``; a missing, empty or comments-only file means no tools.

    Example::

        @hookimpl
        def ethos_filter_toolset(tools, ctx):
            return tools - {"shell"}
    """


@hookspec
def ethos_hardline(call: ToolCall, ctx: Context) -> Decision | None:
    """Stage 7 (hardline): for every tool call that survived the toolset filter.

    Called: stage 7 (hardline): for every tool call that survived the toolset filter.

    Parameters:
        ``call``: the tool call as the model requested it
        ``ctx``: personality and session

    Returns: a :class:`Decision` for stage ``hardline``; DENY here can never be approved.

    None means: no opinion; the built-in and other plugins decide.

    Combining: strictest verdict wins; a DENY ends the action.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception or a wrongly typed return is treated as DENY (or, for transforms, the strictest result) from this plugin and audited; it fails closed.

    Built-in: ``ethos.builtin.hardline``: always-deny operations on a real shell parse (rm of /, mkfs, fork bombs, reverse shells, reading the floor).

    Example::

        @hookimpl
        def ethos_hardline(call, ctx):
            if call.name == "shell" and "terraform destroy" in call.args.get("command", ""):
                return Decision.deny(Stage.HARDLINE, "mypack.terraform_destroy", "never destroy infra")
    """


@hookspec
def ethos_classify_risk(call: ToolCall, ctx: Context) -> Decision | None:
    """Stage 8 (classify risk): for every tool call that passed the hardline blocklist.

    Called: stage 8 (classify risk): for every tool call that passed the hardline blocklist.

    Parameters:
        ``call``: the tool call
        ``ctx``: personality (``approvalMode``) and session

    Returns: a :class:`Decision` for stage ``classify_risk`` with ``risk`` set (low, medium, high); APPROVE sends the call to stage 12.

    None means: no opinion; the built-in and other plugins decide.

    Combining: strictest verdict wins.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception or a wrongly typed return is treated as DENY (or, for transforms, the strictest result) from this plugin and audited; it fails closed.

    Built-in: ``ethos.builtin.classify_risk``: tier-1 rules with stable ids; tier-2 review only under ``approvalMode: smart``.

    Example::

        @hookimpl
        def ethos_classify_risk(call, ctx):
            if call.name == "deploy":
                return Decision.approve(Stage.CLASSIFY_RISK, "mypack.deploy", "deploys need a human", risk="high")
    """


@hookspec
def ethos_fs_boundary(access: PathAccess, ctx: Context) -> Decision | None:
    """Stage 9 (fs boundary): for every path argument of a tool call and every file operation through ScopedStorage.

    Called: stage 9 (fs boundary): for every path argument of a tool call and every file operation through ScopedStorage.

    Parameters:
        ``access``: the requested path (unresolved) and the operation (read/write)
        ``ctx``: personality (``fs_reach``) and session

    Returns: a :class:`Decision` for stage ``fs_boundary``.

    None means: no opinion; the built-in and other plugins decide.

    Combining: strictest verdict wins.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception or a wrongly typed return is treated as DENY (or, for transforms, the strictest result) from this plugin and audited; it fails closed.

    Built-in: ``ethos.builtin.fs_boundary``: fs_reach plus the always-deny floor, judged lexically and on the resolved target.

    Example::

        @hookimpl
        def ethos_fs_boundary(access, ctx):
            if access.op == "write" and access.path.endswith(".py"):
                return Decision.approve(Stage.FS_BOUNDARY, "mypack.py_write", "code edits need review")
    """


@hookspec
def ethos_network_reach(access: UrlAccess, ctx: Context) -> Decision | None:
    """Stage 10 (network reach): for every URL argument of a tool call and every hop of the safe fetch.

    Called: stage 10 (network reach): for every URL argument of a tool call and every hop of the safe fetch.

    Parameters:
        ``access``: the URL, method and optional DNS stand-in
        ``ctx``: personality (``safety.networkReach``) and session

    Returns: a :class:`Decision` for stage ``network_reach``.

    None means: no opinion; the built-in and other plugins decide.

    Combining: strictest verdict wins.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception or a wrongly typed return is treated as DENY (or, for transforms, the strictest result) from this plugin and audited; it fails closed.

    Built-in: ``ethos.builtin.network_reach``: scheme allowlist, SSRF and metadata rules on every resolved address, then networkReach.

    Example::

        @hookimpl
        def ethos_network_reach(access, ctx):
            if "pastebin" in access.url:
                return Decision.deny(Stage.NETWORK_REACH, "mypack.pastebin", "no paste sites")
    """


@hookspec
def ethos_watcher_policy(call: ToolCall, ctx: Context) -> Decision | None:
    """Stage 11 (watcher policy): before every tool call, after the watcher has seen every earlier event of the session.

    Called: stage 11 (watcher policy): before every tool call, after the watcher has seen every earlier event of the session.

    Parameters:
        ``call``: the tool call about to run
        ``ctx``: personality (``safety.watcher``) and session

    Returns: a :class:`Decision` for stage ``watcher_policy``: ALLOW, APPROVE (pause / force approval) or DENY (terminate).

    None means: no opinion; the built-in and other plugins decide.

    Combining: strictest verdict wins.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception or a wrongly typed return is treated as DENY (or, for transforms, the strictest result) from this plugin and audited; it fails closed.

    Built-in: ``ethos.builtin.watcher_policy``: rate, token and cost budgets, compounding errors, loops, suspicious sequences.

    Example::

        @hookimpl
        def ethos_watcher_policy(call, ctx):
            if ctx.turn > 50:
                return Decision.deny(Stage.WATCHER_POLICY, "mypack.long_session", "session too long")
    """


@hookspec
def ethos_approval(request: ApprovalRequest, ctx: Context) -> Decision | None:
    """Stage 12 (approval): after stages 7–11, when none of them denied.

    Called: stage 12 (approval): after stages 7–11, when none of them denied.

    Parameters:
        ``request``: the call and every non-ALLOW decision of stages 7–11
        ``ctx``: personality (``approvalMode``) and session

    Returns: a :class:`Decision` for stage ``approval``: ALLOW (run), APPROVE (ask an authorised human) or DENY.

    None means: no opinion; the built-in and other plugins decide.

    Combining: strictest verdict wins; APPROVE is then resolved by the engine's Approver, and no answer or a timeout denies.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception or a wrongly typed return is treated as DENY (or, for transforms, the strictest result) from this plugin and audited; it fails closed.

    Built-in: ``ethos.builtin.approval``: ``manual`` asks for anything flagged, ``smart`` lets a tier-2 reviewer clear low/medium risk, ``off`` skips prompts for classifier risk only.

    Example::

        @hookimpl
        def ethos_approval(request, ctx):
            if "exfil" in request.call.capabilities:
                return Decision.approve(Stage.APPROVAL, "mypack.exfil", "egress needs a human")
    """


@hookspec
def ethos_redact(text: str, ctx: Context) -> Sequence[RedactionSpan] | None:
    """Stage 13 (redact): for every string that leaves the trust boundary: tool results and errors, audit data, outbound messages, logs.

    Called: stage 13 (redact): for every string that leaves the trust boundary: tool results and errors, audit data, outbound messages, logs.

    Parameters:
        ``text``: the text to scan
        ``ctx``: personality and session

    Returns: spans of ``text`` to replace by ``[REDACTED:<label>]``.

    None means: no narrowing from this plugin.

    Combining: the spans of every implementation are united (overlaps merged): a plugin can redact more, never less.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception or a wrongly typed return is treated as DENY (or, for transforms, the strictest result) from this plugin and audited; it fails closed.

    Built-in: ``ethos.builtin.redact``: credential patterns and known secret values (also base64, URL-encoded and hex forms).

    Example::

        @hookimpl
        def ethos_redact(text, ctx):
            return [RedactionSpan(m.start(), m.end(), "mypack.ticket") for m in TICKET.finditer(text)]
    """


@hookspec
def ethos_wrap_untrusted(result: ToolResult, ctx: Context) -> ProvenanceVerdict | None:
    """Stage 14 (wrap untrusted): for every tool result (success or error) before it returns to the model.

    Called: stage 14 (wrap untrusted): for every tool result (success or error) before it returns to the model.

    Parameters:
        ``result``: the (already redacted) tool result
        ``ctx``: personality and session

    Returns: a :class:`ProvenanceVerdict`; ``untrusted`` wraps the result in provenance markers and arms the tool downgrade.

    None means: no narrowing from this plugin.

    Combining: booleans OR-ed, signals united: a plugin can mark more results untrusted, never fewer.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: an exception or a wrongly typed return is treated as DENY (or, for transforms, the strictest result) from this plugin and audited; it fails closed.

    Built-in: ``ethos.builtin.wrap_untrusted``: results of tools tagged ``untrusted_output``, skills, and errors carrying outside text are untrusted.

    Example::

        @hookimpl
        def ethos_wrap_untrusted(result, ctx):
            if result.tool == "jira_read":
                return ProvenanceVerdict(untrusted=True)
    """


@hookspec
def ethos_audit(event: AuditEvent) -> None:
    """Stage 15 (audit): for every audit event, after redaction; always runs, also after a DENY.

    Called: stage 15 (audit): for every audit event, after redaction; always runs, also after a DENY.

    Parameters:
        ``event``: the redacted event

    Returns: nothing.

    None means: nothing to return; the event was handed to this sink.

    Combining: every implementation is called (a union of sinks); a failing plugin sink never blocks the built-in write, a failing built-in write denies the action.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: a failing plugin sink is reported in ``ethos health`` and never blocks the built-in write; a failing built-in write denies the action (fail closed).

    Built-in: ``ethos.builtin.audit``: writes the event to ``observability.db``.

    Example::

        @hookimpl
        def ethos_audit(event):
            my_siem.send(event.category, dict(event.data))
    """


# -------------------- lifecycle hooks --------------------

@hookspec(historic=True)
def ethos_configure(config: GlobalConfig) -> None:
    """Once at startup after configuration loaded (historic: plugins registered later are called too).

    Called: once at startup after configuration loaded (historic: plugins registered later are called too).

    Parameters:
        ``config``: the validated, frozen global configuration

    Returns: nothing.

    None means: nothing to return.

    Combining: every implementation is called.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: a policy plugin raising here aborts startup (fail closed); a skill raising is skipped and audited.

    Built-in: none.

    Example::

        @hookimpl
        def ethos_configure(config):
            STATE.home = config.home
    """


@hookspec
def ethos_register_tools(registry: ToolRegistry) -> None:
    """Once at startup, before seal, for plugins and skills.

    Called: once at startup, before seal, for plugins and skills.

    Parameters:
        ``registry``: register tools with ``registry.add(spec, handler)``; a name clash is an error, never a rename

    Returns: nothing.

    None means: nothing to return.

    Combining: every implementation is called.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: a policy plugin raising here aborts startup (fail closed); a skill raising is skipped and audited.

    Built-in: ``ethos.builtin.tools`` registers the built-in file and web tools.

    Example::

        @hookimpl
        def ethos_register_tools(registry):
            registry.add(ToolSpec(name="weather", description="…", capabilities={"network"}), weather)
    """


@hookspec
def ethos_secret_resolvers() -> Sequence[SecretResolver] | None:
    """Once at startup, before ``${secrets:ref}`` values in configuration are resolved.

    Called: once at startup, before ``${secrets:ref}`` values in configuration are resolved.

    Parameters:
        (none)

    Returns: resolver objects with a ``name`` and ``resolve(ref) -> str | None``.

    None means: this plugin contributes nothing.

    Combining: all lists are concatenated; the first resolver that knows a ref answers.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: a policy plugin raising here aborts startup (fail closed); a skill raising is skipped and audited.

    Built-in: env and file resolvers.

    Example::

        @hookimpl
        def ethos_secret_resolvers():
            return [MyVaultResolver()]
    """


@hookspec
def ethos_channel_adapters() -> Sequence[ChannelAdapterFactory] | None:
    """Once when the gateway starts.

    Called: once when the gateway starts.

    Parameters:
        (none)

    Returns: adapter factories, each with a ``platform`` name.

    None means: this plugin contributes nothing.

    Combining: all lists are concatenated; two adapters for one platform is an error.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: a policy plugin raising here aborts startup (fail closed); a skill raising is skipped and audited.

    Built-in: the local ``cli`` channel.

    Example::

        @hookimpl
        def ethos_channel_adapters():
            return [TelegramAdapterFactory()]
    """


@hookspec
def ethos_llm_providers() -> Sequence[LLMProviderFactory] | None:
    """Once at startup.

    Called: once at startup.

    Parameters:
        (none)

    Returns: provider factories, each with a ``name``.

    None means: this plugin contributes nothing.

    Combining: all lists are concatenated; a duplicate name is an error.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: a policy plugin raising here aborts startup (fail closed); a skill raising is skipped and audited.

    Built-in: the ``scripted`` provider.

    Example::

        @hookimpl
        def ethos_llm_providers():
            return [MyProviderFactory()]
    """


@hookspec
def ethos_scan_rules() -> Sequence[ScanRule] | None:
    """Once when the install-time scanner starts.

    Called: once when the install-time scanner starts.

    Parameters:
        (none)

    Returns: extra scanner rules (they can only add findings).

    None means: this plugin contributes nothing.

    Combining: all lists are concatenated.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: a policy plugin raising here aborts startup (fail closed); a skill raising is skipped and audited.

    Built-in: the scanner's own rule set.

    Example::

        @hookimpl
        def ethos_scan_rules():
            return [NoTelemetryRule()]
    """


@hookspec
def ethos_audit_sinks() -> Sequence[AuditSink] | None:
    """Once at startup.

    Called: once at startup.

    Parameters:
        (none)

    Returns: off-host sinks receiving every redacted event.

    None means: this plugin contributes nothing.

    Combining: all lists are concatenated (a union of sinks); a failing sink never blocks the local write.

    Order: implementations run in an unspecified order; nothing may depend on it.

    Exceptions: a policy plugin raising here aborts startup (fail closed); a skill raising is skipped and audited.

    Built-in: the JSON Lines sink when configured.

    Example::

        @hookimpl
        def ethos_audit_sinks():
            return [SyslogSink()]
    """
