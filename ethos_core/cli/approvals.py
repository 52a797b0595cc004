"""``ethos approvals list|revoke``: remembered approval grants in state.db."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from ethos_core.approval_grants import GrantStore
from ethos_core.runtime import HomePaths, default_home


def _store(ctx: click.Context) -> GrantStore:
    home = (ctx.obj or {}).get("home")
    root = Path(home).expanduser() if home else default_home()
    return GrantStore(HomePaths(root).state_db)


@click.group("approvals")
def approvals_group() -> None:
    """Remembered approvals (session and always scopes)."""


@approvals_group.command("list")
@click.option("--all", "include_all", is_flag=True, help="Include expired and revoked grants.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def list_cmd(ctx: click.Context, include_all: bool, as_json: bool) -> None:
    """List approval grants."""
    grants = _store(ctx).list(include_inactive=include_all)
    if as_json:
        click.echo(json.dumps([g.to_json() for g in grants], indent=2))
        return
    if not grants:
        click.echo("no approval grants")
        return
    now = time.time()
    for g in grants:
        state = "revoked" if g.revoked else ("expired" if g.expires <= now else "active")
        where = f" cwd={g.cwd}" if g.cwd else ""
        click.echo(f"{g.id}  {g.scope:<7} {state:<7} {g.tool}: {g.executable} {g.arg_pattern}{where}")


@approvals_group.command("revoke")
@click.argument("grant_id")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def revoke_cmd(ctx: click.Context, grant_id: str, as_json: bool) -> None:
    """Revoke one grant by id."""
    ok = _store(ctx).revoke(grant_id)
    if as_json:
        click.echo(json.dumps({"id": grant_id, "revoked": ok}))
    else:
        click.echo(f"revoked {grant_id}" if ok else f"no active grant {grant_id}")
    if not ok:
        ctx.exit(1)
