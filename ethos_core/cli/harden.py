"""``ethos harden check [--json] [--fix]``: verify a deployment against the hardening checklist.

Exit status: 0 when no check failed (skipped checks do not fail), 1 when any check failed,
2 when the home does not exist. ``--fix`` applies only the safe fixes (removing group/other
permission bits in the home) and reports what it changed. Output is redacted.
"""

from __future__ import annotations

import click

from ethos_core.cli.common import EXIT_USAGE, emit_json, fail, home_path, json_option, redact_for_display
from ethos_core.harden.report import HardenReport

MARK = {"pass": "ok  ", "fail": "FAIL", "skip": "skip"}


@click.group("harden")
def harden_group() -> None:
    """Production hardening: check a deployment against the checklist (docs/hardening.md)."""


@harden_group.command("check")
@json_option
@click.option("--fix", is_flag=True, help="Apply safe fixes only: remove group/other permissions in the home.")
@click.pass_context
def check_cmd(ctx: click.Context, as_json: bool, fix: bool) -> None:
    """Run every hardening check; exit 1 if any fails."""
    from ethos_core.harden.checks import run_checks

    home = home_path(ctx)
    if not home.is_dir():
        fail(f"ethos home {home} does not exist; run: ethos init", EXIT_USAGE)
    report = run_checks(home, fix=fix)
    if as_json:
        emit_json(report.to_json())
    else:
        _print(report)
    ctx.exit(0 if report.ok else 1)


def _print(report: HardenReport) -> None:
    click.echo(f"ethos harden check: {report.home}" + (" (in a container)" if report.in_container else ""))
    for c in report.checks:
        click.echo(redact_for_display(f"{MARK[c.status]}  {c.severity:<8}  {c.id:<28} {c.message}"))
        for finding in c.findings:
            click.echo(redact_for_display(f"        - {finding}"))
        for done in c.fixed:
            click.echo(redact_for_display(f"        fixed: {done}"))
        if c.failed:
            click.echo(redact_for_display(f"        fix: {c.fix}"))
    failed = report.ids("fail")
    counts = f"{len(report.ids('pass'))} passed, {len(failed)} failed, {len(report.ids('skip'))} skipped"
    click.echo(("hardened: " if not failed else "NOT hardened: ") + counts)
