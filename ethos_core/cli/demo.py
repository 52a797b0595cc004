"""``ethos demo``: play the canonical attack chains against the real engine, offline."""

from __future__ import annotations

import json

import click


@click.command("demo")
@click.option("--home", "demo_home", type=click.Path(file_okay=False), help="Play in this (empty) directory instead of a temporary one.")
@click.option("--json", "as_json", is_flag=True)
def demo_cmd(demo_home: str | None, as_json: bool) -> None:
    """Play nine attack chains against the real engine and show which layer stopped each one."""
    from pathlib import Path

    from ethos_core.demo import run_demo

    rows = run_demo(Path(demo_home) if demo_home else None)
    if as_json:
        click.echo(json.dumps([{"attack": r.attack, "layer": r.layer, "rule": r.rule, "audit_event_id": r.event_id,
                                "stopped": r.stopped, "detail": r.detail} for r in rows]))
    else:
        headers = ("attack", "stopped by", "rule", "audit event")
        table = [(r.attack, r.layer if r.stopped else "NOT STOPPED", r.rule, str(r.event_id or "-")) for r in rows]
        widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(headers)]
        click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
        click.echo("  ".join("-" * w for w in widths))
        for t in table:
            click.echo("  ".join(c.ljust(w) for c, w in zip(t, widths, strict=True)))
        stopped = sum(r.stopped for r in rows)
        click.echo(f"\n{stopped}/{len(rows)} attacks stopped; every decision is in observability.db "
                   "(query it with: ethos audit query --json).")
        for r in rows:
            if not r.stopped:
                click.echo(f"  ! {r.attack}: {r.detail}", err=True)
    if not all(r.stopped for r in rows):
        raise SystemExit(1)
