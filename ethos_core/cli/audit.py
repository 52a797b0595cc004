"""``ethos audit``: read, search, verify and prune ``observability.db``.

Read commands open the file read-only; ``prune`` writes through one transaction that also
records the pruned events in the hash chain. ``verify`` exits 1 and names the first bad row
when the chain is broken. Every reporting command takes ``--json``.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import click

from ethos_core.audit import query as q
from ethos_core.audit.chain import verify_chain
from ethos_core.audit.retention import prune as prune_events
from ethos_core.audit.retention import validate_retention
from ethos_core.audit.schema import SCHEMA_VERSION, connect, current_version, migrate
from ethos_core.runtime import HomePaths, default_home


def _home(ctx: click.Context) -> HomePaths:
    obj = ctx.find_root().obj or {}
    home = obj.get("home") if isinstance(obj, dict) else None
    return HomePaths(Path(home).expanduser() if home else default_home())


def _db(ctx: click.Context, db: str | None) -> Path:
    return Path(db) if db else _home(ctx).observability_db


def _open(path: Path) -> sqlite3.Connection:
    """Read-only connection; a file from an older ethos is migrated forward first."""
    try:
        conn = q.open_readonly(path)
        if current_version(conn) < SCHEMA_VERSION:
            conn.close()
            writer = connect(path)
            try:
                migrate(writer)
            finally:
                writer.close()
            conn = q.open_readonly(path)
        return conn
    except (FileNotFoundError, sqlite3.Error) as exc:
        raise click.ClickException(f"{path}: {exc}") from None


def _line(event: dict[str, Any]) -> str:
    parts = [event["ts"], event["category"]]
    for key in ("code", "personality", "rule", "verdict"):
        if event.get(key):
            parts.append(f"{key}={event[key]}")
    data = event.get("data")
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")) if not isinstance(data, str) else data
    if len(text) > 200:
        text = text[:200] + "…"
    return f"#{event['id']} " + " ".join(str(p) for p in parts) + f" {text}"


def _emit(events: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(events, ensure_ascii=False, indent=None))
        return
    for event in events:
        click.echo(_line(event))


db_option = click.option("--db", type=click.Path(dir_okay=False), help="Audit database (default: $ETHOS_HOME/observability.db).")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group("audit")
def audit_group() -> None:
    """Read, search, verify and prune the audit trail (observability.db)."""


@audit_group.command("tail")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events as they are written.")
@click.option("--category", help="Category glob, e.g. 'audit.*'.")
@click.option("-n", "--lines", default=20, show_default=True, type=click.IntRange(0, None))
@click.option("--interval", default=0.5, show_default=True, type=float, hidden=True)
@db_option
@json_option
@click.pass_context
def tail_cmd(ctx: click.Context, follow: bool, category: str | None, lines: int, interval: float, db: str | None, as_json: bool) -> None:
    """The newest events (-f: follow). With --json, one JSON object per line."""
    conn = _open(_db(ctx, db))
    try:
        events = list(reversed(q.query(conn, category=category, limit=lines, newest_first=True)))
        last_id = events[-1]["id"] if events else int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])
        for event in events:
            click.echo(json.dumps(event, ensure_ascii=False) if as_json else _line(event))
        while follow:
            time.sleep(interval)
            for event in q.query(conn, category=category, after_id=last_id, limit=1000):
                click.echo(json.dumps(event, ensure_ascii=False) if as_json else _line(event))
                last_id = event["id"]
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        conn.close()


@audit_group.command("query")
@click.option("--category", help="Category glob, e.g. 'channel.*'.")
@click.option("--since", help="ISO date/time or a duration ago (24h, 7d, 2w).")
@click.option("--until", help="ISO date/time or a duration ago.")
@click.option("--personality")
@click.option("--session")
@click.option("--rule")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, None))
@db_option
@json_option
@click.pass_context
def query_cmd(
    ctx: click.Context,
    category: str | None,
    since: str | None,
    until: str | None,
    personality: str | None,
    session: str | None,
    rule: str | None,
    limit: int,
    db: str | None,
    as_json: bool,
) -> None:
    """Events matching the filters, oldest first."""
    conn = _open(_db(ctx, db))
    try:
        events = q.query(
            conn, category=category, since=since, until=until, personality=personality, session=session, rule=rule, limit=limit
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    finally:
        conn.close()
    _emit(events, as_json)


@audit_group.command("search")
@click.argument("text")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, None))
@click.option("--raw", is_flag=True, help="TEXT is an FTS5 query (AND/OR/NEAR, prefix*).")
@db_option
@json_option
@click.pass_context
def search_cmd(ctx: click.Context, text: str, limit: int, raw: bool, db: str | None, as_json: bool) -> None:
    """Full-text search (FTS5) over category, code, rule and event data, newest first.

    Indexed from data: every key and string value, its first 64 characters (tools, hosts,
    paths, rule ids, reasons, the heads of bodies). Query the rest with SQL (data LIKE).
    """
    conn = _open(_db(ctx, db))
    try:
        events = q.search(conn, text, limit=limit, raw=raw)
    except sqlite3.OperationalError as exc:
        raise click.BadParameter(f"bad search query: {exc}") from None
    finally:
        conn.close()
    _emit(events, as_json)


@audit_group.command("stats")
@db_option
@json_option
@click.pass_context
def stats_cmd(ctx: click.Context, db: str | None, as_json: bool) -> None:
    """Counts per category, time span, size, chain anchor and head."""
    path = _db(ctx, db)
    conn = _open(path)
    try:
        info = q.stats(conn, path)
    finally:
        conn.close()
    if as_json:
        click.echo(json.dumps(info))
        return
    click.echo(f"{info['path']}: {info['events']} events, {info['bytes']} bytes, schema v{info['schema_version']}")
    click.echo(f"  span: {info['first']} .. {info['last']}")
    click.echo(f"  chain: anchor id {info['anchor_id']}, head id {info['head_id']}, {info['pruned_tombstones']} tombstones")
    click.echo(f"  policy snapshots: {info['snapshots']}")
    for category, count in info["by_category"].items():
        click.echo(f"  {category:24} {count}")


@audit_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--category")
@click.option("--since")
@click.option("--until")
@click.option("--personality")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default stdout).")
@db_option
@click.pass_context
def export_cmd(
    ctx: click.Context,
    fmt: str,
    category: str | None,
    since: str | None,
    until: str | None,
    personality: str | None,
    output: str | None,
    db: str | None,
) -> None:
    """Every event as JSON Lines (with prev_hash/row_hash), oldest first."""
    conn = _open(_db(ctx, db))
    out = open(output, "w", encoding="utf-8") if output else None  # noqa: SIM115 - closed below
    try:
        for line in q.export_jsonl(conn, category=category, since=since, until=until, personality=personality):
            if out is not None:
                out.write(line + "\n")
            else:
                click.echo(line)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    finally:
        conn.close()
        if out is not None:
            out.close()


@audit_group.command("verify")
@db_option
@json_option
@click.pass_context
def verify_cmd(ctx: click.Context, db: str | None, as_json: bool) -> None:
    """Check the hash chain; exit 1 naming the first edited, deleted or reordered row."""
    conn = _open(_db(ctx, db))
    try:
        result = verify_chain(conn)
    except sqlite3.Error as exc:
        raise click.ClickException(f"cannot verify: {exc}") from None
    finally:
        conn.close()
    if as_json:
        click.echo(json.dumps(result.to_json()))
    elif result.ok:
        click.echo(f"ok: {result.checked} events verified (anchor id {result.anchor_id}, head id {result.head_id})")
    else:
        click.echo(f"TAMPERED: {result.problem}", err=True)
    if not result.ok:
        ctx.exit(1)


def _configured_retention(home: HomePaths) -> dict[str, str]:
    if not home.config.exists():
        return {}
    from ethos_core.config.load import load_file
    from ethos_core.config.model import GlobalConfig

    loaded = load_file(home.config, GlobalConfig)
    errors = [i for i in loaded.issues if i.severity == "error"]
    if errors or loaded.value is None:
        raise click.ClickException("config.yaml is invalid; run `ethos config validate`:\n" + "\n".join(i.render() for i in errors))
    return dict(loaded.value.observability.retention)


@audit_group.command("prune")
@click.option("--dry-run", is_flag=True, help="Report what would be removed; change nothing.")
@click.option("--retention", "overrides", multiple=True, metavar="GLOB=DURATION", help="Override a retention rule (repeatable).")
@db_option
@json_option
@click.pass_context
def prune_cmd(ctx: click.Context, dry_run: bool, overrides: tuple[str, ...], db: str | None, as_json: bool) -> None:
    """Remove events older than observability.retention allows (recorded in the chain)."""
    home = _home(ctx)
    retention = _configured_retention(home)
    for item in overrides:
        glob, sep, value = item.partition("=")
        if not sep or not glob:
            raise click.BadParameter(f"{item!r} is not GLOB=DURATION", param_hint="--retention")
        retention[glob] = value
    try:
        validate_retention(retention)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    path = _db(ctx, db)
    if not path.exists():
        raise click.ClickException(f"no audit database at {path}")
    try:
        conn = connect(path)
        try:
            migrate(conn)
            report = prune_events(conn, retention, dry_run=dry_run)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise click.ClickException(f"cannot prune {path}: {exc}") from None
    if as_json:
        click.echo(json.dumps(report.to_json()))
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {report.total} events, {report.snapshots_deleted} unreferenced policy snapshots")
    for category, count in sorted(report.deleted.items()):
        click.echo(f"  {category:24} {count} (older than {report.cutoffs[category]})")
    if not retention:
        click.echo("no observability.retention rules: every category is kept forever")
