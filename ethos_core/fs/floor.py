"""The always-deny floor: one list of sensitive locations, shared by every layer that judges
paths (the filesystem boundary ⑨ and the shell blocklist ⑦). Nothing else keeps a copy.

Invariant: :func:`floor_rule` returns a rule id for any path at or under a floor entry, for
read and write alike, whatever fs_reach says. Paths are compared component-wise after
normalisation (``/a/b`` never matches ``/a/bc``) and case-insensitively (case-insensitive
filesystems would otherwise open ``~/.SSH``). ETHOS_HOME's stores are on the floor too.
What it does not do: resolve symlinks (the boundary resolves first and asks again).
"""

from __future__ import annotations

import fnmatch
import functools
import glob
import os
import re
from collections.abc import Callable
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


_GLOB_CHARS = frozenset("*?[")


class _Node:
    """One component of the floor trie: literal children by name, glob children in a list
    (each with its pattern compiled the way :func:`fnmatch.fnmatchcase` compiles it)."""

    __slots__ = ("globs", "literal", "rule")

    def __init__(self) -> None:
        self.rule: str | None = None
        self.literal: dict[str, _Node] = {}
        self.globs: list[tuple[str, Callable[[str], re.Match[str] | None], _Node]] = []

    def child(self, part: str) -> _Node:
        part = part.casefold()
        if _GLOB_CHARS.isdisjoint(part):
            return self.literal.setdefault(part, _Node())
        for pattern, _match, node in self.globs:
            if pattern == part:
                return node
        node = _Node()
        self.globs.append((part, re.compile(fnmatch.translate(part)).match, node))
        return node


class FloorMatcher:
    """The floor compiled into a component trie: a lookup costs O(depth), not O(entries).

    An entry matches a path at or under it, each component compared with ``fnmatch``
    *case-insensitively* (``~/.SSH`` is the key directory on a case-insensitive filesystem; on
    a case-sensitive one refusing it costs nothing); the first entry in list order wins.
    """

    def __init__(self, entries: list[tuple[str, tuple[str, ...]]]) -> None:
        self._root = _Node()
        self._order: dict[str, int] = {}
        for index, (rule, parts) in enumerate(entries):
            node = self._root
            for part in parts:
                node = node.child(part)
            if node.rule is None:
                node.rule = rule
                self._order.setdefault(rule, index)

    def match_parts(self, parts: tuple[str, ...]) -> str | None:
        """Rule id for normalised absolute path ``parts`` (as from ``PurePosixPath.parts``)."""
        found: list[str] = []
        self._walk(self._root, parts, 0, found)
        if not found:
            return None
        return min(found, key=lambda rule: self._order.get(rule, 0))

    def _walk(self, node: _Node, parts: tuple[str, ...], depth: int, found: list[str]) -> None:
        end = len(parts)
        while True:
            if node.rule is not None:
                found.append(node.rule)
            if depth >= end:
                return
            part = parts[depth].casefold()
            for _pattern, match, glob_node in node.globs:
                if match(part) is not None:
                    self._walk(glob_node, parts, depth + 1, found)
            nxt = node.literal.get(part)
            if nxt is None:
                return
            node, depth = nxt, depth + 1

    def match(self, path: str) -> str | None:
        return self.match_parts(_parts(path))


@functools.lru_cache(maxsize=64)
def floor_matcher(home: str | None = None, ethos_home: str | None = None) -> FloorMatcher:
    """The compiled floor for one (user home, ethos home) pair; cached."""
    return FloorMatcher(floor_entries(home, ethos_home))


def floor_rule(path: str, home: str | None = None, ethos_home: str | None = None) -> str | None:
    """Rule id when the absolute, normalised ``path`` is at or under a floor entry; else None."""
    return floor_matcher(home or os.path.expanduser("~"), ethos_home).match(path)


def floor_literal_paths(home: str | None = None, ethos_home: str | None = None, *, system: bool = True) -> list[str]:
    """Floor entries as concrete paths (globs expanded against the disk), for identity checks.

    ETHOS_HOME and user-home entries come first, system entries last (``system=False`` leaves
    them out). Virtual filesystems (``/proc``, ``/sys``) are left out: nothing hardlinks into them.
    """
    paths: list[str] = []
    home = home or os.path.expanduser("~")
    entries = floor_entries(home, ethos_home)
    system_parts = {_parts(pattern) for _rule, pattern in SYSTEM_FLOOR}
    ordered = [e for e in entries if e[1] not in system_parts][::-1]
    if system:
        ordered += [e for e in entries if e[1] in system_parts]
    for _rule, parts in ordered:
        if len(parts) > 1 and parts[1] in ("proc", "sys"):
            continue
        text = os.path.join(*parts)
        if _GLOB_CHARS.isdisjoint(text):
            paths.append(text)
        else:
            paths.extend(sorted(glob.glob(glob.escape(os.path.dirname(text)) + "/" + os.path.basename(text))))
    return paths


def is_env_file(path: str) -> bool:
    """``.env`` and ``.env.*`` files are secret-bearing."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name == ".env" or name.startswith(".env.")
