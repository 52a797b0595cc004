"""The always-deny floor: one list of sensitive locations, shared by every layer that judges
paths (the filesystem boundary ⑨ and the shell blocklist ⑦). Nothing else keeps a copy.

Invariant: :func:`floor_rule` returns a rule id for any path at or under a floor entry, for
read and write alike, whatever fs_reach says. Paths are compared component-wise after
normalisation (``/a/b`` never matches ``/a/bc``). ETHOS_HOME's stores are on the floor too.
What it does not do: resolve symlinks (the boundary resolves first and asks again).
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import PurePosixPath

# (rule id, pattern). "~" is the user's home; patterns are matched per path component with
# fnmatch, and a match on a prefix covers everything below it.
HOME_FLOOR: tuple[tuple[str, str], ...] = (
    ("floor.ssh", "~/.ssh"),
    ("floor.aws", "~/.aws"),
    ("floor.gnupg", "~/.gnupg"),
    ("floor.kube", "~/.kube/config"),
    ("floor.docker", "~/.docker/config.json"),
    ("floor.netrc", "~/.netrc"),
    ("floor.git_credentials", "~/.git-credentials"),
    ("floor.gh", "~/.config/gh"),
    ("floor.gcloud", "~/.config/gcloud"),
    ("floor.azure", "~/.azure"),
    ("floor.npmrc", "~/.npmrc"),
    ("floor.pypirc", "~/.pypirc"),
    ("floor.shell_history", "~/.bash_history"),
    ("floor.shell_history", "~/.zsh_history"),
    ("floor.shell_history", "~/.sh_history"),
    ("floor.shell_history", "~/.history"),
    ("floor.shell_history", "~/.python_history"),
    ("floor.shell_history", "~/.local/share/fish/fish_history"),
    ("floor.shell_history", "~/.psql_history"),
    ("floor.shell_history", "~/.mysql_history"),
)
SYSTEM_FLOOR: tuple[tuple[str, str], ...] = (
    ("floor.shadow", "/etc/shadow"),
    ("floor.shadow", "/etc/gshadow"),
    ("floor.shadow", "/etc/shadow-"),
    ("floor.shadow", "/etc/gshadow-"),
    ("floor.sudoers", "/etc/sudoers*"),
    ("floor.root_home", "/root"),
    ("floor.boot", "/boot"),
    ("floor.sys", "/sys"),
    ("floor.proc_sys", "/proc/sys"),
    ("floor.proc_secrets", "/proc/*/environ"),
    ("floor.proc_secrets", "/proc/*/mem"),
    ("floor.proc_secrets", "/proc/*/root"),
    ("floor.proc_secrets", "/proc/*/cwd"),
    ("floor.proc_secrets", "/proc/*/fd"),
    ("floor.proc_secrets", "/proc/*/task/*/environ"),
    ("floor.proc_secrets", "/proc/*/task/*/mem"),
    ("floor.proc_secrets", "/proc/*/task/*/root"),
    ("floor.proc_secrets", "/proc/*/task/*/cwd"),
    ("floor.proc_secrets", "/proc/*/task/*/fd"),
)
# Relative to ETHOS_HOME: stores the agent must never read or write.
ETHOS_HOME_FLOOR: tuple[tuple[str, str], ...] = (
    ("floor.ethos_secrets", "secrets"),
    ("floor.ethos_state", "state.db*"),
    ("floor.ethos_audit", "observability.db*"),
    ("floor.ethos_skills_lock", "skills.lock"),
    ("floor.ethos_checkpoints", "checkpoints"),
)


def _parts(path: str) -> tuple[str, ...]:
    return PurePosixPath(os.path.normpath(path)).parts


def floor_entries(home: str | None = None, ethos_home: str | None = None) -> list[tuple[str, tuple[str, ...]]]:
    """Every floor entry as (rule, absolute path parts) for the given user and ethos homes."""
    home = home or os.path.expanduser("~")
    entries = []
    for rule, pattern in HOME_FLOOR:
        entries.append((rule, _parts(home + pattern[1:])))
    for rule, pattern in SYSTEM_FLOOR:
        entries.append((rule, _parts(pattern)))
    if ethos_home:
        for rule, pattern in ETHOS_HOME_FLOOR:
            entries.append((rule, _parts(os.path.join(ethos_home, pattern))))
    return entries


def floor_rule(path: str, home: str | None = None, ethos_home: str | None = None) -> str | None:
    """Rule id when the absolute, normalised ``path`` is at or under a floor entry; else None."""
    parts = _parts(path)
    for rule, entry in floor_entries(home, ethos_home):
        if len(parts) < len(entry):
            continue
        if all(fnmatch.fnmatchcase(part, pat) for part, pat in zip(parts, entry, strict=False)):
            return rule
    return None


def is_env_file(path: str) -> bool:
    """``.env`` and ``.env.*`` files are secret-bearing."""
    name = PurePosixPath(path).name
    return name == ".env" or name.startswith(".env.")
