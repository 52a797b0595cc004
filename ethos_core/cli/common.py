"""Helpers shared by the CLI commands: the home, JSON output, error rendering."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ethos_core.errors import ConfigError, EthosError
from ethos_core.runtime import default_home

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_DENY = 1
EXIT_USAGE = 2
EXIT_APPROVE = 3


def home_path(ctx: click.Context | None = None) -> Path:
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    value = (root.obj or {}).get("home") if root.obj else None
    return Path(value).expanduser() if value else default_home()


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(func)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=None, sort_keys=False, default=str))


def redact_for_display(text: str) -> str:
    """CLI error output is redacted with the pattern engine when it is available."""
    try:
        from ethos_core.redaction import redact_text
    except ImportError:
        return text
    try:
        return str(redact_text(text))
    except Exception:  # noqa: BLE001 - never fail while reporting a failure
        return text


def fail(message: str, code: int = EXIT_DENY) -> None:
    click.echo(redact_for_display(message), err=True)
    sys.exit(code)


class _DiscardAudit:
    """Explanations and validation write no audit rows."""

    def write(self, event: object) -> None:
        return None

    def register_policy(self, personality: str, policy: object) -> str:
        return ""


def read_only_services() -> dict[str, Any]:
    """Services for commands that only explain or validate: no audit rows, no state.db, no
    watcher thread. (Stage ⑪ without a watcher answers APPROVE, which an explanation reports.)"""
    return {"audit": _DiscardAudit(), "grants": None, "watcher": None}


def load_engine(ctx: click.Context | None = None, **kwargs: Any) -> Any:
    """Build the engine for the CLI; configuration errors exit 2 with every problem listed."""
    from ethos_core.engine import Engine

    home = home_path(ctx)
    if not home.exists():
        fail(f"ethos home {home} does not exist; run: ethos init", EXIT_USAGE)
    try:
        return Engine.from_home(home, **kwargs)
    except ConfigError as exc:
        fail(f"configuration errors:\n{exc}", EXIT_USAGE)
    except EthosError as exc:
        fail(f"error: {exc}", EXIT_USAGE)
    return None  # unreachable
