"""The install-time scanner: vet a skill artifact without importing or executing any of it.

Invariant: :func:`scan` reads a wheel, an sdist (tar.gz/bz2/xz or zip), a source directory or
an installed distribution (its RECORD files, hash-checked, plus unrecorded files beside them)
through the bounded readers of :mod:`ethos_core.skills.archive`, and decides every rule of
:mod:`ethos_core.skills.rules` on bytes, text and ASTs only. An artifact whose structure is
unsafe (path escapes, links, bombs, oversize, unreadable) is *refused*: its report says so and
nothing about it can be accepted. Every finding carries rule id, severity, file, line and a
bounded excerpt.

Checks: Python code (:mod:`pyscan`), obfuscation, install/start-up code (setup.py logic, .pth
imports, console scripts shadowing system commands, in-tree build backends), native and
bytecode binaries, archive structure, manifest validity, declared-versus-actual capabilities
and dependencies, entry points that leave the distribution, tool poisoning in descriptions and
README/SKILL text (the injection classifier of :mod:`ethos_core.injection` when present, hidden
Unicode, pipe-to-shell instructions) and typosquatted names.

Not covered: behaviour of dependencies (scan each), code hidden from static analysis by
techniques not listed in rules.py, semantic review of what a tool claims to do. Source trees
and sdists are scanned without their ``tests/`` directories (tests are not installed).
"""

from __future__ import annotations

import ast
import configparser
import email.parser
import importlib.metadata as md
import re
import shutil
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from ethos_core.skills import archive as ar
from ethos_core.skills.findings import EntryPointRef, Finding, ScannedFile, ScanReport, excerpt
from ethos_core.skills.manifest import (
    MANIFEST_FILE,
    ManifestError,
    SkillManifest,
    normalize_name,
    parse_manifest,
    skill_table_from_pyproject,
)
from ethos_core.skills.pyscan import ALLOWED_SKILL_HOOKS, HIDDEN_RE, PyFacts, scan_python
from ethos_core.skills.typosquat import typosquat_of

SKILL_GROUP = "ethos.skills"
POLICY_GROUP = "ethos.plugins"
NATIVE_SUFFIXES = (".so", ".pyd", ".dll", ".dylib", ".exe", ".bin", ".elf", ".o", ".a", ".lib")
NATIVE_MAGIC = (b"\x7fELF", b"MZ", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",
                b"\xca\xfe\xba\xbe", b"\x00asm")
BYTECODE_SUFFIXES = (".pyc", ".pyo")
MEDIA_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".ico", ".webp", ".svg", ".woff", ".woff2", ".ttf", ".otf", ".pdf")
NESTED_ARCHIVES = (".zip", ".whl", ".egg", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".jar")
DOC_NAMES = re.compile(r"(?i)(^|/)(readme|skill|agents|claude|instructions|prompt)[^/]*\.(md|rst|txt)$|\.(md|rst)$")
SYSTEM_COMMANDS = frozenset({
    "ls", "cat", "cp", "mv", "rm", "sh", "bash", "zsh", "dash", "fish", "python", "python3", "pip", "pip3", "git",
    "ssh", "scp", "sudo", "su", "curl", "wget", "env", "which", "find", "grep", "sed", "awk", "tar", "gzip", "make",
    "gcc", "cc", "node", "npm", "npx", "docker", "kubectl", "systemctl", "login", "passwd", "chmod", "chown", "ln",
    "ps", "kill", "top", "less", "more", "vi", "vim", "nano", "openssl", "gpg", "ssh-agent", "ssh-add", "ethos",
    "pytest", "uv", "pipx", "poetry", "tox", "ruff", "mypy", "id", "whoami", "date", "echo", "test", "true", "false",
})
PIPE_TO_SHELL = re.compile(
    r"(?is)\b(?:curl|wget|fetch|iwr|invoke-webrequest|irm|invoke-restmethod)\b[^\n|]{0,300}\|\s*(?:sudo\s+)?"
    r"(?:ba|z|da|k|fi)?sh\b|\b(?:curl|wget|iwr|irm|invoke-webrequest|invoke-restmethod)\b[^\n|]{0,300}\|\s*(?:iex|invoke-expression|python3?|perl|ruby|node)\b"
    r"|(?:ba|z)?sh\s+<\(\s*(?:curl|wget)|python3?\s+-c\s+[\"']?\s*import\s+urllib"
)
ALLOWED_DEPENDENCIES = frozenset({"ethos-core"})


