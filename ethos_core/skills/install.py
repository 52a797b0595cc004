"""``ethos skill install``: download one artifact, scan it, install exactly it, lock it.

Invariant: the bytes installed are the bytes scanned. The artifact is fetched once into a
private temporary directory (``pip download --no-deps --only-binary=:all:``; a local wheel path
is copied), scanned there, judged by the trust matrix, then installed from that file with
``pip install --no-deps --no-index`` — pip never resolves or downloads anything else, and no
sdist is ever built (building runs the author's code). After install, every installed file
that came from the wheel must hash as scanned, bytecode caches are written, and the lock
records the hash of every file on disk. Every scan, refusal, override and install is an
``install.scan`` audit event; an override records who (``getpass.getuser()``) and when.

Dependencies: none are installed. Requires-Dist must be a subset of the manifest's declared
``dependencies`` (else ``manifest.undeclared_dependency``); declared dependencies that are
missing are reported so the operator installs (and vets) them on purpose.

Not covered: what pip itself does with a wheel (it only unpacks; no code runs for wheels).
"""

from __future__ import annotations

import datetime as _dt
import getpass
import importlib
import importlib.metadata as md
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from ethos_core.errors import EthosError
from ethos_core.skills.findings import ScanReport
from ethos_core.skills.lock import INSTALLER_FILES, LockRecord, SkillsLock, ensure_bytecode, hash_installed
from ethos_core.skills.manifest import normalize_name
from ethos_core.skills.scanner import _requirement_name, scan
from ethos_core.skills.trust import InstallDecision, classify_tier, decide
from ethos_core.types import AuditEvent

Emit = Callable[[AuditEvent], None]


class SkillInstallError(EthosError):
    """The skill was not installed; ``decision``/``report`` say why when the scan decided."""

    def __init__(self, message: str, report: ScanReport | None = None, decision: InstallDecision | None = None):
        super().__init__(message)
        self.report = report
        self.decision = decision


@attrs.frozen
class InstallResult:
    record: LockRecord
    report: ScanReport
    decision: InstallDecision
    missing_dependencies: tuple[str, ...] = ()


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scan_event(report: ScanReport, *, code: str = "skill.scan", severity: str | None = None,
               extra: dict[str, Any] | None = None) -> AuditEvent:
    """The ``install.scan`` event of one scan (every scan emits one)."""
    data: dict[str, Any] = {**report.summary(), "findings": [
        {"rule": f.rule, "severity": f.severity, "path": f.path, "line": f.line} for f in report.findings[:50]]}
    data.update(extra or {})
    sev = severity or ("warning" if report.verdict == "red" else "info")
    return AuditEvent(category="install.scan", code=code, severity=sev, verdict=report.verdict,
                      rule=(sorted(report.rules)[0] if report.rules else None), source=report.distribution, data=data)


def _pip(args: Sequence[str], python: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "pip", *args], capture_output=True, text=True, timeout=600, check=False)


