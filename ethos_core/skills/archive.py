"""Bounded, non-executing readers for skill artifacts: wheels, sdists, directories, installed dists.

Invariant: nothing is extracted to disk and nothing is imported; every byte read is counted
against :class:`Limits` (file count, per-file size, total uncompressed size, compression ratio)
and reading stops at the first limit crossed — the artifact is then *refused*, not unpacked.
Compressed tarballs are decompressed incrementally with a hard output cap before ``tarfile``
sees them, so a gzip bomb or a giant pax header costs at most ``max_total_bytes``. Entries with
``..``, absolute paths, drive letters or backslashes, and every symlink, hard link or device
entry inside an archive, are findings (never followed). For directories and installed
distributions, symlinks are not followed; one that resolves outside the root is a finding.

Not covered: archive formats other than zip/wheel and tar (gz, bz2, xz); content inside nested
archives (a nested archive is reported as an opaque binary).
"""

from __future__ import annotations

import base64
import bz2
import hashlib
import importlib.metadata as md
import io
import lzma
import os
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import attrs

from ethos_core.skills.findings import Finding

CHUNK = 1 << 16
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox",
                       ".venv", "venv", "build", "dist", "node_modules"})
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


@attrs.frozen
class Limits:
    """Bounds of one scan. Defaults fit any honest skill with a wide margin."""

    max_files: int = 5_000
    max_file_bytes: int = 8 << 20
    max_total_bytes: int = 64 << 20
    max_ratio: float = 100.0
    ratio_floor: int = 1 << 20  # entries (and archives) smaller than this are not ratio-checked


@attrs.define
class ArtifactFile:
    path: str  # posix, relative to the artifact root (site-packages layout for wheels/installed)
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@attrs.define
class Artifact:
    target: str
    kind: str
    files: list[ArtifactFile] = attrs.field(factory=list)
    findings: list[Finding] = attrs.field(factory=list)
    refused: bool = False
    total: int = 0

    def refuse(self, rule: str, path: str, message: str) -> None:
        self.findings.append(Finding(rule, path, None, path, message))
        self.refused = True


class _Stop(Exception):
    """A limit was crossed; reading ends here."""


def bad_member_name(name: str) -> str | None:
    """Why an archive entry name is unsafe to materialise anywhere, or None."""
    if "\x00" in name:
        return "NUL byte in the entry name"
    if "\\" in name:
        return "backslash in the entry name (a path separator on Windows)"
    if name.startswith("/") or _DRIVE_RE.match(name):
        return "absolute path"
    if any(part == ".." for part in PurePosixPath(name).parts):
        return "'..' component escapes the extraction root"
    return None


def _account(art: Artifact, limits: Limits, path: str, size: int) -> None:
    if len(art.files) >= limits.max_files:
        art.refuse("archive.oversize", path, f"more than {limits.max_files} files")
        raise _Stop
    if size > limits.max_file_bytes:
        art.refuse("archive.oversize", path, f"{size} bytes is over the per-file limit of {limits.max_file_bytes}")
        raise _Stop
    if art.total + size > limits.max_total_bytes:
        art.refuse("archive.bomb", path, f"more than {limits.max_total_bytes} uncompressed bytes in total")
        raise _Stop


def _add(art: Artifact, path: str, data: bytes) -> None:
    art.total += len(data)
    art.files.append(ArtifactFile(path, data))


# --- zip / wheel ---------------------------------------------------------------------------


