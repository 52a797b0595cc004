"""Value objects of a scan: one :class:`Finding` per rule hit, one :class:`ScanReport` per artifact."""

from __future__ import annotations

from typing import Any

import attrs

from ethos_core.skills.manifest import SkillManifest
from ethos_core.skills.rules import RED, RULES, YELLOW

EXCERPT_CHARS = 120


def excerpt(text: str) -> str:
    """One line, printable, bounded: what a finding quotes from the artifact."""
    flat = " ".join(text.split())
    shown = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in flat[: EXCERPT_CHARS * 2])
    return shown[:EXCERPT_CHARS] + ("…" if len(shown) > EXCERPT_CHARS else "")


@attrs.frozen
class Finding:
    rule: str
    path: str
    line: int | None
    excerpt: str
    message: str = ""

    @property
    def severity(self) -> str:
        info = RULES.get(self.rule)
        return info.severity if info is not None else RED

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "path": self.path, "line": self.line,
                "excerpt": self.excerpt, "message": self.message or RULES[self.rule].summary}


@attrs.frozen
class ScannedFile:
    path: str
    size: int
    sha256: str


@attrs.frozen
class EntryPointRef:
    group: str
    name: str
    value: str

    @property
    def module(self) -> str:
        return self.value.split(":", 1)[0].strip()


@attrs.frozen
class ScanReport:
    """Everything the scanner learned about one artifact, without importing any of it."""

    target: str
    kind: str  # "wheel" | "sdist" | "directory" | "installed"
    distribution: str | None
    version: str | None
    findings: tuple[Finding, ...]
    files: tuple[ScannedFile, ...] = ()
    manifest: SkillManifest | None = None
    entry_points: tuple[EntryPointRef, ...] = ()
    requires: tuple[str, ...] = ()
    refused: bool = False  # bounds or structure stopped the scan: nothing was (or will be) unpacked
    bytes_scanned: int = 0
    python_bytes: int = 0
    seconds: float = 0.0

    @property
    def red(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == RED)

    @property
    def yellow(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == YELLOW)

    @property
    def rules(self) -> frozenset[str]:
        return frozenset(f.rule for f in self.findings)

    @property
    def verdict(self) -> str:
        if self.refused or self.red:
            return RED
        return YELLOW if self.yellow else "clean"

    def summary(self) -> dict[str, Any]:
        return {"target": self.target, "kind": self.kind, "distribution": self.distribution, "version": self.version,
                "verdict": self.verdict, "red": len(self.red), "yellow": len(self.yellow),
                "rules": sorted(self.rules), "refused": self.refused, "files": len(self.files)}

    def to_json(self) -> dict[str, Any]:
        out = self.summary()
        out["findings"] = [f.to_json() for f in self.findings]
        out["manifest"] = self.manifest.to_json() if self.manifest is not None else None
        out["entry_points"] = [{"group": e.group, "name": e.name, "value": e.value} for e in self.entry_points]
        out["bytes_scanned"] = self.bytes_scanned
        out["seconds"] = round(self.seconds, 4)
        return out
