"""Load and validate configuration files, reporting every problem at once with its position.

Files are parsed with ruamel.yaml's round-trip loader (it keeps line and column of every key)
and structured with a strict cattrs converter: no ``42 → "42"`` coercion, unknown keys are
errors. Each problem becomes a :class:`~ethos_core.errors.ConfigIssue` naming file, line,
column (1-based) and the key path; :class:`~ethos_core.errors.ConfigError` carries all of them.
Literal credentials anywhere in a config file are errors pointing to ``${secrets:ref}``.
"""

from __future__ import annotations

import re
import types as pytypes
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, override
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from ethos_core.config.model import GlobalConfig, PersonalityConfig
from ethos_core.errors import ConfigError, ConfigIssue

T = TypeVar("T")

SECRET_REF = re.compile(r"\$\{secrets:([A-Za-z0-9_.\-/]+)\}")

# Credential shapes refused as literals in config (the redaction engine knows many more; these
# are the ones an operator is most likely to paste). Bounded quantifiers only.
LITERAL_CREDENTIALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("anthropic", re.compile(r"sk-ant-[A-Za-z0-9_\-]{16,200}")),
    ("openai", re.compile(r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,200}")),
    ("slack", re.compile(r"xox[abposr]-[A-Za-z0-9\-]{10,200}")),
    ("aws_access_key_id", re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}")),
    ("github", re.compile(r"(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{30,255})")),
    ("telegram", re.compile(r"\b\d{6,12}:[A-Za-z0-9_\-]{30,60}\b")),
    ("google_api_key", re.compile(r"AIza[0-9A-Za-z_\-]{35}")),
    ("stripe", re.compile(r"(?:sk|rk)_live_[A-Za-z0-9]{16,200}")),
    ("private_key", re.compile(r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----")),
)

# --- strict converter ----------------------------------------------------------------------


def _strict(t: type) -> Any:
    def hook(value: Any, _type: Any) -> Any:
        if t is float and type(value) is int:
            return float(value)
        if type(value) is not t:
            raise TypeError(f"expected {_type_name(t)}, got {_type_name(type(value))}")
        return value

    return hook


def _type_name(t: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true/false", type(None): "null",
            dict: "a mapping", list: "a list"}.get(t, getattr(t, "__name__", str(t)))


def make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    for t in (str, int, float, bool):
        conv.register_structure_hook(t, _strict(t))

    def attrs_factory(cls: type) -> Any:
        overrides: dict[str, Any] = {a.name: override(rename=a.metadata.get("key", a.name)) for a in attrs.fields(cls)}
        return make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True, **overrides)

    conv.register_structure_hook_factory(attrs.has, attrs_factory)
    return conv


CONVERTER = make_converter()


def yaml_key(cls: type, field_name: str) -> str:
    for a in attrs.fields(cls):
        if a.name == field_name:
            return str(a.metadata.get("key", a.name))
    return field_name


# --- ruamel helpers ------------------------------------------------------------------------


def _plain(node: Any) -> Any:
    """ruamel round-trip objects → plain Python (keeping bool distinct from int)."""
    if isinstance(node, Mapping):
        return {(_plain(k) if not isinstance(k, str) else str(k)): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


PathElem = str | int


def position(root: Any, path: tuple[PathElem, ...], *, at_key: bool = True) -> tuple[int | None, int | None]:
    """1-based (line, column) of the node at ``path`` (its key when ``at_key``)."""
    node = root
    line: int | None = None
    col: int | None = None
    if isinstance(root, (CommentedMap, CommentedSeq)):
        line, col = root.lc.line + 1, root.lc.col + 1
    for i, elem in enumerate(path):
        last = i == len(path) - 1
        try:
            if isinstance(node, CommentedMap) and elem in node:
                ln, cl = node.lc.key(elem) if (at_key or not last) else node.lc.value(elem)
                line, col = ln + 1, cl + 1
                node = node[elem]
            elif isinstance(node, CommentedSeq) and isinstance(elem, int) and elem < len(node):
                ln, cl = node.lc.item(elem)
                line, col = ln + 1, cl + 1
                node = node[elem]
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    return line, col


def render_path(path: tuple[PathElem, ...]) -> str:
    out = ""
    for elem in path:
        if isinstance(elem, int):
            out += f"[{elem}]"
        else:
            out += ("." if out else "") + str(elem)
    return out


# --- error mapping -------------------------------------------------------------------------


def _unwrap_optional(t: Any) -> Any:
    origin = typing.get_origin(t)
    if origin in (typing.Union, pytypes.UnionType):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return t


def _walk_errors(exc: BaseException, typ: Any, path: tuple[PathElem, ...]) -> Iterator[tuple[tuple[PathElem, ...], str, bool]]:
    """Yield (path, message, points_at_key) for every leaf error under ``exc``."""
    typ = _unwrap_optional(typ)
    if isinstance(exc, ForbiddenExtraKeysError):
        for name in sorted(exc.extra_fields):
            yield path + (name,), f"unknown key {name!r}", True
        return
    if isinstance(exc, ClassValidationError) and attrs.has(typ):
        fields = attrs.fields_dict(typ)
        hints = typing.get_type_hints(typ)
        for sub in exc.exceptions:
            notes = getattr(sub, "__notes__", [])
            note = next((n for n in notes if hasattr(n, "name")), None)
            if note is None:
                yield from _walk_errors(sub, typ, path)
                continue
            field = fields.get(note.name)
            key = yaml_key(typ, note.name) if field is not None else note.name
            yield from _walk_errors(sub, hints.get(note.name, Any), path + (key,))
        return
    if isinstance(exc, IterableValidationError):
        args = typing.get_args(typ)
        if typing.get_origin(typ) is tuple and len(args) == 2 and args[1] is Ellipsis:
            elem_type = args[0]
        else:
            elem_type = args[-1] if args else Any
        for sub in exc.exceptions:
            notes = getattr(sub, "__notes__", [])
            note = next((n for n in notes if hasattr(n, "index")), None)
            idx = note.index if note is not None else None
            yield from _walk_errors(sub, elem_type, path + ((idx,) if idx is not None else ()))
        return
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        for sub in exc.exceptions:
            yield from _walk_errors(sub, Any, path)
        return
    message = str(exc)
    if isinstance(exc, KeyError):
        message = f"missing required key {exc.args[0]!r}"
        yield path + (str(exc.args[0]),), message, True
        return
    if "missing" in message and "required" in message:
        yield path, message, True
        return
    yield path, f"wrong type: {message}" if isinstance(exc, TypeError) else message, False


# --- loading -------------------------------------------------------------------------------


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


@attrs.frozen
class Loaded:
    """One parsed file: its model object (None when invalid), raw tree and issues."""

    file: str
    value: Any
    tree: Any
    issues: tuple[ConfigIssue, ...]
    secret_refs: tuple[tuple[str, int | None, str], ...] = ()  # (ref, line, key path)


def parse_yaml(text: str, file: str) -> tuple[Any, list[ConfigIssue]]:
    try:
        return _yaml().load(text), []
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        problem = exc.problem or str(exc).splitlines()[0]
        if "duplicate key" in str(exc):
            problem = "duplicate key" + (f": {str(exc).split('found duplicate key', 1)[-1].strip().splitlines()[0]}" if "found duplicate key" in str(exc) else "")
        return None, [ConfigIssue(file, line, col, "", f"YAML syntax error: {problem}")]
    except Exception as exc:  # noqa: BLE001 - any other parser failure is a config error
        return None, [ConfigIssue(file, None, None, "", f"cannot parse YAML: {type(exc).__name__}: {exc}")]


def scan_strings(tree: Any, path: tuple[PathElem, ...] = ()) -> Iterator[tuple[tuple[PathElem, ...], str, bool]]:
    """Every string scalar (and key) in the tree: (path, text, is_key)."""
    if isinstance(tree, Mapping):
        for k, v in tree.items():
            if isinstance(k, str):
                yield path + (k,), k, True
            yield from scan_strings(v, path + (str(k),))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from scan_strings(v, path + (i,))
    elif isinstance(tree, str):
        yield path, tree, False


def credential_issues(tree: Any, file: str) -> tuple[list[ConfigIssue], list[tuple[str, int | None, str]]]:
    issues = []
    refs = []
    for path, text, is_key in scan_strings(tree):
        line, col = position(tree, path, at_key=is_key)
        for m in SECRET_REF.finditer(text):
            refs.append((m.group(1), line, render_path(path)))
        stripped = SECRET_REF.sub("", text)
        for label, pattern in LITERAL_CREDENTIALS:
            if pattern.search(stripped):
                issues.append(
                    ConfigIssue(
                        file, line, col, render_path(path),
                        f"looks like a literal {label} credential; store it in a secrets provider and write "
                        "${secrets:<ref>} here instead",
                    )
                )
                break
    return issues, refs


def load_model(text: str, file: str, model: type[T]) -> Loaded:
    """Parse ``text`` as ``model``; never raises for bad input (issues are returned)."""
    tree, issues = parse_yaml(text, file)
    if issues:
        return Loaded(file, None, None, tuple(issues))
    if tree is None:
        tree = CommentedMap()
    if not isinstance(tree, Mapping):
        line, col = position(tree, ())
        return Loaded(file, None, tree, (ConfigIssue(file, line or 1, col or 1, "", "the file must hold a mapping of keys"),))
    cred_issues, refs = credential_issues(tree, file)
    issues.extend(cred_issues)
    value = None
    try:
        value = CONVERTER.structure(_plain(tree), model)
    except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
        for path, message, at_key in _walk_errors(exc, model, ()):
            line, col = position(tree, path, at_key=at_key)
            issues.append(ConfigIssue(file, line, col, render_path(path), message))
    except Exception as exc:  # noqa: BLE001 - report, never crash on bad input
        issues.append(ConfigIssue(file, 1, 1, "", f"{type(exc).__name__}: {exc}"))
    issues.extend(semantic_issues(model, tree, file))
    issues.sort(key=lambda i: (i.line or 0, i.column or 0))
    return Loaded(file, value if not [i for i in issues if i.severity == "error"] else None, tree, tuple(issues), tuple(refs))


def _get(tree: Any, *path: PathElem) -> Any:
    node = tree
    for elem in path:
        if isinstance(node, Mapping) and elem in node:
            node = node[elem]
        elif isinstance(node, list) and isinstance(elem, int) and elem < len(node):
            node = node[elem]
        else:
            return None
    return node


def _check_choice(issues: list[ConfigIssue], tree: Any, file: str, path: tuple[PathElem, ...], choices: tuple[str, ...]) -> None:
    value = _get(tree, *path)
    if isinstance(value, str) and value not in choices:
        line, col = position(tree, path, at_key=False)
        issues.append(ConfigIssue(file, line, col, render_path(path), f"{value!r} is not one of: {', '.join(choices)}"))


DURATION = re.compile(r"^(?:forever|[1-9][0-9]{0,6}[hdw])$")
HOST_PATTERN = re.compile(r"^(?:\*|\*\.[A-Za-z0-9.\-]{1,253}|[A-Za-z0-9.\-:\[\]]{1,253})$")


def semantic_issues(model: type, tree: Any, file: str) -> list[ConfigIssue]:
    """Checks beyond types (enum-like strings, durations, ports, hosts), run on the raw tree so
    they are reported together with type errors."""
    issues: list[ConfigIssue] = []
    if model is PersonalityConfig:
        _check_choice(issues, tree, file, ("safety", "approvalMode"), ("manual", "smart", "off"))
        _check_choice(issues, tree, file, ("safety", "injectionDefense"), ("strict", "balanced", "off"))
        _check_choice(issues, tree, file, ("safety", "observability"), ("none", "redacted", "full"))
        _check_choice(issues, tree, file, ("safety", "envFiles"), ("approve", "deny"))
        turns = _get(tree, "safety", "downgrade", "turns")
        if isinstance(turns, int) and not isinstance(turns, bool) and turns < 0:
            line, col = position(tree, ("safety", "downgrade", "turns"), at_key=False)
            issues.append(ConfigIssue(file, line, col, "safety.downgrade.turns", "must be 0 or more"))
        reach = _get(tree, "safety", "networkReach")
        for i, rule in enumerate(reach if isinstance(reach, list) else ()):
            host = _get(rule, "host")
            if isinstance(host, str) and not HOST_PATTERN.match(host):
                line, col = position(tree, ("safety", "networkReach", i, "host"), at_key=False)
                issues.append(ConfigIssue(file, line, col, f"safety.networkReach[{i}].host", f"{host!r} is not a host name or *.domain pattern"))
            ports = _get(rule, "ports")
            for j, port in enumerate(ports if isinstance(ports, list) else ()):
                if isinstance(port, int) and not isinstance(port, bool) and not 1 <= port <= 65535:
                    line, col = position(tree, ("safety", "networkReach", i, "ports", j), at_key=False)
                    issues.append(ConfigIssue(file, line, col, f"safety.networkReach[{i}].ports[{j}]", f"{port} is not a port (1-65535)"))
    if model is GlobalConfig:
        filters = _get(tree, "channel_filter")
        for platform in filters if isinstance(filters, Mapping) else ():
            _check_choice(issues, tree, file, ("channel_filter", platform, "contextVisibility"), ("allowlist", "allowlist_quote", "all"))
        retention = _get(tree, "observability", "retention")
        for glob, duration in (retention.items() if isinstance(retention, Mapping) else ()):
            if isinstance(duration, str) and not DURATION.match(duration):
                line, col = position(tree, ("observability", "retention", glob), at_key=False)
                issues.append(ConfigIssue(file, line, col, f"observability.retention.{glob}", f"{duration!r} is not a duration (Nh, Nd, Nw or forever)"))
        sinks = _get(tree, "observability", "sinks")
        for i, _sink in enumerate(sinks if isinstance(sinks, list) else ()):
            _check_choice(issues, tree, file, ("observability", "sinks", i, "type"), ("jsonl",))
        providers = _get(tree, "providers")
        for name in providers if isinstance(providers, Mapping) else ():
            _check_choice(issues, tree, file, ("providers", name, "type"), ("openai", "anthropic", "scripted"))
    return issues


def load_file(path: Path, model: type[T]) -> Loaded:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Loaded(str(path), None, None, (ConfigIssue(str(path), None, None, "", "file not found"),))
    except (OSError, UnicodeDecodeError) as exc:
        return Loaded(str(path), None, None, (ConfigIssue(str(path), None, None, "", f"cannot read: {exc}"),))
    return load_model(text, str(path), model)


def load_toolset(path: Path) -> tuple[frozenset[str], bool, list[ConfigIssue]]:
    """``toolset.yaml``: a list of tool names. Missing, empty or comments-only → no tools.

    Returns (names, declared, issues). ``declared`` is False when the file is missing.
    """
    if not path.exists():
        return frozenset(), False, []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return frozenset(), True, [ConfigIssue(str(path), None, None, "", f"cannot read: {exc}")]
    tree, issues = parse_yaml(text, str(path))
    if issues:
        return frozenset(), True, issues
    if tree is None:
        return frozenset(), True, []
    if isinstance(tree, Mapping) and set(tree) == {"tools"}:
        tree = tree["tools"]
        prefix: tuple[PathElem, ...] = ("tools",)
    else:
        prefix = ()
    if tree is None:
        return frozenset(), True, []
    if not isinstance(tree, list):
        return frozenset(), True, [ConfigIssue(str(path), 1, 1, "", "toolset.yaml must be a list of tool names")]
    names = []
    for i, item in enumerate(tree):
        if not isinstance(item, str) or not item.strip():
            root = _yaml().load(text)
            line, col = position(root, prefix + (i,))
            issues.append(ConfigIssue(str(path), line, col, render_path(prefix + (i,)), "each entry must be a tool name (a string)"))
            continue
        names.append(item.strip())
    return frozenset(names), True, issues


def raise_if_errors(issues: list[ConfigIssue] | tuple[ConfigIssue, ...]) -> None:
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise ConfigError(errors)