def read_zip(path: Path, kind: str, limits: Limits) -> Artifact:
    art = Artifact(str(path), kind)
    archive_size = max(path.stat().st_size, 1)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_files:
                art.refuse("archive.oversize", path.name, f"{len(infos)} entries (limit {limits.max_files})")
                return art
            declared = sum(max(i.file_size, 0) for i in infos)
            if declared > limits.max_total_bytes:
                art.refuse("archive.bomb", path.name, f"declares {declared} uncompressed bytes (limit {limits.max_total_bytes})")
                return art
            seen: set[str] = set()
            for info in infos:
                name = info.filename
                why = bad_member_name(name)
                if why:
                    art.refuse("archive.path_escape", name, why)
                    continue
                if name in seen:
                    art.refuse("archive.duplicate", name, "duplicate entry: which copy is used depends on the tool")
                    continue
                seen.add(name)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    art.refuse("archive.symlink", name, "symlink entry")
                    continue
                if info.is_dir():
                    continue
                _account(art, limits, name, info.file_size)
                if info.file_size >= limits.ratio_floor and info.file_size / max(info.compress_size, 1) > limits.max_ratio:
                    art.refuse("archive.bomb", name, f"compression ratio {info.file_size / max(info.compress_size, 1):.0f}:1 "
                               f"(limit {limits.max_ratio:.0f}:1)")
                    raise _Stop
                with zf.open(info) as fh:
                    data = fh.read(info.file_size + 1)
                if len(data) != info.file_size:
                    art.refuse("archive.bomb", name, "entry size differs from its header")
                    raise _Stop
                _add(art, name, data)
    except _Stop:
        return art
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        art.refuse("archive.unreadable", path.name, f"{type(exc).__name__}: {exc}")
        return art
    if art.total >= limits.ratio_floor and art.total / archive_size > limits.max_ratio:
        art.refuse("archive.bomb", path.name, f"overall compression ratio {art.total / archive_size:.0f}:1")
    return art


# --- tar / sdist ---------------------------------------------------------------------------


def _decompress_capped(raw: bytes, suffix: str, cap: int) -> bytes:
    """Decompress ``raw`` fully but never produce more than ``cap`` bytes (raises _Stop)."""
    out = bytearray()
    data = raw
    while data:
        if suffix == "gz":
            z = zlib.decompressobj(wbits=47)
            pending = data
            while True:
                chunk = z.decompress(pending, CHUNK)
                pending = z.unconsumed_tail
                out += chunk
                if len(out) > cap:
                    raise _Stop
                if z.eof:
                    data = z.unused_data
                    break
                if not chunk and not pending:
                    raise EOFError("truncated gzip stream")
            if data and not data.startswith(b"\x1f\x8b"):
                break  # trailing bytes after the last gzip member are ignored, as gzip(1) does
        else:
            d: bz2.BZ2Decompressor | lzma.LZMADecompressor = bz2.BZ2Decompressor() if suffix == "bz2" else lzma.LZMADecompressor()
            out += d.decompress(data, CHUNK)
            while not d.eof:
                if len(out) > cap:
                    raise _Stop
                if d.needs_input:
                    raise EOFError("truncated compressed stream")
                out += d.decompress(b"", CHUNK)
            if len(out) > cap:
                raise _Stop
            data = d.unused_data
    return bytes(out)


def read_tar(path: Path, limits: Limits) -> Artifact:
    art = Artifact(str(path), "sdist")
    name = path.name.lower()
    suffix = "gz" if name.endswith((".gz", ".tgz")) else "bz2" if name.endswith(".bz2") else "xz" if name.endswith(".xz") else ""
    raw = path.read_bytes() if path.stat().st_size <= limits.max_total_bytes else None
    if raw is None:
        art.refuse("archive.oversize", path.name, "the archive itself is over the total size limit")
        return art
    try:
        plain = _decompress_capped(raw, suffix, limits.max_total_bytes + (1 << 20)) if suffix else raw
    except _Stop:
        art.refuse("archive.bomb", path.name, f"decompresses to more than {limits.max_total_bytes} bytes")
        return art
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        art.refuse("archive.unreadable", path.name, f"{type(exc).__name__}: {exc}")
        return art
    if len(plain) >= limits.ratio_floor and len(plain) / max(len(raw), 1) > limits.max_ratio:
        art.refuse("archive.bomb", path.name, f"overall compression ratio {len(plain) / max(len(raw), 1):.0f}:1")
        return art
    try:
        with tarfile.open(fileobj=io.BytesIO(plain), mode="r:") as tf:
            seen: set[str] = set()
            count = 0
            for member in tf:
                count += 1
                if count > limits.max_files:
                    art.refuse("archive.oversize", member.name, f"more than {limits.max_files} entries")
                    raise _Stop
                mname = member.name
                why = bad_member_name(mname)
                if why:
                    art.refuse("archive.path_escape", mname, why)
                    continue
                if member.issym() or member.islnk():
                    art.refuse("archive.symlink", mname, f"{'symlink' if member.issym() else 'hard link'} to {member.linkname!r}")
                    continue
                if member.isdir():
                    continue
                if not member.isfile():
                    art.refuse("archive.symlink", mname, "device, FIFO or other special entry")
                    continue
                if mname in seen:
                    art.refuse("archive.duplicate", mname, "duplicate entry")
                    continue
                seen.add(mname)
                _account(art, limits, mname, member.size)
                fh = tf.extractfile(member)
                data = fh.read(member.size + 1) if fh is not None else b""
                _add(art, mname, data)
    except _Stop:
        return art
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        art.refuse("archive.unreadable", path.name, f"{type(exc).__name__}: {exc}")
    return art


