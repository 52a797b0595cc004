"""The EthosError hierarchy.

Every error ethos raises on purpose derives from :class:`EthosError`, so integrators can catch
one type. Messages are written for the person who has to act on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs


class EthosError(Exception):
    """Base of every error raised by ethos on purpose."""


# --- configuration -------------------------------------------------------------------------


@attrs.frozen
class ConfigIssue:
    """One problem in one configuration file, pointing at file, line, column and key path."""

    file: str
    line: int | None
    column: int | None
    key_path: str
    message: str
    severity: str = "error"  # "error" or "warning"

    def render(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = f" {self.key_path}:" if self.key_path else ""
        return f"{where}:{key} {self.message}"


class ConfigError(EthosError):
    """One or more configuration errors; all of them are reported at once."""

    def __init__(self, issues: Sequence[ConfigIssue]):
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        super().__init__("\n".join(issue.render() for issue in self.issues))

    @property
    def file(self) -> str | None:
        return self.issues[0].file if self.issues else None

    @property
    def line(self) -> int | None:
        return self.issues[0].line if self.issues else None

    @property
    def column(self) -> int | None:
        return self.issues[0].column if self.issues else None


class SecretResolutionError(EthosError):
    """A ``${secrets:ref}`` could not be resolved (the message never contains a value)."""


# --- plugins -------------------------------------------------------------------------------


class PluginError(EthosError):
    """Base for plugin registration and loading problems."""


class PluginRegistrationError(PluginError):
    """A plugin was refused at registration; nothing was registered."""


class BuiltinRemovalError(PluginError):
    """Something tried to unregister, block or subset away a built-in stage plugin."""


class RegistrationSealedError(PluginError):
    """Registration was attempted after the plugin manager was sealed."""


class PluginLoadError(PluginError):
    """A policy plugin failed to load; startup stops because missing narrowing fails open."""


class EngineIntegrityError(EthosError):
    """A stage's built-in floor is missing or was tampered with; the stage refuses to run."""


class ToolRegistrationError(PluginError):
    """A tool could not be registered (name clash, bad spec)."""


# --- runtime decisions ---------------------------------------------------------------------


class BoundaryError(EthosError):
    """An operation crossed a filesystem, network or capability boundary and was refused.

    ``kind`` is what was attempted (``read``, ``write``, ``fetch``, ``exec``, …), ``target`` is
    the requested (never the resolved) path or URL, ``rule`` the stable rule id.
    """

    def __init__(self, kind: str, target: str, rule: str, reason: str):
        self.kind = kind
        self.target = target
        self.rule = rule
        self.reason = reason
        super().__init__(f"{kind} of {target!r} refused ({rule}): {reason}")


class ActionDenied(EthosError):
    """A pipeline decision denied the action; ``decision`` says which stage, rule and why."""

    def __init__(self, decision: object):
        self.decision = decision
        reason = getattr(decision, "reason", str(decision))
        rule = getattr(decision, "rule", "?")
        stage = getattr(decision, "stage", None)
        stage_name = getattr(stage, "value", stage)
        super().__init__(f"denied by {stage_name} ({rule}): {reason}")


class AuditWriteError(EthosError):
    """The audit store cannot be written; actions are denied until it can (fail closed)."""


class TurnTerminated(EthosError):
    """The watcher (or repeated denials) ended the current turn."""
