"""``ethos secrets list|set|rm|check``: manage and inspect secrets without ever printing a value.

Invariant: no code path here writes a secret value to stdout, stderr or an argument list: values
are read from a hidden prompt or standard input, never from argv; listings show ref, provider,
status and age only; errors go through redaction with every resolved value known.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from ethos_core.cli.common import emit_json, home_path, json_option
from ethos_core.config.model import GlobalConfig
from ethos_core.errors import EthosError
from ethos_core.redaction import redact_text
from ethos_core.runtime import HomePaths, Runtime
from ethos_core.secrets.refs import find_secret_refs
from ethos_core.secrets.vault import PASSPHRASE_ENV, Vault, VaultError

MAX_AGE_DAYS = 90


def _load_config(home: Path) -> GlobalConfig:
    try:
        from ethos_core.config.home import load_home
    except ImportError:
        return GlobalConfig()
    try:
        return load_home(home).config
    except Exception:  # noqa: BLE001 - a broken config must not hide which secrets exist
        return GlobalConfig()


def _runtime(home: Path) -> Runtime:
    return Runtime(home=HomePaths(home), config=_load_config(home))


def _resolvers(runtime: Runtime) -> list[Any]:
    from ethos_core.secrets.providers import ProviderResolvers
    from ethos_core.secrets.resolvers import BuiltinResolvers

    resolvers: list[Any] = []
    resolvers.extend(ProviderResolvers(runtime).ethos_secret_resolvers())
    resolvers.extend(BuiltinResolvers(runtime).ethos_secret_resolvers())
    return resolvers


def _vault(runtime: Runtime, interactive: bool, confirm_new: bool = False) -> Vault:
    from ethos_core.secrets.providers import vault_for
    from ethos_core.secrets.vault import vault_path

    cfg = runtime.config.secrets.vault
    is_new = not vault_path(runtime.home.root, cfg.path if cfg else None).exists()

    def prompt() -> str:
        env = os.environ.get(PASSPHRASE_ENV)
        if env:
            return env
        if not interactive:
            return ""
        return str(click.prompt("Vault passphrase", hide_input=True, confirmation_prompt=confirm_new and is_new, err=True))

    return vault_for(runtime, passphrase=prompt)


def _status(ref: str, resolvers: list[Any]) -> dict[str, Any]:
    """Provider and status of ``ref``: resolved / missing / locked / error (never the value)."""
    errors: list[str] = []
    for resolver in resolvers:
        name = str(getattr(resolver, "name", type(resolver).__name__))
        try:
            value = resolver.resolve(ref)
        except EthosError as exc:
            if name == "vault" and ref in _safe_refs(resolver):
                return {"ref": ref, "provider": name, "status": "locked", "detail": str(exc)}
            errors.append(f"{name}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - a broken provider is reported, not fatal
            errors.append(f"{name}: {type(exc).__name__}")
            continue
        if value:
            row: dict[str, Any] = {"ref": ref, "provider": name, "status": "resolved"}
            set_at = getattr(resolver, "set_at", None)
            if callable(set_at):
                row["set_at"] = set_at(ref)
            return row
    row = {"ref": ref, "provider": None, "status": "error" if errors else "missing"}
    if errors:
        row["detail"] = "; ".join(errors)
    return row


def _safe_refs(resolver: Any) -> list[str]:
    try:
        return list(resolver.refs())
    except Exception:  # noqa: BLE001
        return []


def _rows(home: Path) -> list[dict[str, Any]]:
    runtime = _runtime(home)
    resolvers = _resolvers(runtime)
    referenced: dict[str, list[str]] = {}
    for ref, file, line in find_secret_refs(home):
        referenced.setdefault(ref, []).append(f"{file}:{line}")
    stored: list[str] = []
    for resolver in resolvers:
        if getattr(resolver, "name", "") == "vault":
            stored.extend(_safe_refs(resolver))
    rows = []
    for ref in sorted(set(referenced) | set(stored)):
        row = _status(ref, resolvers)
        row["referenced_in"] = referenced.get(ref, [])
        if "detail" in row:
            row["detail"] = redact_text(str(row["detail"]))
        rows.append(row)
    return rows


@click.group("secrets")
def secrets_group() -> None:
    """List, store and check secrets (values are never printed)."""


@secrets_group.command("list")
@json_option
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """Every ${secrets:REF} in the configuration and every vault entry: provider and status."""
    rows = _rows(home_path(ctx))
    if as_json:
        emit_json({"secrets": rows})
        return
    if not rows:
        click.echo("no secrets referenced (use ${secrets:REF} in config.yaml) and none stored")
        return
    for row in rows:
        where = ", ".join(row["referenced_in"]) or "not referenced"
        click.echo(f"{row['ref']:<28} {row['provider'] or '-':<8} {row['status']:<9} {where}")


@secrets_group.command("check")
@json_option
@click.option("--max-age-days", type=int, default=MAX_AGE_DAYS, show_default=True)
@click.pass_context
def check_cmd(ctx: click.Context, as_json: bool, max_age_days: int) -> None:
    """Age of each secret; warns past --max-age-days and on missing secrets (exit 1)."""
    now = time.time()
    rows = _rows(home_path(ctx))
    problems = 0
    for row in rows:
        set_at = row.get("set_at")
        row["age_days"] = None if set_at is None else round((now - float(set_at)) / 86400, 1)
        warnings = []
        if row["status"] in ("missing", "error"):
            warnings.append(f"secret is {row['status']}")
        if row["age_days"] is not None and row["age_days"] > max_age_days:
            warnings.append(f"older than {max_age_days} days: rotate it (docs/rotation.md)")
        row["warnings"] = warnings
        problems += bool(warnings)
    if as_json:
        emit_json({"secrets": rows, "max_age_days": max_age_days, "ok": problems == 0})
    else:
        for row in rows:
            age = "age unknown" if row["age_days"] is None else f"{row['age_days']} days"
            flag = "WARN" if row["warnings"] else "ok"
            detail = f"  ({'; '.join(row['warnings'])})" if row["warnings"] else ""
            click.echo(f"{flag:<5}{row['ref']:<28} {row['provider'] or '-':<8} {age}{detail}")
        if not rows:
            click.echo("no secrets to check")
    if problems:
        sys.exit(1)


@secrets_group.command("set")
@click.argument("ref")
@click.pass_context
def set_cmd(ctx: click.Context, ref: str) -> None:
    """Store REF in the encrypted vault. The value is read from a hidden prompt or stdin."""
    interactive = sys.stdin.isatty()
    if interactive:
        value = str(click.prompt(f"Value for {ref}", hide_input=True, confirmation_prompt=True, err=True))
    else:
        value = sys.stdin.read().rstrip("\r\n")
    if not value:
        raise click.UsageError("empty value: nothing stored")
    runtime = _runtime(home_path(ctx))
    vault = _vault(runtime, interactive, confirm_new=True)
    try:
        vault.set(ref, value)
    except VaultError as exc:
        click.echo(f"error: {redact_text(str(exc), {ref: value})}", err=True)
        sys.exit(1)
    click.echo(f"stored {ref} in {vault.path}")


@secrets_group.command("rm")
@click.argument("ref")
@click.pass_context
def rm_cmd(ctx: click.Context, ref: str) -> None:
    """Remove REF from the encrypted vault."""
    runtime = _runtime(home_path(ctx))
    vault = _vault(runtime, sys.stdin.isatty())
    try:
        removed = vault.remove(ref)
    except VaultError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if not removed:
        click.echo(f"{ref} is not in the vault", err=True)
        sys.exit(1)
    click.echo(f"removed {ref}")