# --- directories and installed distributions -----------------------------------------------


def _read_file_bounded(art: Artifact, limits: Limits, full: Path, rel: str, root: Path) -> None:
    if full.is_symlink():
        try:
            resolved = full.resolve(strict=False)
        except (OSError, RuntimeError):
            art.refuse("archive.symlink", rel, "symlink loop")
            return
        if not resolved.is_relative_to(root.resolve()):
            art.refuse("archive.symlink", rel, f"symlink escapes the package: -> {os.readlink(full)}")
        return  # symlinks are never followed; inside-root targets are scanned as themselves
    st = full.lstat()
    if not stat.S_ISREG(st.st_mode):
        return
    _account(art, limits, rel, st.st_size)
    with open(full, "rb") as fh:
        data = fh.read(limits.max_file_bytes + 1)
    if len(data) > limits.max_file_bytes:
        art.refuse("archive.oversize", rel, "file grew past the per-file limit while being read")
        raise _Stop
    _add(art, rel, data)


def read_directory(root: Path, limits: Limits, progress: Callable[[int], None] | None = None) -> Artifact:
    art = Artifact(str(root), "directory")
    try:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
            here = Path(dirpath)
            for d in list(dirnames):
                if (here / d).is_symlink():
                    dirnames.remove(d)
                    _read_file_bounded(art, limits, here / d, (here / d).relative_to(root).as_posix(), root)
            for fname in sorted(filenames):
                full = here / fname
                _read_file_bounded(art, limits, full, full.relative_to(root).as_posix(), root)
                if progress is not None:
                    progress(1)
    except _Stop:
        pass
    return art


def _record_hash(entry: md.PackagePath) -> str | None:
    h = entry.hash
    if h is None or h.mode != "sha256":
        return None
    padded = h.value + "=" * (-len(h.value) % 4)
    return base64.urlsafe_b64decode(padded).hex()


def installed_roots(dist: md.Distribution) -> tuple[Path, list[str]]:
    """The site directory of ``dist`` and its top-level names there (packages, modules, dist-info)."""
    base = Path(str(dist.locate_file(""))).resolve()
    tops: set[str] = set()
    for entry in dist.files or ():
        parts = PurePosixPath(str(entry)).parts
        if parts and parts[0] != "..":
            tops.add(parts[0])
    return base, sorted(tops)


def read_installed(dist: md.Distribution, limits: Limits) -> Artifact:
    """An installed distribution: RECORD files (hash-checked) plus unrecorded files beside them."""
    base, tops = installed_roots(dist)
    name = dist.metadata["Name"] or "?"
    art = Artifact(f"{name} (installed at {base})", "installed")
    recorded: dict[str, str | None] = {}
    try:
        for entry in dist.files or ():
            rel = PurePosixPath(str(entry)).as_posix()
            recorded[rel] = _record_hash(entry)
        for rel, expected in sorted(recorded.items()):
            full = base / rel
            if not full.exists() and not full.is_symlink():
                continue
            before = len(art.files)
            _read_file_bounded(art, limits, full, rel, base if not rel.startswith("../") else full.parent)
            if expected is not None and len(art.files) > before and art.files[-1].sha256 != expected:
                art.findings.append(Finding("record.mismatch", rel, None, rel, "file differs from its RECORD hash"))
        for top in tops:
            top_path = base / top
            if not top_path.is_dir() or top_path.is_symlink():
                continue
            for dirpath, dirnames, filenames in os.walk(top_path, followlinks=False):
                dirnames[:] = sorted(dirnames)
                for fname in sorted(filenames):
                    full = Path(dirpath) / fname
                    rel = full.relative_to(base).as_posix()
                    if rel in recorded or "/__pycache__/" in f"/{rel}":
                        continue
                    art.findings.append(Finding("record.mismatch", rel, None, rel, "file is not listed in RECORD"))
                    _read_file_bounded(art, limits, full, rel, base)
    except _Stop:
        pass
    return art
