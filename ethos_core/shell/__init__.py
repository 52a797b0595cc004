"""Shell and tool-call safety: the engine behind stages ⑦ (hardline) and ⑧ (risk classifier).

Invariant: a tool call is a *command* when it is named ``shell`` or declares the ``exec``
capability and carries a string ``command`` argument (a list is joined as an argv). Every
command is judged on a real bash parse of what would run (see :mod:`.analyze`), never on the
string the model typed. Hardline findings deny whatever the configuration; anything the
parser cannot judge is denied too. Risk findings above ``low`` ask for approval.

What it does not cover: exec-capable tools without a ``command`` argument (they are sent to
approval as ``risk.unjudged_exec``), and anything a program does beyond its command line.

Public API (used by ``ethos_core/builtin/hardline.py`` and ``classify_risk.py``):
``command_of(call)``, ``judge_hardline(call, ctx, home, ethos_home)``,
``judge_risk(call, ctx, home, ethos_home)``, and :func:`analyze.analyze` for tools; the engine
and ``ethos check command`` send what :func:`network.network_accesses` finds to stage ⑩.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from ethos_core.shell.analyze import DYN, Analysis, analyze
from ethos_core.shell.hardline import RULE_REASONS, hardline_findings
from ethos_core.shell.network import NetworkTargets, network_accesses, network_targets
from ethos_core.shell.risk import overall, risk_findings
from ethos_core.stages import Stage
from ethos_core.types import Capability, Context, Decision, ToolCall

__all__ = ["Analysis", "analyze", "command_of", "is_command_call", "judge_hardline", "judge_risk", "DYN",
           "NetworkTargets", "network_accesses", "network_targets"]


def is_command_call(call: ToolCall) -> bool:
    return call.name == "shell" or (Capability.EXEC in call.capabilities and "command" in call.args)


def command_of(call: ToolCall) -> str | None:
    """The command line a call would run, or None for calls that are not commands."""
    if not is_command_call(call):
        return None
    value: Any = call.args.get("command")
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return shlex.join(value)
    return None


def _home() -> str:
    return os.path.expanduser("~")


def _evidence(command: str, **extra: Any) -> dict[str, Any]:
    shown = command if len(command) <= 500 else command[:500] + "…"
    return {"command": shown, **extra}


# Decisions are frozen: the common ALLOWs are shared objects (the pipeline stamps each once).
_NOT_A_COMMAND = Decision.allow(Stage.HARDLINE, "hardline.none", "not a command")
_NO_COMMAND_ARG = Decision.allow(Stage.HARDLINE, "hardline.none", "no command argument to judge")
_NO_HARDLINE_RULE = Decision.allow(Stage.HARDLINE, "hardline.none", "no hardline rule matched")
_LOW_RISK = Decision.allow(Stage.CLASSIFY_RISK, "risk.low", "no risk rule matched", risk="low")


def judge_hardline(call: ToolCall, ctx: Context, home: str | None = None, ethos_home: str | None = None) -> Decision:
    """Stage ⑦ decision for ``call``: DENY with the first hardline rule, else ALLOW ``hardline.none``."""
    if not is_command_call(call):
        return _NOT_A_COMMAND
    command = command_of(call)
    if command is None:
        if call.name == "shell":
            return Decision.deny(Stage.HARDLINE, "shell.unparseable", "the shell tool needs a string command")
        return _NO_COMMAND_ARG
    analysis = analyze(command, call.cwd, home or _home(), ethos_home)
    findings = hardline_findings(analysis)
    if not findings:
        return _NO_HARDLINE_RULE
    first = findings[0]
    base = RULE_REASONS.get(first.rule, "")
    reason = f"{base}: {first.reason}" if base else first.reason
    return Decision.deny(
        Stage.HARDLINE,
        first.rule,
        reason,
        risk="hardline",
        evidence=_evidence(
            command,
            rules=sorted({f.rule for f in findings}),
            matched=list(first.command),
            via=list(first.via),
        ),
    )


def judge_risk(call: ToolCall, ctx: Context, home: str | None = None, ethos_home: str | None = None) -> Decision:
    """Stage ⑧ decision for ``call``: APPROVE with the highest tier-1 finding above low, else ALLOW."""
    if not is_command_call(call):
        if Capability.EXEC in call.capabilities:
            return Decision.approve(Stage.CLASSIFY_RISK, "risk.unjudged_exec",
                                    "the tool runs code that cannot be inspected", risk="medium")
        return _LOW_RISK
    command = command_of(call)
    if command is None:
        return Decision.approve(Stage.CLASSIFY_RISK, "risk.unjudged_exec", "no command string to inspect",
                                risk="high")
    analysis = analyze(command, call.cwd, home or _home(), ethos_home)
    findings = risk_findings(analysis)
    top = overall(findings)
    if top is None:
        return _LOW_RISK
    return Decision.approve(
        Stage.CLASSIFY_RISK,
        top.rule,
        top.reason,
        risk=top.level,
        evidence=_evidence(
            command,
            rules=sorted({f"{f.rule}:{f.level}" for f in findings if f.level != "low"}),
            matched=list(top.command),
            via=list(top.via),
        ),
    )
