"""Helpers: a fake world for filesystem-boundary tests: a user home with a floor file, a workspace in
reach, a directory outside reach and an ethos home with one personality. Everything in tmp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from ethos_core.fs.checkpoints import CheckpointStore
from ethos_core.fs.paths import FsPolicy
from ethos_core.fs.scoped import FloorIdentities, ScopedStorage
from ethos_core.types import AuditEvent


@attrs.define
class World:
    root: Path
    home: Path
    ws: Path
    ro: Path
    outside: Path
    ethos: Path
    pdir: Path
    events: list[AuditEvent] = attrs.field(factory=list)

    def policy(self, **kw: Any) -> FsPolicy:
        args: dict[str, Any] = dict(
            read_roots=[str(self.ro)],
            write_roots=[str(self.ws)],
            personality_dir=str(self.pdir),
            home=str(self.home),
            ethos_home=str(self.ethos),
        )
        args.update(kw)
        return FsPolicy(**args)

    def storage(self, policy: FsPolicy | None = None, **kw: Any) -> ScopedStorage:
        kw.setdefault("emit", self.events.append)
        kw.setdefault("identities", FloorIdentities(str(self.home), str(self.ethos), min_refresh=0, system=False))
        kw.setdefault("checkpoints", CheckpointStore(self.ethos / "checkpoints"))
        kw.setdefault("personality", "p")
        return ScopedStorage(policy or self.policy(), **kw)


def build_world(tmp_path: Path) -> World:
    root = tmp_path.resolve()
    home = root / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY\n")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("[default]\n")
    ws = root / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "notes.txt").write_text("hello\n")
    (ws / "sub" / "deep.txt").write_text("deep\n")
    ro = root / "ro"
    ro.mkdir()
    (ro / "readme.md").write_text("read only\n")
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside secret\n")
    ethos = root / "ethos"
    pdir = ethos / "personalities" / "p"
    (pdir / "data").mkdir(parents=True)
    (pdir / "config.yaml").write_text("fs_reach: {}\n")
    (pdir / "toolset.yaml").write_text("- read_file\n")
    (ethos / "config.yaml").write_text("{}\n")
    (ethos / "state.db").write_bytes(b"SQLite")
    return World(root, home, ws, ro, outside, ethos, pdir)
