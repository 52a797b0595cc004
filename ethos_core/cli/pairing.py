"""``ethos pairing list|approve|revoke|unlock``: the operator's side of DM pairing.

Approving here counts as the owner's approval; failures count towards the 24-hour lock exactly
like ``/pair`` in chat. Every change is audited (``channel.pairing``) through the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click

from ethos_core.channel.pairing import PairingStore, pairing_health
from ethos_core.cli.common import EXIT_DENY, EXIT_USAGE, emit_json, fail, home_path, json_option
from ethos_core.errors import EthosError
from ethos_core.runtime import HomePaths
from ethos_core.types import AuditEvent


def _emitter(ctx: click.Context) -> tuple[Callable[[AuditEvent], None], Any]:
    """The engine's audited emit; without a loadable engine the change is refused (no silent audit gap)."""
    from ethos_core.engine import Engine

    home = home_path(ctx)
    if not home.exists():
        fail(f"ethos home {home} does not exist; run: ethos init", EXIT_USAGE)
    try:
        engine = Engine.from_home(home, resolve_secrets=False)
    except EthosError as exc:
        fail(f"cannot load the engine to audit this change: {exc}", EXIT_USAGE)
        raise  # unreachable
    return engine.emit, engine


def _store(ctx: click.Context, audited: bool) -> tuple[PairingStore, Any]:
    paths = HomePaths(home_path(ctx))
    if not audited:
        return PairingStore(paths.state_db), None
    emit, engine = _emitter(ctx)
    return PairingStore(paths.state_db, emit=emit), engine


def _close(engine: Any) -> None:
    if engine is not None and hasattr(engine, "close"):
        engine.close()


@click.group("pairing")
def pairing_group() -> None:
    """DM pairing codes and paired senders."""


@pairing_group.command("list")
@json_option
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """Pending codes (hint only), paired senders and the lock state."""
    paths = HomePaths(home_path(ctx))
    if paths.state_db.exists():
        store = PairingStore(paths.state_db)
        pending, approved = store.pending(), store.approved_senders()
    else:
        pending, approved = [], []
    report: dict[str, Any] = {"pending": pending, "approved": approved,
              "health": pairing_health(paths.state_db)}
    if as_json:
        emit_json(report)
        return
    health = report["health"]
    if health["locked"]:
        click.echo(f"approvals LOCKED until {time.ctime(health['locked_until'])} (ethos pairing unlock)")
    click.echo(f"pending codes: {len(report['pending'])}")
    for item in report["pending"]:
        left = int(item["expires"] - time.time()) // 60
        click.echo(f"  {item['platform']}:{item['sender']}  code {item['hint']}  expires in {left} min")
    click.echo(f"paired senders: {len(report['approved'])}")
    for item in report["approved"]:
        click.echo(f"  {item['platform']}:{item['sender']}  by {item['approved_by']}  at {time.ctime(item['approved_at'])}")


@pairing_group.command("approve")
@click.argument("code")
@click.option("--sender", default=None, help="Refuse unless the code belongs to this sender id.")
@click.option("--platform", default=None, help="Refuse unless the code belongs to this platform.")
@json_option
@click.pass_context
def approve_cmd(ctx: click.Context, code: str, sender: str | None, platform: str | None, as_json: bool) -> None:
    """Approve a pairing code (as the owner)."""
    store, engine = _store(ctx, audited=True)
    try:
        result = store.approve(code, approver="cli", platform=platform, sender=sender)
    finally:
        _close(engine)
    out = {"approved": result.approved, "rule": result.rule, "reason": result.reason,
           "platform": result.platform, "sender": result.sender}
    if as_json:
        emit_json(out)
    elif result.approved:
        click.echo(f"paired {result.platform}:{result.sender}")
    else:
        click.echo(f"refused ({result.rule}): {result.reason}", err=True)
    ctx.exit(0 if result.approved else EXIT_DENY)


@pairing_group.command("revoke")
@click.argument("target")
@click.option("--platform", default=None, help="Only this platform (for a sender id).")
@json_option
@click.pass_context
def revoke_cmd(ctx: click.Context, target: str, platform: str | None, as_json: bool) -> None:
    """Revoke a pending CODE or a paired SENDER id."""
    store, engine = _store(ctx, audited=True)
    try:
        gone = store.revoke(target, actor="cli", platform=platform)
    finally:
        _close(engine)
    if as_json:
        emit_json({"revoked": gone})
    else:
        for item in gone:
            click.echo(f"revoked {item['kind']} {item['platform']}:{item['sender']}")
        if not gone:
            click.echo("nothing matched", err=True)
    ctx.exit(0 if gone else EXIT_DENY)


@pairing_group.command("unlock")
@json_option
@click.pass_context
def unlock_cmd(ctx: click.Context, as_json: bool) -> None:
    """Clear the approval lock and the failure count."""
    store, engine = _store(ctx, audited=True)
    try:
        was = store.unlock(actor="cli")
    finally:
        _close(engine)
    if as_json:
        emit_json({"unlocked": True, "was_locked": was})
    else:
        click.echo("approvals unlocked" if was else "approvals were not locked; failure count cleared")
