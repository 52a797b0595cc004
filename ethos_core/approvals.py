"""Approvers: who answers when a tool call needs a human.

Contract: :func:`ask` returns an :class:`~ethos_core.types.ApprovalAnswer`; no approver, an
approver that raises, or no answer within the timeout is a denial (fail closed), never an
approval. Approvers are the operator's choice (terminal prompt, chat, a callback); plugins
cannot supply one.
"""

from __future__ import annotations

import concurrent.futures
import sys
from collections.abc import Callable
from typing import Protocol, TextIO

from ethos_core.types import ApprovalAnswer, ApprovalRequest

APPROVAL_SCOPES = ("once", "session", "always")


class Approver(Protocol):
    """Anything that can answer an approval request (blocking)."""

    def request(self, request: ApprovalRequest) -> ApprovalAnswer: ...


class CallbackApprover:
    """Programmatic approver: ``callback(request) -> bool | ApprovalAnswer``."""

    def __init__(self, callback: Callable[[ApprovalRequest], bool | ApprovalAnswer], name: str = "callback"):
        self.callback = callback
        self.name = name

    def request(self, request: ApprovalRequest) -> ApprovalAnswer:
        answer = self.callback(request)
        if isinstance(answer, ApprovalAnswer):
            return answer
        if answer is True:
            return ApprovalAnswer(approved=True, approver=self.name)
        return ApprovalAnswer(approved=False, approver=self.name, reason="declined")


class TerminalApprover:
    """Asks on a terminal: ``y`` / ``s`` (session) / ``a`` (always) approve, anything else denies."""

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None, who: str = "terminal"):
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stderr
        self.who = who

    def request(self, request: ApprovalRequest) -> ApprovalAnswer:
        out = self.stdout
        out.write(f"\nApproval needed for tool {request.call.name!r}\n")
        for decision in request.flagged:
            out.write(f"  - {decision.stage.value} {decision.rule}: {decision.reason}\n")
        out.write("Approve? [y]es once / [s]ession / [a]lways / [N]o: ")
        out.flush()
        line = self.stdin.readline()
        choice = line.strip().lower()
        scope = {"y": "once", "yes": "once", "s": "session", "a": "always"}.get(choice)
        if scope is None:
            return ApprovalAnswer(approved=False, approver=self.who, reason="declined at the terminal")
        return ApprovalAnswer(approved=True, approver=self.who, scope=scope)


def ask(approver: Approver | None, request: ApprovalRequest, timeout: float) -> ApprovalAnswer:
    """Ask ``approver`` with a deadline. Missing approver, error or timeout → denial."""
    if approver is None:
        return ApprovalAnswer(approved=False, reason="no approver is available")
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ethos-approval")
    try:
        future = pool.submit(approver.request, request)
        try:
            answer = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            return ApprovalAnswer(approved=False, reason=f"no answer within {timeout:g}s (timeout is a denial)")
        except Exception as exc:  # noqa: BLE001 - any approver failure is a denial
            return ApprovalAnswer(approved=False, reason=f"approver failed: {type(exc).__name__}")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if not isinstance(answer, ApprovalAnswer):
        return ApprovalAnswer(approved=False, reason="approver returned no answer")
    if answer.approved and answer.scope not in APPROVAL_SCOPES:
        return ApprovalAnswer(approved=False, reason=f"unknown approval scope {answer.scope!r}")
    return answer
