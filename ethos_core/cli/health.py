"""``ethos health``: exit non-zero with a reason when anything the engine needs is broken."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from ethos_core.cli.common import emit_json, home_path, json_option


def _check_home(home: Path) -> list[str]:
    problems = []
    if not home.exists():
        return [f"ethos home {home} does not exist (run: ethos init)"]
    if not os.access(home, os.R_OK | os.X_OK):
        return [f"ethos home {home} is not readable"]
    if not os.access(home, os.W_OK):
        problems.append(f"ethos home {home} is not writable (stores cannot be written)")
    for name in ("observability.db", "state.db"):
        path = home / name
        if path.exists() and not os.access(path, os.W_OK):
            problems.append(f"{path} is not writable")
    mode = home.stat().st_mode & 0o777
    if mode & 0o077:
        problems.append(f"ethos home {home} is accessible by group/others (mode {mode:04o}); run: chmod 700 {home}")
    return problems


@click.command("health")
@json_option
@click.pass_context
def health_cmd(ctx: click.Context, as_json: bool) -> None:
    """Check the home, the stores, plugins and the engines' services."""
    from ethos_core.engine import Engine
    from ethos_core.errors import ConfigError, EthosError

    home = home_path(ctx)
    report: dict[str, Any] = {"ok": True, "home": str(home), "problems": []}
    problems: list[str] = _check_home(home)
    engine = None
    if not problems or all("not writable" not in p and "does not exist" not in p for p in problems):
        try:
            engine = Engine.from_home(home, record_startup=False)
        except ConfigError as exc:
            problems.append(f"configuration errors: {exc}")
        except EthosError as exc:
            problems.append(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - health must report, not crash
            problems.append(f"engine failed to start: {type(exc).__name__}: {exc}")
    if engine is not None:
        try:
            h = engine.health()
            problems.extend(h.pop("problems", []))
            report.update({k: v for k, v in h.items() if k != "ok"})
            problems.extend(engine.runtime.services.get("missing_secrets") or [])
            for extra in _extra_checks(engine):
                problems.append(extra)
        finally:
            engine.close()
    report["problems"] = problems
    report["ok"] = not problems
    if as_json:
        emit_json(report)
    else:
        if problems:
            click.echo("unhealthy:")
            for p in problems:
                click.echo(f"  - {p}")
        else:
            click.echo(f"ok: {home}")
    ctx.exit(0 if not problems else 1)


def _extra_checks(engine: Any) -> list[str]:
    """Checks owned by individual engines, each optional in this build."""
    out: list[str] = []
    import importlib

    for module_name, fn_name in (("ethos_core.channel.pairing", "pairing_health"),):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        fn = getattr(module, fn_name, None)
        if fn is None:
            continue
        try:
            h = fn(engine.runtime.home.state_db)
        except Exception as exc:  # noqa: BLE001
            out.append(f"{module_name}: {type(exc).__name__}: {exc}")
            continue
        if isinstance(h, dict) and h.get("ok") is False:
            out.append(f"{fn_name}: {h.get('reason') or h}")
    return out
