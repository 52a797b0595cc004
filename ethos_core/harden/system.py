"""What ``ethos harden check`` learns about the process and the machine it runs on.

Invariant: :func:`probe_system` only reads (``/proc``, a few marker files, the effective uid)
and never raises; what it could not read is ``None`` so the checks fail closed on it.
Container detection is a heuristic (``/.dockerenv``, ``/run/.containerenv``, ``$container``,
container names in ``/proc/1/cgroup``); it does not cover runtimes that leave none of these
traces, for which the container checks are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

CONTAINER_MARKERS = ("/.dockerenv", "/run/.containerenv")
CGROUP_HINTS = ("docker", "kubepods", "containerd", "libpod", "lxc", "crio", "podman")


@attrs.frozen
class Mount:
    """One line of ``/proc/self/mounts``."""

    mountpoint: str
    fstype: str
    options: frozenset[str]

    @property
    def read_only(self) -> bool:
        return "ro" in self.options


@attrs.frozen
class SystemFacts:
    """Facts the container checks judge; tests build their own."""

    in_container: bool
    evidence: str = ""
    euid: int = 0
    mounts: tuple[Mount, ...] | None = None  # None: /proc/self/mounts was unreadable

    def mount_for(self, path: str) -> Mount | None:
        """The mount that holds ``path`` (the last-mounted longest prefix), or None."""
        if self.mounts is None:
            return None
        best: Mount | None = None
        target = os.path.normpath(path)
        for m in self.mounts:
            point = m.mountpoint
            inside = target == point or point == "/" or target.startswith(point.rstrip("/") + "/")
            if inside and (best is None or len(point) >= len(best.mountpoint)):
                best = m
        return best


def _unescape(field: str) -> str:
    """``/proc/mounts`` escapes space, tab, newline and backslash as octal (``\\040``)."""
    out, i = [], 0
    while i < len(field):
        code = field[i + 1 : i + 4]
        if field[i] == "\\" and len(code) == 3 and all(c in "01234567" for c in code):
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mounts(text: str) -> tuple[Mount, ...]:
    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        mounts.append(Mount(_unescape(parts[1]), parts[2], frozenset(parts[3].split(","))))
    return tuple(mounts)


def detect_container(root: Path = Path("/"), environ: dict[str, str] | None = None) -> str:
    """Why we think this is a container ('' when we do not)."""
    env = os.environ if environ is None else environ
    for marker in CONTAINER_MARKERS:
        if (root / marker.lstrip("/")).exists():
            return marker
    if env.get("container"):
        return f"$container={env['container']}"
    try:
        cgroup = (root / "proc/1/cgroup").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for hint in CGROUP_HINTS:
        if hint in cgroup:
            return f"/proc/1/cgroup mentions {hint}"
    return ""


def probe_system() -> SystemFacts:
    evidence = detect_container()
    try:
        mounts: tuple[Mount, ...] | None = parse_mounts(Path("/proc/self/mounts").read_text(encoding="utf-8"))
    except OSError:
        mounts = None
    return SystemFacts(in_container=bool(evidence), evidence=evidence, euid=os.geteuid(), mounts=mounts)
