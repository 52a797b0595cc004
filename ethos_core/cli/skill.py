"""``ethos skill scan|install|list|revoke``: the install-time scanner and the skills lockfile.

Every scan, install, refusal, override and revocation is an ``install.scan`` audit event written
through the engine of the home (autoload off: the CLI never imports a skill). ``scan`` also works
without a home (CI), then it says on stderr that the scan was not audited.

Exit status: ``scan`` 0 clean or yellow, 1 red or refused, 2 usage; ``install`` 0 installed,
1 refused; ``revoke`` 1 when the name is not locked.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ethos_core.cli.common import EXIT_DENY, EXIT_USAGE, emit_json, fail, home_path, json_option
from ethos_core.errors import EthosError
from ethos_core.runtime import HomePaths
from ethos_core.types import AuditEvent

PROGRESS_MIN_FILES = 50


class _Progress:
    """A click progress bar on stderr, only on a TTY and only for many files."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if total < PROGRESS_MIN_FILES or not sys.stderr.isatty():
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="scanning", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _engine(ctx: click.Context, required: bool) -> Any:
    from ethos_core.engine import Engine

    home = home_path(ctx)
    if not home.exists():
        if required:
            fail(f"ethos home {home} does not exist; run: ethos init", EXIT_USAGE)
        return None
    try:
        return Engine.from_home(home, resolve_secrets=False)  # policy packs load: they may add scan rules
    except EthosError as exc:
        fail(f"cannot load the engine to audit this action: {exc}", EXIT_USAGE)
    return None


def _emit_and_close(engine: Any) -> tuple[Callable[[AuditEvent], None], Callable[[], None]]:
    if engine is None:
        return (lambda _e: None), (lambda: None)
    return engine.emit, engine.close


@click.group("skill")
def skill_group() -> None:
    """Scan, install, list and revoke third-party skills (pip packages with ethos.skills entry points)."""


@skill_group.command("scan")
@click.argument("target")
@json_option
@click.option("--sarif", is_flag=True, help="Print SARIF 2.1.0 (for CI code-scanning).")
@click.pass_context
def scan_cmd(ctx: click.Context, target: str, as_json: bool, sarif: bool) -> None:
    """Scan PATH (source dir), WHEEL, SDIST or the installed distribution NAME without importing it."""
    from ethos_core import __version__
    from ethos_core.skills.install import scan_event
    from ethos_core.skills.report import render_table, to_sarif
    from ethos_core.skills.scanner import scan

    engine = _engine(ctx, required=False)
    emit, close = _emit_and_close(engine)
    progress = _Progress()
    # Policy packs may add scanner rules (ethos_scan_rules); they can only add findings.
    extra_rules = [rule for _, rule in engine.pipeline.collect("ethos_scan_rules")] if engine is not None else []
    try:
        report = scan(target, progress=progress, extra_rules=extra_rules)
        progress.close()
        emit(scan_event(report, extra={"spec": target, "command": "scan"}))
    finally:
        close()
    if engine is None:
        click.echo(f"note: no ethos home at {home_path(ctx)}; this scan was not audited", err=True)
    if sarif:
        click.echo(json.dumps(to_sarif(report, __version__), indent=2))
    elif as_json:
        emit_json(report.to_json())
    else:
        click.echo(render_table(report))
    ctx.exit(EXIT_DENY if report.verdict == "red" else 0)


@skill_group.command("install")
@click.argument("spec")
@click.option("--accept", "accept", multiple=True, metavar="RULE_ID",
              help="Accept a finding of this rule (repeat, or comma-separate). Recorded with who and when.")
@click.option("--index-url", default=None, help="Index to download from (its URL decides the trust tier).")
@click.option("--find-links", "find_links", multiple=True, help="A local directory or page of wheels (no index).")
@click.option("--target", type=click.Path(file_okay=False), default=None,
              help="Install into this directory instead of the current environment (it must be on sys.path to load).")
