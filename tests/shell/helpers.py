"""Shared helpers for the shell tests: judge a command the way ``ethos check command`` does."""

from __future__ import annotations

from ethos_core.shell import judge_hardline, judge_risk
from ethos_core.types import Context, Decision, Personality, ToolCall

HOME = "/home/dev"
ETHOS_HOME = "/home/dev/.ethos"
CTX = Context(Personality(id="x", directory="/tmp/x"))


def call(command: str, cwd: str | None = None) -> ToolCall:
    return ToolCall("shell", {"command": command}, capabilities={"exec"}, cwd=cwd)


def hardline(command: str, cwd: str | None = None) -> Decision:
    return judge_hardline(call(command, cwd), CTX, home=HOME, ethos_home=ETHOS_HOME)


def risk(command: str, cwd: str | None = None) -> Decision:
    return judge_risk(call(command, cwd), CTX, home=HOME, ethos_home=ETHOS_HOME)


def denied_by(command: str, rule: str, cwd: str | None = None) -> bool:
    decision = hardline(command, cwd)
    return decision.denied and decision.rule == rule
