"""The skill manifest: ``[tool.ethos.skill]`` in a skill's pyproject.toml.

Invariant: a manifest that parses is complete and strict — every tool has a name, a description
and capabilities made only of the known keys with the right types; unknown keys are errors.
The manifest is what the scanner compares the code against (declared versus actual), what the
lockfile records, and what registration enforces: a tool may only register the capabilities its
manifest entry implies.

Where it lives: in pyproject.toml (source trees, sdists) and, carried into the wheel, as
``<name>.dist-info/licenses/pyproject.toml`` (setuptools ``license-files = ["pyproject.toml"]``)
or as a package-data file ``ethos-skill.toml`` holding the same table without the
``[tool.ethos.skill]`` prefix. Two copies in one artifact must agree.

Not covered: whether the declared capabilities are *sensible* for the tool's purpose — that is
the operator's judgement at install time (``ethos skill scan`` prints them).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any

import attrs

from ethos_core.types import Capability

MANIFEST_FILE = "ethos-skill.toml"
TOOL_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
HOST_RE = re.compile(r"^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")
EXECUTABLE_RE = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")
CAPABILITY_KEYS = ("fs-read", "fs-write", "network", "executables", "secrets", "exfil", "untrusted-output")
ALWAYS_ALLOWED = frozenset({Capability.UNTRUSTED_OUTPUT})  # only narrows (more wrapping)


class ManifestError(ValueError):
    """The manifest is missing, malformed or inconsistent; ``problems`` lists every issue."""

    def __init__(self, problems: list[str]):
        self.problems = tuple(problems)
        super().__init__("; ".join(problems))


@attrs.frozen
class ToolCapabilities:
    fs_read: tuple[str, ...] = ()
    fs_write: tuple[str, ...] = ()
    network: tuple[str, ...] = ()  # hosts, exact or *.domain
    executables: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    exfil: bool = False
    untrusted_output: bool = False

    def tags(self) -> frozenset[str]:
        """The ToolSpec capability tags this declaration allows."""
        tags = set(ALWAYS_ALLOWED)
        if self.fs_read or self.fs_write:
            tags.add(Capability.READ_FS)
        if self.fs_write:
            tags.add(Capability.WRITE_FS)
        if self.network:
            tags.add(Capability.NETWORK)
        if self.executables:
            tags.add(Capability.EXEC)
        if self.secrets:
            tags.add(Capability.SECRETS)
        if self.exfil:
            tags.add(Capability.EXFIL)
        return frozenset(tags)

    def to_json(self) -> dict[str, Any]:
        return {"fs-read": list(self.fs_read), "fs-write": list(self.fs_write), "network": list(self.network),
                "executables": list(self.executables), "secrets": list(self.secrets), "exfil": self.exfil,
                "untrusted-output": self.untrusted_output}


@attrs.frozen
class ToolManifest:
    name: str
    description: str
    capabilities: ToolCapabilities = ToolCapabilities()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "capabilities": self.capabilities.to_json()}


@attrs.frozen
class SkillManifest:
    description: str
    tools: tuple[ToolManifest, ...]
    dependencies: tuple[str, ...] = ()
    name: str | None = None

    def tool(self, name: str) -> ToolManifest | None:
        return next((t for t in self.tools if t.name == name), None)

    def union(self) -> ToolCapabilities:
        """Every capability any tool declares (what the code as a whole may use)."""
        def cat(attr: str) -> tuple[str, ...]:
            return tuple(sorted({v for t in self.tools for v in getattr(t.capabilities, attr)}))

        return ToolCapabilities(cat("fs_read"), cat("fs_write"), cat("network"), cat("executables"), cat("secrets"),
                                any(t.capabilities.exfil for t in self.tools),
                                any(t.capabilities.untrusted_output for t in self.tools))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"description": self.description, "dependencies": list(self.dependencies),
                               "tools": [t.to_json() for t in self.tools]}
        if self.name:
            out["name"] = self.name
        return out


def _str_list(value: Any, where: str, problems: list[str], pattern: re.Pattern[str] | None = None) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.append(f"{where}: expected a list of non-empty strings")
        return ()
    if pattern is not None:
        for v in value:
            if not pattern.match(v):
                problems.append(f"{where}: {v!r} is not valid")
    return tuple(value)


def _capabilities(raw: Any, where: str, problems: list[str]) -> ToolCapabilities:
    if raw is None:
        return ToolCapabilities()
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a table")
        return ToolCapabilities()
    for key in raw:
        if key not in CAPABILITY_KEYS:
            problems.append(f"{where}: unknown key {key!r} (known: {', '.join(CAPABILITY_KEYS)})")
    for flag in ("exfil", "untrusted-output"):
        if flag in raw and not isinstance(raw[flag], bool):
            problems.append(f"{where}.{flag}: expected true or false")
    return ToolCapabilities(
        fs_read=_str_list(raw.get("fs-read", []), f"{where}.fs-read", problems),
        fs_write=_str_list(raw.get("fs-write", []), f"{where}.fs-write", problems),
        network=_str_list(raw.get("network", []), f"{where}.network", problems, HOST_RE),
        executables=_str_list(raw.get("executables", []), f"{where}.executables", problems, EXECUTABLE_RE),
        secrets=_str_list(raw.get("secrets", []), f"{where}.secrets", problems),
        exfil=raw.get("exfil", False) is True,
        untrusted_output=raw.get("untrusted-output", False) is True,
    )


def parse_manifest(table: Any) -> SkillManifest:
    """Validate the ``[tool.ethos.skill]`` table; raises :class:`ManifestError` with every problem."""
    problems: list[str] = []
    if not isinstance(table, Mapping):
        raise ManifestError(["[tool.ethos.skill] must be a table"])
    for key in table:
        if key not in ("name", "description", "dependencies", "tools"):
            problems.append(f"unknown key {key!r} in [tool.ethos.skill]")
    description = table.get("description")
    if not isinstance(description, str) or not description.strip():
        problems.append("description: a non-empty string is required")
    name = table.get("name")
    if name is not None and not isinstance(name, str):
        problems.append("name: expected a string")
    dependencies = _str_list(table.get("dependencies", []), "dependencies", problems)
    raw_tools = table.get("tools")
    tools: list[ToolManifest] = []
    if not isinstance(raw_tools, list) or not raw_tools:
        problems.append("tools: at least one [[tool.ethos.skill.tools]] entry is required")
        raw_tools = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_tools):
        where = f"tools[{i}]"
        if not isinstance(raw, Mapping):
            problems.append(f"{where}: expected a table")
            continue
        for key in raw:
            if key not in ("name", "description", "capabilities"):
                problems.append(f"{where}: unknown key {key!r}")
        tname = raw.get("name")
        if not isinstance(tname, str) or not TOOL_NAME_RE.match(tname):
            problems.append(f"{where}.name: a tool name ([A-Za-z][A-Za-z0-9_.-]*) is required")
            tname = f"?{i}"
        elif tname in seen:
            problems.append(f"{where}.name: duplicate tool name {tname!r}")
        seen.add(tname)
        tdesc = raw.get("description")
        if not isinstance(tdesc, str) or not tdesc.strip():
            problems.append(f"{where}.description: a non-empty string is required")
            tdesc = ""
        tools.append(ToolManifest(tname, tdesc, _capabilities(raw.get("capabilities"), f"{where}.capabilities", problems)))
    if problems:
        raise ManifestError(problems)
    return SkillManifest(description=str(description), tools=tuple(tools), dependencies=dependencies,
                         name=name if isinstance(name, str) else None)


def skill_table_from_pyproject(text: str) -> Any | None:
    """The ``[tool.ethos.skill]`` table of a pyproject.toml text, or None when absent."""
    data = tomllib.loads(text)
    tool = data.get("tool")
    if not isinstance(tool, Mapping):
        return None
    ethos = tool.get("ethos")
    if not isinstance(ethos, Mapping):
        return None
    return ethos.get("skill")


def manifest_from_json(data: Mapping[str, Any]) -> SkillManifest:
    """Inverse of :meth:`SkillManifest.to_json` (the lockfile copy)."""
    return parse_manifest(dict(data))


def normalize_name(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()