@json_option
@click.pass_context
def install_cmd(ctx: click.Context, spec: str, accept: tuple[str, ...], index_url: str | None, find_links: tuple[str, ...],
                target: str | None, as_json: bool) -> None:
    """Download SPEC (one wheel, no dependencies), scan it, install exactly it and lock it."""
    from ethos_core.skills.install import SkillInstallError, install_skill
    from ethos_core.skills.lock import SkillsLock
    from ethos_core.skills.report import render_table

    engine = _engine(ctx, required=True)
    emit, close = _emit_and_close(engine)
    skills_cfg = engine.runtime.config.skills
    accepted = [a.strip() for item in accept for a in item.split(",") if a.strip()]
    progress = _Progress()
    try:
        result = install_skill(
            spec, lock=SkillsLock(HomePaths(home_path(ctx)).skills_lock), emit=emit, accept=accepted,
            index_url=index_url, find_links=find_links, target=Path(target) if target else None,
            trusted_indexes=skills_cfg.trusted_indexes, trusted_publishers=skills_cfg.trusted_publishers,
            progress=progress)
    except SkillInstallError as exc:
        progress.close()
        close()
        if as_json:
            emit_json({"installed": False, "error": str(exc),
                       "scan": exc.report.to_json() if exc.report is not None else None,
                       "blocking": list(exc.decision.blocking) if exc.decision is not None else []})
        else:
            if exc.report is not None:
                click.echo(render_table(exc.report), err=True)
            click.echo(f"refused: {exc}", err=True)
        ctx.exit(EXIT_DENY)
        return
    progress.close()
    close()
    rec = result.record
    if as_json:
        emit_json({"installed": True, "distribution": rec.distribution, "version": rec.version, "tier": rec.tier,
                   "files": len(rec.files), "accepted": [a["rule"] for a in rec.accepted],
                   "missing_dependencies": list(result.missing_dependencies), "scan": result.report.summary()})
        return
    click.echo(render_table(result.report))
    click.echo(f"installed and locked {rec.distribution} {rec.version} ({rec.tier}, {len(rec.files)} files"
               + (f", accepted: {', '.join(a['rule'] for a in rec.accepted)}" if rec.accepted else "") + ")")
    if result.missing_dependencies:
        click.echo("declared dependencies not installed (install and vet them yourself): "
                   + ", ".join(result.missing_dependencies), err=True)


def _status(record: Any) -> str:
    import importlib.metadata as md

    from ethos_core.skills.lock import verify_installed

    target = (record.artifact or {}).get("target")
    try:
        if target:
            dists = [d for d in md.distributions(path=[target]) if (d.metadata["Name"] or "").lower() == record.distribution.lower()]
            if not dists:
                return "not installed"
            dist = dists[0]
        else:
            dist = md.distribution(record.distribution)
    except md.PackageNotFoundError:
        return "not installed"
    return verify_installed(dist, record) or "ok"


@skill_group.command("list")
@json_option
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """Locked skills with version, tier, accepted rules and whether the files on disk still match."""
    from ethos_core.skills.lock import LockError, SkillsLock

    try:
        records = SkillsLock(HomePaths(home_path(ctx)).skills_lock).load()
    except LockError as exc:
        fail(f"error: {exc}", EXIT_USAGE)
        return
    rows: list[dict[str, Any]] = [{"distribution": r.distribution, "version": r.version, "tier": r.tier, "files": len(r.files),
             "verdict": r.scan.get("verdict"), "accepted": [a.get("rule") for a in r.accepted],
             "installed_at": r.installed_at, "status": _status(r)} for r in records.values()]
    if as_json:
        emit_json({"skills": rows})
        return
    if not rows:
        click.echo("no skills locked (install one with: ethos skill install SPEC)")
        return
    for row in rows:
        extra = f" accepted={','.join(map(str, row['accepted']))}" if row["accepted"] else ""
        click.echo(f"{row['distribution']} {row['version']}  tier={row['tier']} scan={row['verdict']} "
                   f"files={row['files']}{extra}  status: {row['status']}")


@skill_group.command("revoke")
@click.argument("name")
@json_option
@click.pass_context
def revoke_cmd(ctx: click.Context, name: str, as_json: bool) -> None:
    """Remove NAME from skills.lock: it is no longer loaded (uninstall it with pip if you wish)."""
    from ethos_core.skills.install import revoke_skill
    from ethos_core.skills.lock import LockError, SkillsLock

    engine = _engine(ctx, required=True)
    emit, close = _emit_and_close(engine)
    try:
        gone = revoke_skill(name, lock=SkillsLock(HomePaths(home_path(ctx)).skills_lock), emit=emit)
    except LockError as exc:
        close()
        fail(f"error: {exc}", EXIT_USAGE)
        return
    close()
    if as_json:
        emit_json({"revoked": gone is not None, "distribution": name})
    else:
        click.echo(f"revoked {name}: it will not be loaded" if gone else f"{name} is not in skills.lock")
    ctx.exit(0 if gone else EXIT_DENY)
