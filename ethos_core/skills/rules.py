"""Stable rule ids of the install-time scanner, with severity and a one-line meaning.

The same id appears in a finding, the ``install.scan`` audit event, ``ethos skill scan`` output
(table, JSON, SARIF), ``--accept`` and docs/skill-authoring.md. Severity ``red`` blocks an
install unless the operator names the rule with ``--accept``; ``yellow`` is reported (and, for
untrusted artifacts, must be accepted too). Rules marked not overridable cannot be accepted at
all: they mean the artifact cannot even be read safely or is not a skill.
"""

from __future__ import annotations

import attrs

RED = "red"
YELLOW = "yellow"


@attrs.frozen
class RuleInfo:
    id: str
    severity: str
    summary: str
    overridable: bool = True


_RULES: tuple[RuleInfo, ...] = (
    # --- Python code (AST) ----------------------------------------------------------------
    RuleInfo("code.subprocess", RED, "starts processes (subprocess, os.popen, os.spawn*, os.exec*); use ethos_core.skills.runtime.run"),
    RuleInfo("code.os_system", RED, "runs a shell command through os.system"),
    RuleInfo("code.pty", RED, "spawns a pseudo-terminal (pty)"),
    RuleInfo("code.dynamic_exec", RED, "evaluates code at run time (exec, eval, compile)"),
    RuleInfo("code.dynamic_import", RED, "imports a module whose name is computed (__import__, importlib)"),
    RuleInfo("code.native_ffi", RED, "calls native code through ctypes or cffi"),
    RuleInfo("code.socket", RED, "opens raw sockets"),
    RuleInfo("code.raw_http", RED, "uses an HTTP client outside the engine's safe fetch (requests, urllib, httpx, aiohttp, …)"),
    RuleInfo("code.deserialize", RED, "deserialises code-carrying data (pickle, marshal, shelve, dill loads)"),
    RuleInfo("code.secret_path", RED, "reads the home directory or a secret path (~/.ssh, ~/.aws, the ethos home, …)"),
    RuleInfo("code.secret_env", RED, "reads *_KEY / *_TOKEN / *_SECRET / password variables or dumps the environment"),
    RuleInfo("code.engine_internals", RED, "imports ethos internals a skill must not touch (engine, runtime, secrets, audit)"),
    RuleInfo("code.stage_hook", RED, "a skill defines a stage decision hook; skills may only register tools and observe"),
    RuleInfo("code.unparsable", RED, "a Python file that cannot be parsed cannot be reviewed"),
    # --- obfuscation ----------------------------------------------------------------------
    RuleInfo("obf.encoded_blob", RED, "a long base64 / hex / compressed blob embedded in code"),
    RuleInfo("obf.exec_decoded", RED, "executes or imports decoded data (exec(b64decode(…)), eval(zlib.decompress(…)))"),
    RuleInfo("obf.assembled_name", RED, "a module or attribute name assembled from strings at run time"),
    RuleInfo("obf.builtins_access", RED, "reaches builtins indirectly (getattr(__builtins__, …), globals()[…], vars(builtins))"),
    RuleInfo("obf.hidden_unicode", RED, "invisible or bidirectional-control characters in source (Trojan Source)"),
    # --- code that runs at install or start-up --------------------------------------------
    RuleInfo("install.setup_logic", RED, "setup.py does more than call setup() with literal arguments"),
    RuleInfo("install.pth_import", RED, "a .pth file with an import line runs code at every interpreter start"),
    RuleInfo("install.pth_path", YELLOW, "a .pth file adds directories to sys.path"),
    RuleInfo("install.console_shadow", RED, "a console script shadows a system command"),
    RuleInfo("install.build_backend", YELLOW, "an in-tree build backend runs the author's code at build time"),
    # --- binaries -------------------------------------------------------------------------
    RuleInfo("binary.native", RED, "a native extension or executable (ELF, PE, Mach-O, .so/.pyd/.dll)"),
    RuleInfo("binary.bytecode", RED, "compiled Python bytecode (.pyc) cannot be reviewed"),
    RuleInfo("binary.opaque", YELLOW, "an opaque binary data file"),
    # --- archive structure (never overridable) --------------------------------------------
    RuleInfo("archive.path_escape", RED, "an archive entry with '..', an absolute path or a drive letter", overridable=False),
    RuleInfo("archive.symlink", RED, "a symlink or hard link (inside an archive, or escaping the package)", overridable=False),
    RuleInfo("archive.bomb", RED, "uncompressed size or compression ratio over the limit: not unpacked", overridable=False),
    RuleInfo("archive.oversize", RED, "too many files or a file over the size limit: not read", overridable=False),
    RuleInfo("archive.duplicate", RED, "the same path appears twice in the archive", overridable=False),
    RuleInfo("archive.unreadable", RED, "the artifact is not a readable wheel, sdist or directory", overridable=False),
    RuleInfo("record.mismatch", RED, "an installed file does not match its RECORD hash, or is not in RECORD"),
    # --- manifest: declared versus actual -------------------------------------------------
    RuleInfo("manifest.missing", RED, "a skill without a [tool.ethos.skill] manifest", overridable=False),
    RuleInfo("manifest.invalid", RED, "the manifest does not validate", overridable=False),
    RuleInfo("manifest.mismatch", RED, "two copies of the manifest in one artifact disagree", overridable=False),
    RuleInfo("manifest.not_a_skill", YELLOW, "no ethos.skills entry point: this distribution registers no skill"),
    RuleInfo("manifest.undeclared_network", RED, "code uses the network but no tool declares network hosts"),
    RuleInfo("manifest.undeclared_exec", RED, "code runs programs but no tool declares executables"),
    RuleInfo("manifest.undeclared_fs", RED, "code touches files but no tool declares filesystem roots"),
    RuleInfo("manifest.undeclared_secret", RED, "code asks for a secret ref no tool declares"),
    RuleInfo("manifest.undeclared_dependency", RED, "Requires-Dist names a dependency the manifest does not declare"),
    RuleInfo("entrypoint.outside", RED, "an entry point names a module that is not part of this distribution", overridable=False),
    # --- tool poisoning -------------------------------------------------------------------
    RuleInfo("poison.injection", RED, "a tool description or README/SKILL text carries prompt-injection text"),
    RuleInfo("poison.hidden_unicode", RED, "a tool description or README/SKILL text hides invisible Unicode"),
    RuleInfo("poison.pipe_to_shell", RED, "text tells the agent to pipe a download into a shell"),
    # --- names ----------------------------------------------------------------------------
    RuleInfo("name.typosquat", RED, "the name is one edit away from an installed or popular package"),
)

RULES: dict[str, RuleInfo] = {rule.id: rule for rule in _RULES}
# ``--accept ALL`` is honoured only for trusted artifacts (see trust.py).
ACCEPT_ALL = "ALL"


def severity(rule_id: str) -> str:
    return RULES[rule_id].severity


def overridable(rule_id: str) -> bool:
    info = RULES.get(rule_id)
    return info.overridable if info is not None else True
