"""``ethos init``: create a home with secure defaults; never overwrites anything."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ethos_core.cli.common import emit_json, home_path, json_option

GLOBAL_CONFIG = """\
# ethos global configuration. Every key is documented in docs/configuration.md.
# Secrets are never written here: use ${secrets:<ref>} and a secrets provider.

# Who may reach the agent, per channel platform. Default: only the owner.
channel_filter: {}

observability:
  retention:
    "audit.*": "90d"
    "channel.*": "90d"
    "install.*": "30d"

bots: []
"""

PERSONALITY_CONFIG = """\
# The default personality. With no fs_reach it reaches only its own data directory;
# with no networkReach its web tools have no egress.
name: default
safety:
  approvalMode: manual
  injectionDefense: balanced
  observability: redacted
"""

TOOLSET = """\
# Tools this personality may use, one per line (e.g. "- read_file").
# An empty list means no tools at all.
[]
"""


def _write_new(path: Path, text: str, created: list[str], kept: list[str]) -> None:
    if path.exists():
        kept.append(str(path))
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    created.append(str(path))


def _mkdir(path: Path, created: list[str]) -> None:
    if not path.exists():
        path.mkdir(mode=0o700, parents=True)
        created.append(str(path) + "/")
    os.chmod(path, 0o700)


@click.command("init")
@json_option
@click.pass_context
def init_cmd(ctx: click.Context, as_json: bool) -> None:
    """Create the ethos home (mode 0700) with a locked-down default personality.

    Existing files are never overwritten.
    """
    home = home_path(ctx)
    created: list[str] = []
    kept: list[str] = []
    _mkdir(home, created)
    _mkdir(home / "personalities", created)
    _mkdir(home / "personalities" / "default", created)
    _mkdir(home / "personalities" / "default" / "data", created)
    _write_new(home / "config.yaml", GLOBAL_CONFIG, created, kept)
    _write_new(home / "personalities" / "default" / "config.yaml", PERSONALITY_CONFIG, created, kept)
    _write_new(home / "personalities" / "default" / "toolset.yaml", TOOLSET, created, kept)
    if as_json:
        emit_json({"home": str(home), "created": created, "kept": kept})
        return
    click.echo(f"ethos home: {home}")
    for path in created:
        click.echo(f"  created {path}")
    for path in kept:
        click.echo(f"  kept    {path} (already exists)")
