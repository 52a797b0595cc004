"""Post-read tool downgrade: after untrusted content enters, egress and execution wait.

Invariant: once :meth:`DowngradeState.note_untrusted` is called for turn ``T``, every call to a
tool whose capabilities include ``exfil``, ``exec`` or ``send_message`` (or that declares egress
hosts, or is named in ``extra_tools``) gets an APPROVE decision with rule ``tool_downgraded`` in
turns ``T`` … ``T + turns`` inclusive; from turn ``T + turns + 1`` on it is released (unless more
untrusted content arrived meanwhile, which re-arms the window). With the default ``turns=2``,
a poisoned email read in turn 5 holds ``web_post`` in turns 5, 6 and 7 and releases it in 8.

Why APPROVE and not DENY: the owner can approve one call (the approval stage asks a human; no
approver or a timeout denies, audited as ``audit.block`` / ``tool_downgraded``). The decision is
stage ``wrap_untrusted`` with ``risk="high"``, so ``approvalMode: off`` — which only relaxes the
risk classifier's own flags — still asks. The reason tells the model why.

Tools are chosen by capability tag, never by a list of names. Not covered: tools that move data
out without declaring it (that is the toolset's and network stage's job).
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ethos_core.stages import Stage
from ethos_core.types import Capability, Decision

DOWNGRADE_RULE = "tool_downgraded"
DOWNGRADED_CAPABILITIES = frozenset({Capability.EXFIL, Capability.EXEC, Capability.SEND_MESSAGE})


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


@attrs.define
class DowngradeState:
    """Per-session downgrade window. ``turns`` from ``safety.downgrade``; extra tools by name."""

    turns: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    extra_tools: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    capabilities: frozenset[str] = attrs.field(default=DOWNGRADED_CAPABILITIES, converter=_names)
    last_untrusted_turn: int | None = None
    sources: list[str] = attrs.field(factory=list)

    def note_untrusted(self, turn: int, source: str = "") -> None:
        """Untrusted content entered the context in ``turn`` (re-arms the window)."""
        if self.last_untrusted_turn is None or turn >= self.last_untrusted_turn:
            self.last_untrusted_turn = turn
        if source and source not in self.sources:
            self.sources = [*self.sources[-7:], source]

    def active(self, turn: int) -> bool:
        """True while tools are held: ``T <= turn <= T + turns``."""
        t = self.last_untrusted_turn
        return t is not None and t <= turn <= t + self.turns

    def release_turn(self) -> int | None:
        """First turn in which held tools are offered again (``None`` if nothing is held)."""
        return None if self.last_untrusted_turn is None else self.last_untrusted_turn + self.turns + 1

    def is_downgraded_tool(self, name: str, capabilities: Iterable[str], *, egress: bool = False) -> bool:
        return egress or name in self.extra_tools or bool(self.capabilities & frozenset(capabilities))

    def check(self, call_name: str, capabilities: Iterable[str], turn: int, *, egress: bool = False) -> Decision | None:
        """APPROVE (``tool_downgraded``) while the window is active for this kind of tool."""
        if not self.active(turn) or not self.is_downgraded_tool(call_name, capabilities, egress=egress):
            return None
        caps = sorted(frozenset(capabilities) & self.capabilities) or (["egress"] if egress else ["listed"])
        origin = ", ".join(self.sources) or "an untrusted source"
        reason = (
            f"'{call_name}' ({'/'.join(caps)}) is held back because untrusted content from {origin} entered "
            f"the conversation in turn {self.last_untrusted_turn}; it is released in turn {self.release_turn()}. "
            "The owner can approve this single call."
        )
        return Decision.approve(
            Stage.WRAP_UNTRUSTED,
            DOWNGRADE_RULE,
            reason,
            risk="high",
            evidence={"untrusted_turn": self.last_untrusted_turn, "release_turn": self.release_turn(), "tool": call_name},
        )

    def withheld(self, tools: dict[str, frozenset[str]], turn: int) -> frozenset[str]:
        """Names among ``tools`` (name → capabilities) currently held back, for telling the model."""
        if not self.active(turn):
            return frozenset()
        return frozenset(name for name, caps in tools.items() if self.is_downgraded_tool(name, caps))
