"""The fifteen runtime stages, in the fixed order the pipeline runs them.

The order is part of the contract: cheap checks come first, a DENY at one stage ends the
action, and the audit stage (15) always runs. Hook names are derived from this enum, so
adding a stage means adding a hookspec of the same name (the contract suite checks it).
"""

from __future__ import annotations

import enum


class Stage(enum.Enum):
    """One runtime stage. ``value`` is the stable id used in decisions, audit rows and docs."""

    CHANNEL_ADMIT = "channel_admit"
    MENTION_GATE = "mention_gate"
    CONTEXT_VISIBILITY = "context_visibility"
    PROVENANCE = "provenance"
    WATCH = "watch"
    FILTER_TOOLSET = "filter_toolset"
    HARDLINE = "hardline"
    CLASSIFY_RISK = "classify_risk"
    FS_BOUNDARY = "fs_boundary"
    NETWORK_REACH = "network_reach"
    WATCHER_POLICY = "watcher_policy"
    APPROVAL = "approval"
    REDACT = "redact"
    WRAP_UNTRUSTED = "wrap_untrusted"
    AUDIT = "audit"

    @property
    def number(self) -> int:
        """1-based position in the pipeline (① … ⑮)."""
        return STAGE_ORDER.index(self) + 1

    @property
    def hook_name(self) -> str:
        """Name of the hookspec implementing this stage, e.g. ``ethos_hardline``."""
        return _HOOK_NAMES[self]

    @property
    def builtin_name(self) -> str:
        """Reserved plugin name of the built-in floor for this stage."""
        return _BUILTIN_NAMES[self]


BUILTIN_PREFIX = "ethos.builtin."
STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)
# Computed once: these names are looked up on every stage run.
_HOOK_NAMES: dict[Stage, str] = {stage: f"ethos_{stage.value}" for stage in Stage}
_BUILTIN_NAMES: dict[Stage, str] = {stage: f"{BUILTIN_PREFIX}{stage.value}" for stage in Stage}

# Stages whose hooks return a Decision (or None) and are reduced strictest-wins.
DECISION_STAGES: frozenset[Stage] = frozenset(
    {
        Stage.CHANNEL_ADMIT,
        Stage.MENTION_GATE,
        Stage.HARDLINE,
        Stage.CLASSIFY_RISK,
        Stage.FS_BOUNDARY,
        Stage.NETWORK_REACH,
        Stage.WATCHER_POLICY,
        Stage.APPROVAL,
    }
)
