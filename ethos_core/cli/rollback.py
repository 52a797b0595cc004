"""``ethos rollback``: undo the agent's last set of file edits (or those of one turn).

Restores every file of the chosen change set to its checkpointed before-state, or nothing at
all when any file no longer holds what the agent wrote (each such file is named). Exit status:
0 restored (or listed), 1 conflict or nothing to roll back, 2 usage error.
"""

from __future__ import annotations

import datetime

import click

from ethos_core.cli.common import EXIT_DENY, EXIT_USAGE, emit_json, home_path, json_option
from ethos_core.fs.checkpoints import CheckpointStore
from ethos_core.runtime import HomePaths


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


@click.command("rollback")
@click.option("--last", "last", is_flag=True, help="Roll back the newest set of edits (the default).")
@click.option("--turn", type=int, default=None, help="Roll back the edits of turn N (of --session, default the newest).")
@click.option("--session", default=None, help="Session whose turn --turn names.")
@click.option("--personality", default=None, help="Only edits made by this personality.")
@click.option("--list", "list_only", is_flag=True, help="List the change sets that can be rolled back.")
@click.option("--dry-run", is_flag=True, help="Check for conflicts and show what would be restored.")
@json_option
@click.pass_context
def rollback_cmd(
    ctx: click.Context,
    last: bool,
    turn: int | None,
    session: str | None,
    personality: str | None,
    list_only: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Undo the agent's last set of file edits (checkpointed before-states)."""
    if last and turn is not None:
        click.echo("use either --last or --turn N, not both", err=True)
        ctx.exit(EXIT_USAGE)
    store = CheckpointStore(HomePaths(home_path(ctx)).checkpoints)
    if list_only:
        sets = store.change_sets(personality=personality, session=session)
        if as_json:
            emit_json({"change_sets": [c.to_json() for c in sets]})
        elif not sets:
            click.echo("no agent edits to roll back")
        else:
            for c in sets:
                click.echo(f"{_when(c.created)}  {c.personality or '-'}  session {c.session}  turn {c.turn}  "
                           f"{len(c.files)} file(s)")
        return
    change_set = store.select(turn=turn, personality=personality, session=session)
    if change_set is None:
        what = f"turn {turn}" if turn is not None else "edits"
        if as_json:
            emit_json({"ok": False, "error": f"no agent {what} to roll back", "change_set": None,
                       "restored": [], "conflicts": []})
        else:
            click.echo(f"no agent {what} to roll back", err=True)
        ctx.exit(EXIT_DENY)
    report = store.rollback(change_set, dry_run=dry_run)
    if as_json:
        emit_json(report.to_json())
    else:
        label = f"session {change_set.session} turn {change_set.turn} ({_when(change_set.created)})"
        if report.conflicts:
            click.echo(f"not rolled back: {label} has files changed since the agent wrote them:", err=True)
            for conflict in report.conflicts:
                click.echo(f"  {conflict.path}: {conflict.reason}", err=True)
        elif dry_run:
            click.echo(f"would restore {len(change_set.files)} file(s) from {label}:")
            for change in change_set.files:
                click.echo(f"  {change.path}")
        else:
            click.echo(f"restored {len(report.restored)} file(s) from {label}:")
            for path in report.restored:
                click.echo(f"  {path}")
    if report.conflicts:
        ctx.exit(EXIT_DENY)
