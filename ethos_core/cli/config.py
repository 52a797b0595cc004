"""``ethos config validate [--strict]``."""

from __future__ import annotations

import click

from ethos_core.cli.common import EXIT_USAGE, emit_json, home_path, json_option, read_only_services


def known_tool_names(home_root: object) -> frozenset[str] | None:
    """Names of every tool a built engine would register (None if the engine cannot be built)."""
    try:
        from ethos_core.engine import Engine

        engine = Engine.from_home(home_root, resolve_secrets=False, record_startup=False,  # type: ignore[arg-type]
                                  services=read_only_services())
    except Exception:  # noqa: BLE001 - validation reports config problems separately
        return None
    try:
        return engine.tools.names()
    finally:
        engine.close()


@click.group("config")
def config_group() -> None:
    """Validate configuration."""


@config_group.command("validate")
@click.option("--strict", is_flag=True, help="Also fail on warnings (dangling bot bindings, unknown tools, a '*' network wildcard, short retention).")
@json_option
@click.pass_context
def validate(ctx: click.Context, strict: bool, as_json: bool) -> None:
    """Check every configuration file of the home; exit 0 only when clean."""
    from ethos_core.config.home import load_home

    home = home_path(ctx)
    if not home.exists():
        click.echo(f"ethos home {home} does not exist; run: ethos init", err=True)
        ctx.exit(EXIT_USAGE)
    loaded = load_home(home)
    issues = list(loaded.issues)
    if not loaded.errors:
        known = known_tool_names(home)
        if known is not None:
            from ethos_core.errors import ConfigIssue

            for _pid, p in loaded.personalities.items():
                for name in sorted(p.toolset - known):
                    issues.append(ConfigIssue(str(p.directory / "toolset.yaml"), None, None, name,
                                              f"unknown tool {name!r}", severity="warning" if not strict else "error"))
    errors = [i for i in issues if i.severity == "error"]
    warnings = [i for i in issues if i.severity == "warning"]
    failed = bool(errors) or (strict and bool(warnings))
    if as_json:
        emit_json({"ok": not failed, "errors": [i.render() for i in errors], "warnings": [i.render() for i in warnings]})
    else:
        for i in errors:
            click.echo(f"error: {i.render()}", err=True)
        for i in warnings:
            click.echo(f"warning: {i.render()}", err=True)
        if not failed:
            click.echo(f"ok: {home} is valid" + (" (strict)" if strict else ""))
    ctx.exit(1 if failed else 0)
