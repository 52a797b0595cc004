"""``ethos personality show ID``: the effective policy after the global floor."""

from __future__ import annotations

import click

from ethos_core.cli.common import emit_json, json_option, load_engine, read_only_services


@click.group("personality")
def personality_group() -> None:
    """Inspect personalities."""


@personality_group.command("list")
@json_option
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """List configured personalities."""
    engine = load_engine(ctx, services=read_only_services(), resolve_secrets=False, record_startup=False)
    ids = sorted(engine.home.personalities)
    engine.close()
    if as_json:
        emit_json(ids)
    else:
        for pid in ids:
            click.echo(pid)


@personality_group.command("show")
@click.argument("personality_id")
@json_option
@click.pass_context
def show(ctx: click.Context, personality_id: str, as_json: bool) -> None:
    """Show the effective Toolset, Filesystem reach, Network reach, Approval mode, Injection
    defense, Observability and Watcher of a personality."""
    from ethos_core.engine import policy_json

    engine = load_engine(ctx, services=read_only_services(), resolve_secrets=False, record_startup=False)
    try:
        if personality_id not in engine.home.personalities:
            click.echo(f"no personality {personality_id!r} (known: {', '.join(sorted(engine.home.personalities)) or 'none'})", err=True)
            ctx.exit(2)
        p = engine.personality(personality_id)
        reachable = sorted(engine.pipeline.filter_toolset(engine.tools.names(), engine._check_context(p)))
    finally:
        engine.close()
    body = policy_json(p)
    body["toolset"] = reachable
    if as_json:
        emit_json(body)
        return
    s = body["safety"]
    click.echo(f"Personality: {p.id}")
    click.echo("Toolset:")
    if reachable:
        for name in reachable:
            click.echo(f"  - {name}")
    else:
        why = "toolset.yaml is missing" if not p.toolset_declared else "toolset.yaml lists no tools"
        click.echo(f"  no tool is reachable ({why})")
    click.echo("Filesystem reach:")
    if not p.fs_reach.declared:
        click.echo(f"  not declared: only the personality's own data directory ({p.directory}/data)")
    else:
        click.echo("  read:  " + (", ".join(p.fs_reach.read + p.fs_reach.write) or "(none)"))
        click.echo("  write: " + (", ".join(p.fs_reach.write) or "(none)"))
    click.echo("  always denied: ~/.ssh, ~/.aws, ~/.gnupg, /etc/shadow, … (the global floor) and ethos' own stores")
    click.echo("Network reach:")
    if not s["networkDeclared"] or not s["networkReach"]:
        click.echo("  none: this personality's web tools have no egress")
    for rule in s["networkReach"]:
        click.echo(f"  - {rule['host']} ports {', '.join(str(x) for x in rule['ports']) or '(none)'}")
    click.echo("  always denied: private, loopback, link-local and cloud-metadata addresses; schemes other than http/https")
    click.echo(f"Approval mode: {s['approvalMode']}")
    click.echo(f"Injection defense: {s['injectionDefense']} (prelude, wrapping, sanitising and the downgrade are always on)")
    click.echo(f"Observability: {s['observability']} (redaction always applies)")
    click.echo("Watcher:")
    for k, v in s["watcher"].items():
        click.echo(f"  {k}: {v if v is not None else 'default'}")
    click.echo(f"Downgrade after untrusted content: {s['downgrade']['turns']} turns")