class ScanRule(Protocol):
    """An extra rule (``ethos_scan_rules``): sees each file's path and bytes, returns findings."""

    def check(self, path: str, data: bytes) -> Iterable[Finding]: ...


def _injection_signals(text: str) -> list[str]:
    try:
        from ethos_core.injection.classifier import classify
    except ImportError:  # fallback when the injection engine is absent from this build
        lowered = text.lower()
        needles = ("ignore previous instructions", "ignore all previous", "disregard previous", "system prompt",
                   "you must always", "do not tell the user", "before using this tool", "<important>")
        return [n for n in needles if n in lowered]
    result = classify(text)
    return [s for s in result.signals if s != "inj.hidden_unicode"]


def _poison_checks(path: str, text: str, line_of: Callable[[int], int], findings: list[Finding]) -> None:
    for m in HIDDEN_RE.finditer(text):
        findings.append(Finding("poison.hidden_unicode", path, line_of(m.start()), excerpt(text[max(0, m.start() - 40): m.start() + 40]),
                                f"U+{ord(m.group()):04X} hidden in text the agent or operator reads"))
        break
    for m in PIPE_TO_SHELL.finditer(text):
        findings.append(Finding("poison.pipe_to_shell", path, line_of(m.start()), excerpt(m.group()), "pipes a download into an interpreter"))
        break
    signals = _injection_signals(text)
    if signals:
        findings.append(Finding("poison.injection", path, None, excerpt(text[:200]), "injection signals: " + ", ".join(signals)))


def _line_index(text: str) -> Callable[[int], int]:
    starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_of(offset: int) -> int:
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    return line_of


def _setup_py_findings(path: str, text: str) -> list[Finding]:
    """setup.py may import setuptools and call setup() with literal arguments; anything else is logic."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return [Finding("install.setup_logic", path, None, "", "setup.py does not parse")]
    lines = text.splitlines()
    out: list[Finding] = []

    def literal(node: ast.AST) -> bool:
        try:
            ast.literal_eval(node)
            return True
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            return False

    for stmt in tree.body:
        ok = False
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            ok = True  # docstring
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module or ""]
            ok = all(m.split(".")[0] in ("setuptools", "distutils") for m in mods)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            call = stmt.value
            name = call.func.id if isinstance(call.func, ast.Name) else call.func.attr if isinstance(call.func, ast.Attribute) else ""
            ok = name == "setup" and all(literal(a) for a in call.args) and all(kw.arg is not None and literal(kw.value) for kw in call.keywords)
        if not ok:
            line = getattr(stmt, "lineno", 1)
            out.append(Finding("install.setup_logic", path, line, excerpt(lines[line - 1] if line <= len(lines) else ""),
                               "setup.py runs code beyond setup(<literals>) at install time"))
    return out


def _parse_entry_points(text: str) -> list[EntryPointRef]:
    cp = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read_string(text)
    return [EntryPointRef(section, name.strip(), value.strip()) for section in cp.sections() for name, value in cp.items(section)]


def _pyproject_entry_points(project: dict[str, Any]) -> list[EntryPointRef]:
    out: list[EntryPointRef] = []
    for group_key, group in (("scripts", "console_scripts"), ("gui-scripts", "gui_scripts")):
        for name, value in (project.get(group_key) or {}).items():
            out.append(EntryPointRef(group, str(name), str(value)))
    for group, table in (project.get("entry-points") or {}).items():
        if isinstance(table, dict):
            for name, value in table.items():
                out.append(EntryPointRef(str(group), str(name), str(value)))
    return out


def _requirement_name(req: str) -> str | None:
    if ";" in req and "extra" in req.split(";", 1)[1]:
        return None  # optional extras are never installed by ethos
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    return normalize_name(m.group(1)) if m else None


class _Collected:
    """What the scanner learns while walking the files."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.facts = PyFacts()
        self.manifests: list[tuple[str, Any]] = []
        self.entry_points: list[EntryPointRef] = []
        self.name: str | None = None
        self.version: str | None = None
        self.requires: list[str] = []
        self.python_bytes = 0
        self.modules: set[str] = set()