def fetch_artifact(spec: str, dest: Path, *, index_url: str | None, find_links: Sequence[str], python: str) -> tuple[Path, bool]:
    """The one wheel to scan and install, and whether it came from an index."""
    local = Path(spec)
    if local.is_file():
        if not spec.lower().endswith(".whl"):
            raise SkillInstallError("install needs a wheel (.whl): building an sdist runs the author's code; "
                                    "scan the sdist, then build the wheel yourself")
        target = dest / local.name
        shutil.copyfile(local, target)
        return target, False
    if local.is_dir():
        raise SkillInstallError("install needs a wheel, not a directory: run `pip wheel --no-deps` on code you trust, "
                                "then install the .whl")
    args = ["download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "--dest", str(dest)]
    if index_url:
        args += ["--index-url", index_url]
    for link in find_links:
        args += ["--find-links", link]
    if find_links and not index_url:
        args.append("--no-index")
    done = _pip([*args, spec], python)
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SkillInstallError(f"could not download exactly one wheel for {spec!r}: " + " | ".join(tail))
    return wheels[0], True


def _find_installed(name: str, target: Path | None) -> md.Distribution:
    importlib.invalidate_caches()
    if target is not None:
        for dist in md.distributions(path=[str(target)]):
            if normalize_name(dist.metadata["Name"] or "") == normalize_name(name):
                return dist
        raise SkillInstallError(f"{name} was not found in {target} after install")
    return md.distribution(name)


def install_skill(
    spec: str,
    *,
    lock: SkillsLock,
    emit: Emit,
    accept: Sequence[str] = (),
    index_url: str | None = None,
    find_links: Sequence[str] = (),
    target: Path | None = None,
    trusted_indexes: Sequence[str] = (),
    trusted_publishers: Sequence[str] = (),
    python: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> InstallResult:
    """Download/copy, scan, decide, install and lock ``spec``; raises :class:`SkillInstallError`."""
    python = python or sys.executable
    with tempfile.TemporaryDirectory(prefix="ethos-skill-") as tmp:
        wheel, from_index = fetch_artifact(spec, Path(tmp), index_url=index_url, find_links=find_links, python=python)
        report = scan(wheel, progress=progress)
        tier = classify_tier(report.distribution, from_index=from_index, index_url=index_url or (find_links[0] if find_links else None),
                             trusted_indexes=trusted_indexes, trusted_publishers=trusted_publishers)
        decision = decide(report, tier, accept)
        emit(scan_event(report, extra={"spec": spec, "tier": tier, "artifact": wheel.name}))
        if not decision.allowed:
            emit(scan_event(report, code="skill.install_refused", severity="warning",
                            extra={"spec": spec, "tier": tier, "blocking": list(decision.blocking),
                                   "reasons": list(decision.reasons)}))
            raise SkillInstallError(f"{report.distribution or spec} not installed ({tier}): " + "; ".join(decision.reasons),
                                    report, decision)
        if report.distribution is None or report.version is None:
            raise SkillInstallError("the wheel has no Name/Version metadata", report, decision)
        who, when = getpass.getuser(), _now()
        accepted = tuple({"rule": r, "by": who, "at": when} for r in decision.accepted)
        if decision.accepted:
            emit(AuditEvent(category="install.scan", code="skill.override", severity="warning", verdict="allow",
                            rule=",".join(decision.accepted), source=report.distribution,
                            data={"distribution": report.distribution, "version": report.version, "tier": tier,
                                  "accepted": list(decision.accepted), "by": who, "at": when, "spec": spec}))
        args = ["install", "--no-deps", "--no-index", "--disable-pip-version-check", "--force-reinstall"]
        if target is not None:
            args += ["--target", str(target), "--upgrade"]
        done = _pip([*args, str(wheel)], python)
        if done.returncode != 0:
            raise SkillInstallError("pip install failed: " + " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:]),
                                    report, decision)
        dist = _find_installed(report.distribution, target)
        ensure_bytecode(dist)
        files = hash_installed(dist)
        scanned = {f.path: f.sha256 for f in report.files}
        for path, digest in scanned.items():
            if path.rsplit("/", 1)[-1] in INSTALLER_FILES:
                continue
            if path in files and files[path] != digest:
                raise SkillInstallError(f"installed {path} differs from the scanned wheel; not locked", report, decision)
        manifest = report.manifest.to_json() if report.manifest is not None else None
        tops = sorted({p.split("/", 1)[0] for p in files if not p.startswith("..")})
        record = LockRecord(
            distribution=report.distribution, version=report.version, tier=tier, files=files,
            scan={**report.summary(), "findings": [f.to_json() for f in report.findings]}, accepted=accepted,
            manifest=manifest, top_level=tuple(tops),
            artifact={"filename": wheel.name, "sha256": _sha256(wheel), "spec": spec,
                      "index": index_url or (find_links[0] if find_links else None), "target": str(target) if target else None},
            installed_at=when, installed_by=who,
        )
        lock.put(record)
        installed = _installed_names(target)
        declared = report.manifest.dependencies if report.manifest is not None else ()
        missing = tuple(d for d in declared if (_requirement_name(d) or d) not in installed)
        emit(AuditEvent(category="install.scan", code="skill.installed", verdict=report.verdict, source=report.distribution,
                        data={"distribution": report.distribution, "version": report.version, "tier": tier,
                              "files": len(files), "accepted": list(decision.accepted), "by": who,
                              "missing_dependencies": list(missing)}))
        return InstallResult(record, report, decision, missing)


def _installed_names(target: Path | None) -> set[str]:
    paths = [str(target), *sys.path] if target is not None else None
    dists = md.distributions(path=paths) if paths is not None else md.distributions()
    return {normalize_name(d.metadata["Name"] or "") for d in dists}


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def revoke_skill(name: str, *, lock: SkillsLock, emit: Emit) -> LockRecord | None:
    """Remove ``name`` from the lock: it is no longer loaded (the files stay installed)."""
    gone = lock.remove(name)
    emit(AuditEvent(category="install.scan", code="skill.revoked" if gone else "skill.revoke_unknown", severity="warning",
                    source=name, data={"distribution": name, "found": gone is not None, "by": getpass.getuser(), "at": _now()}))
    return gone
