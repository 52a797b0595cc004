"""The ``ethos`` command. Subcommands live in one module each under ``ethos_core.cli`` and are
registered here by name; a module that is missing is simply not offered.
"""

from __future__ import annotations

import importlib
import sys

import click

from ethos_core import __version__

# (module, attribute) of each subcommand, in help order.
SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("ethos_core.cli.init", "init_cmd"),
    ("ethos_core.cli.config", "config_group"),
    ("ethos_core.cli.personality", "personality_group"),
    ("ethos_core.cli.secrets", "secrets_group"),
    ("ethos_core.cli.health", "health_cmd"),
    ("ethos_core.cli.check", "check_cmd"),
    ("ethos_core.cli.check", "redact_cmd"),
    ("ethos_core.cli.audit", "audit_group"),
    ("ethos_core.cli.skill", "skill_group"),
    ("ethos_core.cli.pairing", "pairing_group"),
    ("ethos_core.cli.approvals", "approvals_group"),
    ("ethos_core.cli.rollback", "rollback_cmd"),
    ("ethos_core.cli.chat", "chat_cmd"),
    ("ethos_core.cli.demo", "demo_cmd"),
    ("ethos_core.cli.gateway", "gateway_group"),
    ("ethos_core.cli.harden", "harden_group"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ethos")
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar="ETHOS_HOME",
    help="The ethos home (default: $ETHOS_HOME or ~/.ethos).",
)
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """ethos: a defense-in-depth security runtime for AI agents."""
    ctx.ensure_object(dict)
    ctx.obj["home"] = home


def _register() -> None:
    for module_name, attr in SUBCOMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        cli.add_command(getattr(module, attr))


_register()


def _install_log_redaction() -> None:
    """Log records (and tracebacks) printed by the CLI pass the redaction engine first."""
    import logging

    from ethos_core.engine import live_secret_values
    from ethos_core.redaction.logging import RedactingFilter

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(live_secret_values))
    logger = logging.getLogger("ethos")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def main() -> None:
    _install_log_redaction()
    try:
        cli.main(prog_name="ethos")
    except KeyboardInterrupt:
        sys.exit(130)
