"""Helpers for the ``ethos harden check`` tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ethos_core.cli.main import cli
from ethos_core.harden.system import Mount, SystemFacts

HOST = SystemFacts(in_container=False, euid=1000,
                   mounts=(Mount("/", "ext4", frozenset({"rw"})), Mount("/tmp", "tmpfs", frozenset({"rw"}))))


def init_home(root: Path) -> Path:
    result = CliRunner().invoke(cli, ["--home", str(root), "init"])
    assert result.exit_code == 0, result.output
    return root


def invoke(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), "harden", "check", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def harden_json(home: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code, out = invoke(home, "--json", *args)
    return code, json.loads(out)


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


def check(report: dict[str, Any], check_id: str) -> dict[str, Any]:
    for c in report["checks"]:
        if c["id"] == check_id:
            return dict(c)
    raise KeyError(check_id)
