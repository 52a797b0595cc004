"""A lenient read of one ethos home for ``ethos harden check``.

The engine refuses a home whose configuration has errors (that is right for the engine); the
hardening check must still say *what* is wrong with it. So every file is loaded with the same
loader the engine uses (:mod:`ethos_core.config.load`), and when the only errors are literal
credentials the file is structured anyway, so the other checks can still judge the rest.

Invariant: :func:`scan_home` never raises for file content and never returns a secret value:
findings name file, line, key path and the credential *kind*, not the text that matched.
Not covered: files outside the home (an external ``secrets.file`` is the resolver's business)
and personality ``data/`` directories (agent data, not configuration).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from ethos_core.config.home import PERSONALITY_ID, PROMPT_FILES
from ethos_core.config.load import (
    CONVERTER,
    LITERAL_CREDENTIALS,
    SECRET_REF,
    Loaded,
    _plain,
    credential_issues,
    load_file,
    load_toolset,
    position,
    render_path,
    scan_strings,
)
from ethos_core.config.model import GlobalConfig, PersonalityConfig
from ethos_core.errors import ConfigIssue

# Files bigger than this are scanned only up to the limit (a finding says so).
MAX_SCAN_BYTES = 2 * 1024 * 1024
# Redaction labels that judge "key = value" prose; in configuration the YAML key is known and
# judged exactly instead (a literal value under a secret-looking key).
ASSIGNMENT_LABELS = frozenset({"secret_assignment", "secret_field"})
TEXT_SUFFIXES = (".yaml", ".yml", ".json", ".md", ".txt", ".toml", ".ini", ".cfg", ".conf")


@attrs.frozen
class Finding:
    """One problem at one place; ``render()`` gives ``file:line: detail``."""

    file: str
    line: int | None
    detail: str

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.detail}"


@attrs.frozen
class PersonalityScan:
    id: str
    directory: Path
    config: PersonalityConfig | None  # None: the file does not load even leniently
    tree: Any
    toolset: frozenset[str]
    toolset_declared: bool


@attrs.frozen
class HomeScan:
    root: Path
    config: GlobalConfig | None  # None: config.yaml does not load even leniently
    config_tree: Any
    personalities: dict[str, PersonalityScan]
    errors: tuple[ConfigIssue, ...]  # every configuration error except literal credentials
    plaintext: tuple[Finding, ...]

    def rel(self, path: str | Path) -> str:
        p = Path(path)
        try:
            return str(p.relative_to(self.root))
        except ValueError:
            return str(p)


def _lenient(loaded: Loaded, model: type[Any]) -> tuple[Any, list[ConfigIssue]]:
    """(model value or None, errors other than literal credentials)."""
    creds = set(credential_issues(loaded.tree, loaded.file)[0]) if loaded.tree is not None else set()
    errors = [i for i in loaded.issues if i.severity == "error" and i not in creds]
    if loaded.value is not None or errors or loaded.tree is None:
        return loaded.value, errors
    try:  # only literal credentials kept the loader from structuring it
        return CONVERTER.structure(_plain(loaded.tree), model), errors
    except Exception:  # noqa: BLE001 - the strict loader already reported why
        return None, errors


def scan_home(root: Path) -> HomeScan:
    root = root.expanduser()
    errors: list[ConfigIssue] = []
    config: GlobalConfig | None = GlobalConfig()
    tree: Any = None
    cfg_path = root / "config.yaml"
    if cfg_path.exists():
        loaded = load_file(cfg_path, GlobalConfig)
        config, errs = _lenient(loaded, GlobalConfig)
        tree = loaded.tree
        errors.extend(errs)
    personalities: dict[str, PersonalityScan] = {}
    pdir = root / "personalities"
    if pdir.is_dir():
        for directory in sorted(p for p in pdir.iterdir() if p.is_dir()):
            if not PERSONALITY_ID.match(directory.name):
                errors.append(ConfigIssue(str(directory), None, None, "", f"invalid personality id {directory.name!r}"))
                continue
            pconfig: PersonalityConfig | None = PersonalityConfig()
            ptree: Any = None
            if (directory / "config.yaml").exists():
                loaded = load_file(directory / "config.yaml", PersonalityConfig)
                pconfig, errs = _lenient(loaded, PersonalityConfig)
                ptree = loaded.tree
                errors.extend(errs)
            tools, declared, tool_issues = load_toolset(directory / "toolset.yaml")
            errors.extend(i for i in tool_issues if i.severity == "error")
            personalities[directory.name] = PersonalityScan(directory.name, directory, pconfig, ptree, tools, declared)
    scan = HomeScan(root, config, tree, personalities, tuple(errors), ())
    return attrs.evolve(scan, plaintext=tuple(find_plaintext(scan)))


# --- plaintext credentials -----------------------------------------------------------------


def scanned_files(root: Path) -> list[Path]:
    """Configuration-like files of the home: top-level files and every personality's files."""
    files: list[Path] = []
    for directory in [root, *sorted((root / "personalities").glob("*"))]:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if not path.is_file() or path.is_symlink():
                continue
            name = path.name
            if name.endswith(TEXT_SUFFIXES) or name == ".env" or name.startswith(".env.") or name in PROMPT_FILES:
                files.append(path)
    return files


