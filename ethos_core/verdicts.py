"""The verdict lattice ``ALLOW < APPROVE < DENY`` and the narrow-only reducers.

Invariant: a reduction over the built-in's result and any number of plugin results is never
weaker than the built-in's result alone. Every reducer here is monotone in that sense.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Verdict(enum.IntEnum):
    """Outcome of a decision stage. Integer order *is* strictness order."""

    ALLOW = 0
    APPROVE = 1
    DENY = 2

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Verdict:
        """``"allow"`` / ``"approve"`` / ``"deny"`` (any case) to a Verdict."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown verdict {text!r}; expected allow, approve or deny") from None


def intersect_allowed(base: frozenset[str], narrowings: Iterable[frozenset[str]]) -> frozenset[str]:
    """Allowed set after plugins narrow it: anything a plugin omits is removed, nothing is added."""
    allowed = base
    for subset in narrowings:
        allowed = allowed & subset
    return allowed
