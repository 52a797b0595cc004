"""``$ETHOS_HOME/skills.lock``: the scanner's record of every vetted distribution, and its check.

Invariant: a record pins distribution, version, tier, scan result, accepted rules and the sha256
of *every file of the distribution on disk* — RECORD entries plus everything found under the
distribution's own top-level directories (so an added file is seen, not only a changed one),
including the bytecode caches of this interpreter (written at install time, before hashing).
:func:`verify_installed` re-hashes the files on disk and answers a reason (prefixed with a
stable rule id) for any missing, changed or added file, or None. The file is JSON, written
atomically (temp file + fsync + rename) with mode 0600; an unreadable lock means no skill loads.

Not covered: files a distribution did not install and that live outside its directories (a new
``.pth`` dropped at the top of site-packages by someone else is not attributed to any skill),
changes between the check and the import (whoever can write site-packages owns the process),
and bytecode caches of *other* interpreters (never loaded by this one, so ignored).
"""

from __future__ import annotations

import compileall
import hashlib
import importlib.metadata as md
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from ethos_core.skills.archive import installed_roots
from ethos_core.skills.manifest import normalize_name

LOCK_VERSION = 1
# pip rewrites these at install time; they are hashed as installed, not compared with the wheel.
INSTALLER_FILES = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})


class LockError(Exception):
    """The lockfile cannot be read or written."""


@attrs.frozen
class LockRecord:
    distribution: str
    version: str
    tier: str
    files: Mapping[str, str]  # path relative to the site directory -> sha256
    scan: Mapping[str, Any] = attrs.field(factory=dict)
    accepted: tuple[Mapping[str, Any], ...] = ()
    manifest: Mapping[str, Any] | None = None
    top_level: tuple[str, ...] = ()
    artifact: Mapping[str, Any] = attrs.field(factory=dict)
    installed_at: str = ""
    installed_by: str = ""

    @property
    def key(self) -> str:
        return normalize_name(self.distribution)

    def to_json(self) -> dict[str, Any]:
        return {
            "distribution": self.distribution, "version": self.version, "tier": self.tier,
            "installed_at": self.installed_at, "installed_by": self.installed_by, "artifact": dict(self.artifact),
            "scan": dict(self.scan), "accepted": [dict(a) for a in self.accepted], "manifest": self.manifest,
            "top_level": list(self.top_level), "files": dict(sorted(self.files.items())),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LockRecord:
        files = data.get("files")
        if not isinstance(files, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise LockError(f"lock record {data.get('distribution')!r}: files must map paths to sha256")
        return cls(
            distribution=str(data["distribution"]), version=str(data["version"]), tier=str(data.get("tier", "untrusted")),
            files=dict(files), scan=dict(data.get("scan") or {}), accepted=tuple(data.get("accepted") or ()),
            manifest=data.get("manifest"), top_level=tuple(data.get("top_level") or ()),
            artifact=dict(data.get("artifact") or {}), installed_at=str(data.get("installed_at", "")),
            installed_by=str(data.get("installed_by", "")),
        )


class SkillsLock:
    """Read and write ``skills.lock`` (one JSON object, records keyed by normalised name)."""

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[str, LockRecord]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != LOCK_VERSION or not isinstance(data.get("skills"), dict):
                raise LockError(f"{self.path}: not a version-{LOCK_VERSION} skills.lock")
            return {normalize_name(k): LockRecord.from_json(v) for k, v in data["skills"].items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LockError(f"{self.path}: unreadable ({type(exc).__name__}: {exc})") from exc

    def get(self, name: str) -> LockRecord | None:
        return self.load().get(normalize_name(name))

    def save(self, records: Mapping[str, LockRecord]) -> None:
        body = json.dumps({"version": LOCK_VERSION, "skills": {k: r.to_json() for k, r in sorted(records.items())}},
                          indent=2, sort_keys=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".skills.lock.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            os.chmod(self.path, 0o600)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put(self, record: LockRecord) -> None:
        records = self.load()
        records[record.key] = record
        self.save(records)

    def remove(self, name: str) -> LockRecord | None:
        records = self.load()
        gone = records.pop(normalize_name(name), None)
        if gone is not None:
            self.save(records)
        return gone


def _sha256_file(path: Path) -> str:
    if path.is_symlink():
        return "symlink:" + os.readlink(path)
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _foreign_bytecode(rel: str) -> bool:
    """A cache file of another interpreter or optimisation level this one never loads."""
    p = PurePosixPath(rel)
    if p.parent.name != "__pycache__" or p.suffix != ".pyc":
        return False
    tag = sys.implementation.cache_tag or ""
    return f".{tag}." not in p.name


def _iter_installed(dist: md.Distribution) -> Iterator[tuple[str, Path]]:
    base, tops = installed_roots(dist)
    seen: set[str] = set()
    for entry in dist.files or ():
        rel = PurePosixPath(str(entry)).as_posix()
        full = base / rel
        if (full.is_file() or full.is_symlink()) and rel not in seen and not _foreign_bytecode(rel):
            seen.add(rel)
            yield rel, full
    for top in tops:
        top_path = base / top
        if not top_path.is_dir() or top_path.is_symlink():
            continue
        for dirpath, dirnames, filenames in os.walk(top_path, followlinks=False):
            dirnames.sort()
            for fname in sorted(filenames) + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
                full = Path(dirpath) / fname
                rel = full.relative_to(base).as_posix()
                if rel not in seen and not _foreign_bytecode(rel):
                    seen.add(rel)
                    yield rel, full


def hash_installed(dist: md.Distribution) -> dict[str, str]:
    """sha256 of every file of ``dist`` on disk (see the module invariant)."""
    return {rel: _sha256_file(full) for rel, full in _iter_installed(dist)}


def ensure_bytecode(dist: md.Distribution) -> None:
    """Write this interpreter's bytecode caches now, so importing later adds no file to the lock."""
    base, tops = installed_roots(dist)
    for top in tops:
        path = base / top
        if path.is_dir() and not path.is_symlink() and not top.endswith(".dist-info"):
            compileall.compile_dir(str(path), quiet=2, workers=1)
        elif path.suffix == ".py" and path.is_file():
            cached = Path(importlib.util.cache_from_source(str(path)))
            if not cached.exists():
                compileall.compile_file(str(path), quiet=2)


def verify_installed(dist: md.Distribution, record: LockRecord) -> str | None:
    """None when ``dist`` on disk is exactly what was locked, else ``"<rule>: <reason>"``."""
    version = dist.metadata["Version"] if dist.metadata is not None else None
    if version != record.version:
        return f"lock.version: installed version {version} differs from the locked {record.version}"
    try:
        actual = hash_installed(dist)
    except OSError as exc:
        return f"lock.unreadable: cannot hash the installed files ({type(exc).__name__})"
    changed = sorted(p for p, h in actual.items() if p in record.files and record.files[p] != h)
    added = sorted(p for p in actual if p not in record.files)
    missing = sorted(p for p in record.files if p not in actual)
    if changed:
        return f"lock.file_changed: {len(changed)} file(s) changed since install: {', '.join(changed[:5])}"
    if added:
        return f"lock.file_added: {len(added)} file(s) added since install: {', '.join(added[:5])}"
    if missing:
        return f"lock.file_missing: {len(missing)} file(s) missing since install: {', '.join(missing[:5])}"
    return None