def _text_labels(text: str) -> list[str]:
    """Credential kinds found in ``text`` (after removing ``${secrets:ref}`` references)."""
    from ethos_core.redaction import find_spans

    stripped = SECRET_REF.sub("", text)
    labels = sorted({s.label for s in find_spans(stripped) if s.label not in ASSIGNMENT_LABELS})
    if not labels:  # the config loader's own list, first match only (as the loader reports it)
        labels = [label for label, pattern in LITERAL_CREDENTIALS if pattern.search(stripped)][:1]
    return labels


def _tree_findings(tree: Any, file: str) -> Iterator[Finding]:
    """Decoded YAML scalars: catches escapes (``\\u002d``) and folded strings the line scan misses."""
    from ethos_core.redaction import is_secret_key

    for path, text, is_key in scan_strings(tree):
        line, _col = position(tree, path, at_key=is_key)
        labels = _text_labels(text)
        if labels:
            yield Finding(file, line, f"{_shown_path(path, is_key)}: looks like a literal {', '.join(labels)} credential")
            continue
        if not is_key and path and isinstance(path[-1], str) and is_secret_key(path[-1]):
            if SECRET_REF.sub("", text).strip():
                yield Finding(file, line, f"{_shown_path(path, is_key)}: a literal value under a secret key; "
                                          "write ${secrets:<ref>} instead")


def _shown_path(path: tuple[str | int, ...], is_key: bool) -> str:
    # A key that is itself a credential must not be echoed: show its parent instead.
    shown = render_path(path[:-1] if is_key else path)
    return shown or "(top level)"


def find_plaintext(scan: HomeScan) -> list[Finding]:
    findings: dict[tuple[str, int | None], Finding] = {}
    trees = {str(scan.root / "config.yaml"): scan.config_tree}
    for p in scan.personalities.values():
        trees[str(p.directory / "config.yaml")] = p.tree
    for path in scanned_files(scan.root):
        rel = scan.rel(path)
        try:
            with path.open("rb") as f:
                raw = f.read(MAX_SCAN_BYTES + 1)
        except OSError as exc:
            findings[(rel, None)] = Finding(rel, None, f"cannot read ({exc.strerror}); it was not checked")
            continue
        if len(raw) > MAX_SCAN_BYTES:
            findings[(rel, None)] = Finding(rel, None, f"larger than {MAX_SCAN_BYTES} bytes; only the start was checked")
            raw = raw[:MAX_SCAN_BYTES]
        text = raw.decode("utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            labels = _text_labels(line)
            if labels:
                findings.setdefault((rel, lineno), Finding(rel, lineno, f"looks like a literal {', '.join(labels)} credential"))
        tree = trees.get(str(path))
        if tree is not None:
            for found in _tree_findings(tree, rel):
                findings.setdefault((rel, found.line), found)
    return sorted(findings.values(), key=lambda f: (f.file, f.line or 0))


_WILDCARD_SUFFIX = re.compile(r"^\*\.[^.]+\.?$")


def is_wildcard_everything(host: str) -> bool:
    """``*`` (every host) or ``*.tld`` (every host under a top-level domain)."""
    h = host.strip().lower()
    return h in ("*", "*.", "**") or bool(_WILDCARD_SUFFIX.match(h))
