"""Shared services the built-in stage plugins are constructed with.

Built-ins are objects (not modules) so each holds exactly the services it needs; plugins never
see this object. ``Runtime`` is assembled by :func:`ethos_core.manager.build_plugin_manager`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from ethos_core.config.model import GlobalConfig


def default_home() -> Path:
    """``$ETHOS_HOME`` or ``~/.ethos``."""
    env = os.environ.get("ETHOS_HOME")
    return Path(env).expanduser() if env else Path.home() / ".ethos"


@attrs.frozen
class HomePaths:
    """Where everything lives inside one ethos home."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def personalities(self) -> Path:
        return self.root / "personalities"

    @property
    def observability_db(self) -> Path:
        return self.root / "observability.db"

    @property
    def state_db(self) -> Path:
        return self.root / "state.db"

    @property
    def skills_lock(self) -> Path:
        return self.root / "skills.lock"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def personality_dir(self, personality_id: str) -> Path:
        return self.personalities / personality_id

    def protected_files(self) -> tuple[Path, ...]:
        """Files the agent may never write (policy it could widen, stores it could forge)."""
        return (
            self.config,
            self.observability_db,
            self.state_db,
            self.skills_lock,
            self.secrets_dir,
            self.checkpoints,
        )


@attrs.define
class Runtime:
    """Services shared by the built-in stage plugins of one engine."""

    home: HomePaths
    config: GlobalConfig = attrs.field(factory=GlobalConfig)
    # Resolved secret values by ref: redaction hides every one of them wherever it appears.
    secret_values: dict[str, str] = attrs.field(factory=dict)
    # Engines attach their services here by name (audit store, watcher, resolver, approver …).
    services: dict[str, Any] = attrs.field(factory=dict)

    def service(self, name: str) -> Any:
        return self.services.get(name)

    def emit(self, event: Any) -> None:
        """Write an :class:`~ethos_core.types.AuditEvent` through redaction (⑬) and audit (⑮).

        The engine installs the real emitter (service ``emit``); without one (unit tests of a
        single engine) events are kept in ``services["audit_memory"]``.
        """
        emitter = self.services.get("emit")
        if emitter is not None:
            emitter(event)
        else:
            self.services.setdefault("audit_memory", []).append(event)
