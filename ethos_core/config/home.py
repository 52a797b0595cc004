"""Load a whole ethos home: global config, every personality, their toolsets; and compute each
personality's *effective* policy (types.Personality) after the global floor.

Narrow-only: a personality's knobs can tighten the global values (watcher thresholds take the
minimum, the downgrade takes the maximum number of turns) but never loosen them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from ethos_core.config.load import Loaded, load_file, load_toolset, raise_if_errors
from ethos_core.config.model import GlobalConfig, PersonalityConfig, WatcherConfig
from ethos_core.errors import ConfigIssue
from ethos_core.runtime import HomePaths
from ethos_core.types import (
    ApprovalMode,
    FsReach,
    InjectionDefense,
    NetworkRule,
    ObservabilityMode,
    Personality,
    SafetyPolicy,
    WatcherPolicy,
)

PERSONALITY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
DEFAULT_DOWNGRADE_TURNS = 2
PROMPT_FILES = ("prompt.md", "SOUL.md", "system.md")


@attrs.frozen
class PersonalityFiles:
    id: str
    directory: Path
    config: PersonalityConfig
    toolset: frozenset[str]
    toolset_declared: bool
    prompt: str


@attrs.frozen
class HomeConfig:
    """Everything configured in one home, plus every issue found (errors and warnings)."""

    paths: HomePaths
    config: GlobalConfig
    personalities: dict[str, PersonalityFiles]
    issues: tuple[ConfigIssue, ...]
    secret_refs: tuple[tuple[str, str, int | None, str], ...]  # (ref, file, line, key path)

    @property
    def errors(self) -> list[ConfigIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[ConfigIssue]:
        return [i for i in self.issues if i.severity == "warning"]

    def raise_for_errors(self) -> None:
        raise_if_errors(self.issues)


def _refs(loaded: Loaded) -> list[tuple[str, str, int | None, str]]:
    return [(ref, loaded.file, line, key) for ref, line, key in loaded.secret_refs]


def load_home(root: Path | str, *, known_tools: Iterable[str] | None = None) -> HomeConfig:
    """Load the home at ``root``. Never raises for bad content: issues are collected.

    ``known_tools``, when given, turns unknown names in a toolset.yaml into errors.
    """
    paths = HomePaths(Path(root).expanduser())
    issues: list[ConfigIssue] = []
    refs: list[tuple[str, str, int | None, str]] = []
    global_config = GlobalConfig()
    if paths.config.exists():
        loaded = load_file(paths.config, GlobalConfig)
        issues.extend(loaded.issues)
        refs.extend(_refs(loaded))
        if loaded.value is not None:
            global_config = loaded.value
    personalities: dict[str, PersonalityFiles] = {}
    known = frozenset(known_tools) if known_tools is not None else None
    if paths.personalities.is_dir():
        for directory in sorted(p for p in paths.personalities.iterdir() if p.is_dir()):
            pid = directory.name
            if not PERSONALITY_ID.match(pid):
                issues.append(ConfigIssue(str(directory), None, None, "", f"invalid personality id {pid!r}"))
                continue
            cfg_path = directory / "config.yaml"
            pconfig = PersonalityConfig()
            if cfg_path.exists():
                loaded = load_file(cfg_path, PersonalityConfig)
                issues.extend(loaded.issues)
                refs.extend(_refs(loaded))
                if loaded.value is None:
                    continue
                pconfig = loaded.value
            tools, declared, tool_issues = load_toolset(directory / "toolset.yaml")
            issues.extend(tool_issues)
            if known is not None:
                for name in sorted(tools - known):
                    issues.append(
                        ConfigIssue(str(directory / "toolset.yaml"), _toolset_line(directory / "toolset.yaml", name), None,
                                    name, f"unknown tool {name!r} (known: {', '.join(sorted(known)) or 'none'})")
                    )
            prompt = ""
            if pconfig.prompt:
                prompt = pconfig.prompt
            else:
                for fname in PROMPT_FILES:
                    if (directory / fname).is_file():
                        prompt = (directory / fname).read_text(encoding="utf-8", errors="replace")
                        break
            personalities[pid] = PersonalityFiles(pid, directory, pconfig, tools, declared, prompt)
    issues.extend(_binding_warnings(global_config, personalities, paths))
    issues.extend(_policy_warnings(global_config, personalities))
    return HomeConfig(paths, global_config, personalities, tuple(issues), tuple(refs))


def _toolset_line(path: Path, name: str) -> int | None:
    try:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if name in line:
                return i
    except OSError:
        return None
    return None


def _binding_warnings(cfg: GlobalConfig, personalities: dict[str, PersonalityFiles], paths: HomePaths) -> list[ConfigIssue]:
    out = []
    for i, bot in enumerate(cfg.bots):
        if bot.personality not in personalities:
            out.append(ConfigIssue(str(paths.config), None, None, f"bots[{i}].personality",
                                   f"bot bound to personality {bot.personality!r}, which does not exist under personalities/",
                                   severity="warning"))
    return out


def _policy_warnings(cfg: GlobalConfig, personalities: dict[str, PersonalityFiles]) -> list[ConfigIssue]:
    out = []
    for _pid, p in personalities.items():
        for i, rule in enumerate(p.config.safety.network_reach or ()):
            if rule.host.strip() == "*":
                out.append(ConfigIssue(str(p.directory / "config.yaml"), None, None, f"safety.networkReach[{i}].host",
                                       "a bare '*' allows egress to every host; list the hosts this personality needs",
                                       severity="warning"))
    from ethos_core.audit.retention import retention_warnings

    try:
        messages = retention_warnings(cfg.observability.retention)
    except ValueError:
        messages = []  # malformed durations are reported as errors by the loader
    for message in messages:
        out.append(ConfigIssue("config.yaml", None, None, "observability.retention", message, severity="warning"))
    return out


def _min_opt(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


# Sequence windows are stricter when *longer* (an exfil call further after an untrusted read is
# still caught); every other threshold is stricter when smaller.
LONGER_IS_STRICTER = frozenset({"sequence_window_calls", "sequence_window_seconds"})


def _max_opt(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def effective_watcher(global_w: WatcherConfig, personal: WatcherConfig) -> WatcherPolicy:
    """Personality thresholds can only tighten the global ones."""
    values: dict[str, Any] = {}
    for field in attrs.fields(WatcherConfig):
        pick = _max_opt if field.name in LONGER_IS_STRICTER else _min_opt
        values[field.name] = pick(getattr(global_w, field.name), getattr(personal, field.name))
    return WatcherPolicy(**values)


def effective_personality(files: PersonalityFiles, cfg: GlobalConfig) -> Personality:
    """The floor-applied policy object that crosses hooks."""
    pc = files.config
    s = pc.safety
    reach = pc.fs_reach
    fs = FsReach(read=reach.read if reach else (), write=reach.write if reach else (), declared=reach is not None)
    network = tuple(NetworkRule(r.host, r.ports) for r in (s.network_reach or ()))
    safety = SafetyPolicy(
        approval_mode=ApprovalMode(s.approval_mode),
        injection_defense=InjectionDefense(s.injection_defense),
        network_reach=network,
        network_declared=s.network_reach is not None,
        observability=ObservabilityMode(s.observability),
        watcher=effective_watcher(cfg.watcher, s.watcher),
        downgrade_turns=max(DEFAULT_DOWNGRADE_TURNS, s.downgrade.turns),
        downgrade_extra_tools=frozenset(s.downgrade.tools),
        env_files=s.env_files,
    )
    model = pc.model
    return Personality(
        id=files.id,
        directory=str(files.directory),
        toolset=files.toolset,
        toolset_declared=files.toolset_declared,
        fs_reach=fs,
        safety=safety,
        model=model.name if model else None,
        provider=model.provider if model else None,
        system_prompt=files.prompt,
    )
