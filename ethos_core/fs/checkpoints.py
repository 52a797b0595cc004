"""File-edit checkpoints: before-states of what the agent changes, and a one-command undo.

Invariant: before ScopedStorage modifies or deletes a regular file on the agent's behalf, the
file's content and mode are stored content-addressed (``blobs/<sha256>``) under
``$ETHOS_HOME/checkpoints`` and the change is recorded in the manifest of its change set
(personality, session, turn) together with the hash of what the agent left behind. A
rollback restores a change set only when *every* file in it still holds exactly what the agent
wrote; otherwise it changes nothing and names each file that differs (a human or another
turn edited it since). The checkpoint directory is on the always-deny floor, so the agent can
neither read nor forge it.

What it does not cover: directories the agent created (they are left in place), files changed
by anything but ScopedStorage (the shell tool), and file metadata beyond the permission bits.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets as _secrets
import stat
import threading
import time
from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class ChangeKey:
    """Which change set an edit belongs to."""

    personality: str
    session: str
    turn: int


@attrs.frozen
class FileChange:
    """One file in a change set: hashes of the before and after content (None = absent)."""

    path: str
    before: str | None
    before_mode: int | None
    after: str | None


@attrs.frozen
class ChangeSet:
    id: str
    personality: str
    session: str
    turn: int
    created: float
    rolled_back: float | None
    files: tuple[FileChange, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "personality": self.personality,
            "session": self.session,
            "turn": self.turn,
            "created": self.created,
            "rolled_back": self.rolled_back,
            "files": [attrs.asdict(f) for f in self.files],
        }


@attrs.frozen
class Conflict:
    path: str
    reason: str


@attrs.frozen
class RollbackReport:
    """Outcome of a rollback: ``ok`` only when every file was restored."""

    change_set: ChangeSet | None
    restored: tuple[str, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.change_set is not None and not self.conflicts

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "change_set": self.change_set.to_json() if self.change_set else None,
            "restored": list(self.restored),
            "conflicts": [attrs.asdict(c) for c in self.conflicts],
        }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class CheckpointStore:
    """Blobs and change-set manifests under ``root`` (``$ETHOS_HOME/checkpoints``). Thread-safe."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.sets = self.root / "sets"
        self._lock = threading.Lock()
        self._open: dict[ChangeKey, Path] = {}

    # --- recording (called by ScopedStorage) ------------------------------------------------

    def record_before(self, key: ChangeKey, path: str, content: bytes | None, mode: int | None) -> None:
        """Remember ``path``'s state before its first change in ``key`` (later calls are no-ops)."""
        with self._lock:
            manifest = self._load_or_new(key)
            if any(f["path"] == path for f in manifest["files"]):
                return
            digest = self._put_blob(content) if content is not None else None
            manifest["files"].append({"path": path, "before": digest, "before_mode": mode, "after": digest})
            self._save(key, manifest)

    def record_after(self, key: ChangeKey, path: str, content: bytes | None) -> None:
        """Remember what the agent left at ``path`` (None = deleted)."""
        with self._lock:
            manifest = self._load_or_new(key)
            for entry in manifest["files"]:
                if entry["path"] == path:
                    entry["after"] = sha256(content) if content is not None else None
                    self._save(key, manifest)
                    return

    # --- reading ----------------------------------------------------------------------------

    def change_sets(
        self, *, personality: str | None = None, session: str | None = None, include_rolled_back: bool = False
    ) -> list[ChangeSet]:
        """Change sets, oldest first, optionally filtered."""
        out: list[ChangeSet] = []
        if not self.sets.is_dir():
            return out
        for file in sorted(self.sets.glob("*.json")):
            try:
                change_set = _parse(json.loads(file.read_text("utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if personality is not None and change_set.personality != personality:
                continue
            if session is not None and change_set.session != session:
                continue
            if change_set.rolled_back is not None and not include_rolled_back:
                continue
            if not change_set.files:
                continue
            out.append(change_set)
        return out

    def select(
        self, *, turn: int | None = None, personality: str | None = None, session: str | None = None
    ) -> ChangeSet | None:
        """``turn=None``: the newest change set not rolled back. With ``turn``: that turn of
        ``session`` (default: the newest session that has edits)."""
        candidates = self.change_sets(personality=personality, session=session)
        if not candidates:
            return None
        if turn is None:
            return candidates[-1]
        if session is None:
            session = candidates[-1].session
        matching = [c for c in candidates if c.session == session and c.turn == turn]
        return matching[-1] if matching else None

    def blob(self, digest: str) -> bytes:
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError("not a checkpoint digest")
        return (self.blobs / digest[:2] / digest).read_bytes()

    # --- rollback ---------------------------------------------------------------------------

    def rollback(self, change_set: ChangeSet, *, dry_run: bool = False) -> RollbackReport:
        """Restore every file of ``change_set`` to its before-state, or nothing on any conflict."""
        conflicts = []
        for change in change_set.files:
            problem = _current_matches(change)
            if problem is not None:
                conflicts.append(Conflict(change.path, problem))
        if conflicts or dry_run:
            return RollbackReport(change_set, (), tuple(conflicts), dry_run)
        restored = []
        for change in reversed(change_set.files):
            self._restore(change)
            restored.append(change.path)
        with self._lock:
            file = self._manifest_file(change_set.id)
            data = json.loads(file.read_text("utf-8"))
            data["rolled_back"] = time.time()
            _atomic_write(file, json.dumps(data, indent=1).encode())
            self._open = {k: v for k, v in self._open.items() if v != file}
        return RollbackReport(change_set, tuple(restored), (), False)

    def _restore(self, change: FileChange) -> None:
        path = Path(change.path)
        if change.before is None:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, self.blob(change.before), mode=change.before_mode)

    # --- storage ----------------------------------------------------------------------------

    def _ensure_dirs(self) -> None:
        for directory in (self.root, self.blobs, self.sets):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _put_blob(self, content: bytes) -> str:
        digest = sha256(content)
        target = self.blobs / digest[:2] / digest
        if not target.exists():
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _atomic_write(target, content, mode=0o600)
        return digest

    def _manifest_file(self, set_id: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", set_id):
            raise ValueError("not a change-set id")
        return self.sets / f"{set_id}.json"

    def _load_or_new(self, key: ChangeKey) -> dict[str, Any]:
        self._ensure_dirs()
        file = self._open.get(key)
        if file is not None and file.exists():
            data: dict[str, Any] = json.loads(file.read_text("utf-8"))
            if data.get("rolled_back") is None:
                return data
        set_id = f"{time.time_ns():020d}-{_secrets.token_hex(4)}"
        self._open[key] = self._manifest_file(set_id)
        return {
            "id": set_id,
            "personality": key.personality,
            "session": key.session,
            "turn": key.turn,
            "created": time.time(),
            "rolled_back": None,
            "files": [],
        }

    def _save(self, key: ChangeKey, manifest: dict[str, Any]) -> None:
        _atomic_write(self._open[key], json.dumps(manifest, indent=1).encode(), mode=0o600)


def _parse(data: dict[str, Any]) -> ChangeSet:
    return ChangeSet(
        id=str(data["id"]),
        personality=str(data["personality"]),
        session=str(data["session"]),
        turn=int(data["turn"]),
        created=float(data["created"]),
        rolled_back=None if data.get("rolled_back") is None else float(data["rolled_back"]),
        files=tuple(
            FileChange(str(f["path"]), f.get("before"), f.get("before_mode"), f.get("after")) for f in data["files"]
        ),
    )


def _current_matches(change: FileChange) -> str | None:
    """None when ``change.path`` holds exactly what the agent left; else why not."""
    try:
        st = os.lstat(change.path)
    except FileNotFoundError:
        if change.after is None:
            return None
        return "the file was deleted after the agent wrote it"
    if change.after is None:
        return "the file was re-created after the agent deleted it"
    if not stat.S_ISREG(st.st_mode):
        return "the path is no longer a regular file"
    with open(change.path, "rb") as f:
        current = sha256(f.read())
    if current != change.after:
        return "the file was changed after the agent wrote it"
    return None


def _atomic_write(path: Path, data: bytes, mode: int | None = 0o600) -> None:
    tmp = path.with_name(f".{path.name[:200]}.ethos-{_secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