def _strip_prefix(art: ar.Artifact) -> str:
    """sdists wrap everything in ``name-version/``: return that prefix ('' otherwise)."""
    if art.kind != "sdist" or not art.files:
        return ""
    first = {PurePosixPath(f.path).parts[0] for f in art.files if "/" in f.path}
    return (next(iter(first)) + "/") if len(first) == 1 else ""


def _is_test_path(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return "tests" in parts or "test" in parts or parts[-1] == "conftest.py"


def scan(
    target: str | Path,
    *,
    limits: ar.Limits | None = None,
    installed: set[str] | None = None,
    extra_rules: Sequence[ScanRule] = (),
    progress: Callable[[int, int], None] | None = None,
    check_typosquat: bool = True,
) -> ScanReport:
    """Scan a wheel, sdist, directory, or the installed distribution named ``target``.

    ``progress(done, total)`` is called after each file; ``extra_rules`` come from ``ethos_scan_rules``.
    """
    started = time.perf_counter()
    limits = limits or ar.Limits()
    art = read_artifact(target, limits)
    col = _Collected()
    col.findings.extend(art.findings)
    prefix = _strip_prefix(art)
    source_like = art.kind in ("sdist", "directory")
    for done, f in enumerate(art.files, 1):
        rel = f.path[len(prefix):] if prefix and f.path.startswith(prefix) else f.path
        _scan_file(art.kind, rel, f.data, col, source_like, extra_rules)
        if progress is not None:
            progress(done, len(art.files))
    manifest = _settle_manifest(col)
    _entry_point_checks(col, art.kind)
    if manifest is not None:
        _declared_vs_actual(manifest, col)
    has_skill_ep = any(ep.group == SKILL_GROUP for ep in col.entry_points)
    if has_skill_ep:
        for path, line, hook in col.facts.hooks:
            if hook not in ALLOWED_SKILL_HOOKS and not _is_test_path(path):
                col.findings.append(Finding("code.stage_hook", path, line, f"def {hook}", f"skills may not implement {hook}"))
        if manifest is None and not any(f.rule.startswith("manifest.") for f in col.findings):
            col.findings.append(Finding("manifest.missing", "pyproject.toml", None, "", "an ethos.skills entry point but no [tool.ethos.skill]"))
    elif not art.refused and not any(ep.group == POLICY_GROUP for ep in col.entry_points):
        col.findings.append(Finding("manifest.not_a_skill", "entry_points.txt", None, "", "no ethos.skills entry point"))
    if check_typosquat and col.name:
        other = typosquat_of(col.name, installed)
        if other:
            col.findings.append(Finding("name.typosquat", "METADATA", None, col.name, f"one edit away from {other!r}"))
    findings = tuple(sorted(_dedupe(col.findings), key=lambda x: (x.severity != "red", x.path, x.line or 0, x.rule)))
    return ScanReport(
        target=art.target, kind=art.kind, distribution=col.name, version=col.version, findings=findings,
        files=tuple(ScannedFile(f.path, len(f.data), f.sha256) for f in art.files), manifest=manifest,
        entry_points=tuple(col.entry_points), requires=tuple(col.requires), refused=art.refused,
        bytes_scanned=art.total, python_bytes=col.python_bytes, seconds=time.perf_counter() - started,
    )


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, str, int | None, str]] = set()
    out = []
    for f in findings:
        key = (f.rule, f.path, f.line, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def read_artifact(target: str | Path, limits: ar.Limits) -> ar.Artifact:
    """Pick the reader: directory, wheel/zip, tarball, or an installed distribution's name."""
    path = Path(target)
    lowered = str(target).lower()
    if path.is_dir():
        return ar.read_directory(path, limits)
    if path.is_file():
        if lowered.endswith(".whl"):
            return ar.read_zip(path, "wheel", limits)
        if lowered.endswith(".zip"):
            return ar.read_zip(path, "sdist", limits)
        if lowered.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")):
            return ar.read_tar(path, limits)
        art = ar.Artifact(str(target), "unknown")
        art.refuse("archive.unreadable", path.name, "not a .whl, .zip, .tar.gz/.bz2/.xz or directory")
        return art
    try:
        dist = md.distribution(str(target))
    except md.PackageNotFoundError:
        art = ar.Artifact(str(target), "unknown")
        art.refuse("archive.unreadable", str(target), "no such file, directory or installed distribution")
        return art
    return ar.read_installed(dist, limits)


def _scan_file(kind: str, rel: str, data: bytes, col: _Collected, source_like: bool,
               extra_rules: Sequence[ScanRule]) -> None:
    lower = rel.lower()
    name = PurePosixPath(rel).name
    parts = PurePosixPath(rel).parts
    in_dist_info = any(p.endswith(".dist-info") for p in parts[:1])
    for rule in extra_rules:
        try:
            col.findings.extend(rule.check(rel, data))
        except Exception as exc:  # noqa: BLE001 - a broken extra rule must not hide the others
            col.findings.append(Finding("archive.unreadable", rel, None, "", f"extra scan rule failed: {type(exc).__name__}"))
    # metadata files
    if in_dist_info or (source_like and len(parts) == 1):
        _metadata_file(kind, rel, name, data, col)
    if source_like and _is_test_path(rel):
        return
    if lower.endswith(BYTECODE_SUFFIXES):
        col.findings.append(Finding("binary.bytecode", rel, None, name, "compiled bytecode"))
        return
    if lower.endswith(NATIVE_SUFFIXES) or data.startswith(NATIVE_MAGIC) and not lower.endswith((".py", ".txt", ".md")):
        col.findings.append(Finding("binary.native", rel, None, name, "native code"))
        return
    if lower.endswith(".py"):
        text = data.decode("utf-8", errors="replace")
        col.python_bytes += len(data)
        if len(parts) == 1 and not in_dist_info:
            col.modules.add(parts[0][:-3])
        elif len(parts) >= 2 and name == "__init__.py":
            col.modules.add(parts[0] if parts[0] != "src" else parts[1])
        if name == "setup.py" and len(parts) == 1:
            col.findings.extend(_setup_py_findings(rel, text))
            return
        col.findings.extend(scan_python(rel, text, col.facts))
        return
    if lower.endswith(".pth"):
        text = data.decode("utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("import ", "import\t")):
                col.findings.append(Finding("install.pth_import", rel, lineno, excerpt(stripped), "runs at every interpreter start"))
            elif stripped and not stripped.startswith("#"):
                col.findings.append(Finding("install.pth_path", rel, lineno, excerpt(stripped), "adds to sys.path"))
        return
    if lower.endswith(MEDIA_SUFFIXES):
        return
    if lower.endswith(NESTED_ARCHIVES) or b"\x00" in data[:8192]:
        col.findings.append(Finding("binary.opaque", rel, None, name, "opaque binary or nested archive (not reviewed)"))
        return
    if DOC_NAMES.search(rel) or name == "METADATA" or name == "PKG-INFO":
        text = data.decode("utf-8", errors="replace")
        _poison_checks(rel, text, _line_index(text), col.findings)
    if name == MANIFEST_FILE:
        try:
            table = tomllib.loads(data.decode("utf-8"))
            nested = table.get("tool", {}).get("ethos", {}).get("skill") if isinstance(table.get("tool"), dict) else None
            col.manifests.append((rel, nested if nested is not None else table))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            col.findings.append(Finding("manifest.invalid", rel, None, "", f"not TOML: {exc}"))


def _metadata_file(kind: str, rel: str, name: str, data: bytes, col: _Collected) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        if name in ("METADATA", "PKG-INFO"):
            msg = email.parser.Parser().parsestr(text, headersonly=True)
            col.name = col.name or msg.get("Name")
            col.version = col.version or msg.get("Version")
            if name == "METADATA" or not col.requires:
                col.requires = [str(r) for r in (msg.get_all("Requires-Dist") or [])]
        elif name == "entry_points.txt":
            col.entry_points.extend(_parse_entry_points(text))
        elif name == "pyproject.toml":
            data_toml = tomllib.loads(text)
            table = skill_table_from_pyproject(text)
            if table is not None:
                col.manifests.append((rel, table))
            project = data_toml.get("project") or {}
            if kind in ("directory", "sdist") and "/" not in rel:
                col.name = col.name or project.get("name")
                col.version = col.version or (str(project["version"]) if "version" in project else None)
                if not col.requires:
                    col.requires = [str(r) for r in project.get("dependencies") or []]
                if not any(e.group in (SKILL_GROUP, "console_scripts") for e in col.entry_points):
                    col.entry_points.extend(_pyproject_entry_points(project))
                backend = data_toml.get("build-system") or {}
                if backend.get("backend-path"):
                    col.findings.append(Finding("install.build_backend", rel, None, str(backend.get("build-backend")),
                                                "the build runs the author's own backend code"))
    except (tomllib.TOMLDecodeError, configparser.Error, ValueError, KeyError) as exc:
        col.findings.append(Finding("manifest.invalid", rel, None, "", f"{type(exc).__name__}: {exc}"))


def _settle_manifest(col: _Collected) -> SkillManifest | None:
    parsed: list[tuple[str, SkillManifest]] = []
    for rel, table in col.manifests:
        try:
            parsed.append((rel, parse_manifest(table)))
        except ManifestError as exc:
            for problem in exc.problems:
                col.findings.append(Finding("manifest.invalid", rel, None, excerpt(problem), problem))
    if not parsed:
        return None
    first = parsed[0][1]
    for rel, other in parsed[1:]:
        if other.to_json() != first.to_json():
            col.findings.append(Finding("manifest.mismatch", rel, None, "", f"differs from {parsed[0][0]}"))
    if any(f.rule == "manifest.invalid" for f in col.findings):
        return None
    for tool in first.tools:
        text = tool.description
        _poison_checks(f"manifest:tools.{tool.name}.description", text, lambda _o: 1, col.findings)
    _poison_checks("manifest:description", first.description, lambda _o: 1, col.findings)
    return first


def _entry_point_checks(col: _Collected, kind: str) -> None:
    for ep in col.entry_points:
        if ep.group in ("console_scripts", "gui_scripts"):
            if ep.name in SYSTEM_COMMANDS or (shutil.which(ep.name) is not None and kind != "installed"):
                col.findings.append(Finding("install.console_shadow", "entry_points.txt", None, f"{ep.name} = {ep.value}",
                                            f"console script {ep.name!r} shadows a system command"))
        top = ep.module.split(".")[0]
        if ep.group in (SKILL_GROUP, POLICY_GROUP, "console_scripts", "gui_scripts") and top not in col.modules:
            col.findings.append(Finding("entrypoint.outside", "entry_points.txt", None, f"{ep.name} = {ep.value}",
                                        f"module {ep.module!r} is not part of this distribution"))


def _declared_vs_actual(manifest: SkillManifest, col: _Collected) -> None:
    caps = manifest.union()
    facts = col.facts

    def report(rule: str, uses: list[tuple[str, int]], what: str) -> None:
        for path, line in uses[:5]:
            if not _is_test_path(path):
                col.findings.append(Finding(rule, path, line, "", f"{what} but no tool declares it"))

    if not caps.network:
        report("manifest.undeclared_network", facts.network, "uses the network")
    if not caps.executables:
        report("manifest.undeclared_exec", facts.exec, "runs programs")
    if not (caps.fs_read or caps.fs_write):
        report("manifest.undeclared_fs", facts.fs, "touches files")
    for path, line, ref in facts.secrets:
        if ref not in caps.secrets and not _is_test_path(path):
            col.findings.append(Finding("manifest.undeclared_secret", path, line, ref, f"asks for secret {ref!r}"))
    allowed = ALLOWED_DEPENDENCIES | {normalize_name(d.split(";")[0].split("[")[0].strip().split(" ")[0].rstrip("<>=!~"))
                                      for d in manifest.dependencies}
    allowed |= {n for n in (_requirement_name(d) for d in manifest.dependencies) if n}
    for req in col.requires:
        name = _requirement_name(req)
        if name and name not in allowed:
            col.findings.append(Finding("manifest.undeclared_dependency", "METADATA", None, req,
                                        f"Requires-Dist {name!r} is not in the manifest's dependencies"))
