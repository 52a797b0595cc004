"""The filesystem boundary (stage ⑨): path judgment, ScopedStorage, the floor, checkpoints.

Public API:
- :func:`judge_path` / :class:`FsPolicy` — pure judgment of a path for read or write;
- :class:`ScopedStorage` — the only way the agent's tools open files;
- :class:`CheckpointStore` — before-states of agent edits and ``ethos rollback``;
- :func:`fs_services` — the long-lived objects this engine keeps in ``runtime.services``.
"""

from __future__ import annotations

from typing import Any

import attrs

from ethos_core.fs.checkpoints import ChangeKey, CheckpointStore, RollbackReport
from ethos_core.fs.floor import floor_rule, is_env_file
from ethos_core.fs.paths import FsPolicy, judge_path
from ethos_core.fs.scoped import FloorIdentities, ScopedStorage, policy_for


@attrs.frozen
class FsServices:
    checkpoints: CheckpointStore
    identities: FloorIdentities


def fs_services(runtime: Any) -> FsServices:
    """``runtime.services["checkpoints"]`` and ``["fs_identities"]``, created on first use."""
    import os

    services = runtime.services
    store = services.get("checkpoints")
    if store is None:
        store = services["checkpoints"] = CheckpointStore(runtime.home.checkpoints)
    identities = services.get("fs_identities")
    if identities is None:
        identities = services["fs_identities"] = FloorIdentities(os.path.expanduser("~"), str(runtime.home.root))
    return FsServices(store, identities)


__all__ = [
    "ChangeKey",
    "CheckpointStore",
    "FloorIdentities",
    "FsPolicy",
    "FsServices",
    "RollbackReport",
    "ScopedStorage",
    "floor_rule",
    "fs_services",
    "is_env_file",
    "judge_path",
    "policy_for",
]
