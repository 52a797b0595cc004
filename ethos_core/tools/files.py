"""Built-in file tools: read_file, write_file, edit_file, list_dir, search_files.

Invariant: every tool does all of its file access through the :class:`ScopedStorage` it is
handed (never ``open``/``os``), so stage ⑨ judges each path when the call is checked (the
``ArgRole`` path arguments) and again, on the object actually reached, when it runs. Tools that
return file content are tagged ``untrusted_output``: content the agent did not write itself is
outside input. What it does not cover: the shell tool, which can touch files by other means.

Handler contract: ``handler(args: Mapping[str, Any], storage: ScopedStorage) -> str``.
:func:`make_file_tools` adapts them to the registry's ``handler(call, session)`` through a
``storage_factory(session) -> ScopedStorage``. Content-returning handlers return
:class:`FileOutput` (a ``str``) whose ``source`` is ``"file"`` and whose ``trusted`` says whether
the agent wrote every file shown; the engine copies both into the ``ToolResult``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ethos_core.fs.scoped import ScopedStorage
from ethos_core.types import ArgRole, Capability, ToolCall, ToolSpec

MAX_READ_CHARS = 256 * 1024
MAX_SEARCH_RESULTS = 200
MAX_QUERY_CHARS = 1000

FileHandler = Callable[[Mapping[str, Any], ScopedStorage], str]
StorageFactory = Callable[[Any], ScopedStorage]


class FileOutput(str):
    """Tool content with provenance: ``source`` ``"file"``; ``trusted`` when the agent wrote it."""

    source: str
    trusted: bool

    def __new__(cls, text: str, *, trusted: bool) -> FileOutput:
        out = super().__new__(cls, text)
        out.source = "file"
        out.trusted = trusted
        return out


def _str_arg(args: Mapping[str, Any], name: str, *, required: bool = True, default: str = "") -> str:
    value = args.get(name, None)
    if value is None:
        if required:
            raise ValueError(f"missing argument {name!r}")
        return default
    if not isinstance(value, str):
        raise ValueError(f"argument {name!r} must be a string")
    return value


def _int_arg(args: Mapping[str, Any], name: str, default: int, *, low: int, high: int) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"argument {name!r} must be an integer")
    return max(low, min(high, value))


def read_file(args: Mapping[str, Any], storage: ScopedStorage) -> str:
    """Lines ``offset`` (1-based) .. ``offset+limit-1`` of a text file (all by default)."""
    path = _str_arg(args, "path")
    offset = _int_arg(args, "offset", 1, low=1, high=10**9)
    limit = _int_arg(args, "limit", 0, low=0, high=10**9)
    text = storage.with_tool("read_file").read_text(path, limit=MAX_READ_CHARS * 4)
    if offset > 1 or limit:
        lines = text.splitlines(keepends=True)
        end = offset - 1 + limit if limit else len(lines)
        text = "".join(lines[offset - 1 : end])
    if len(text) > MAX_READ_CHARS:
        text = text[:MAX_READ_CHARS] + "\n[truncated]"
    return FileOutput(text, trusted=storage.agent_wrote(path))


def write_file(args: Mapping[str, Any], storage: ScopedStorage) -> str:
    path = _str_arg(args, "path")
    content = _str_arg(args, "content")
    written = storage.with_tool("write_file").write_text(path, content)
    return f"wrote {written} bytes to {path}"


def edit_file(args: Mapping[str, Any], storage: ScopedStorage) -> str:
    """Replace the exact text ``old`` by ``new``; ``old`` must occur once unless ``replace_all``."""
    path = _str_arg(args, "path")
    old = _str_arg(args, "old")
    new = _str_arg(args, "new")
    replace_all = bool(args.get("replace_all", False))
    if not old:
        raise ValueError("argument 'old' must not be empty")
    counted: list[int] = []

    def change(before: bytes) -> bytes:
        text = before.decode("utf-8")
        count = text.count(old)
        if count == 0:
            raise ValueError(f"the text to replace was not found in {path}")
        if count > 1 and not replace_all:
            raise ValueError(f"the text to replace occurs {count} times in {path}; give more context or replace_all")
        counted.append(count)
        return text.replace(old, new).encode("utf-8")

    storage.with_tool("edit_file").edit_bytes(path, change)
    return f"replaced {counted[0]} occurrence(s) in {path}"


def list_dir(args: Mapping[str, Any], storage: ScopedStorage) -> str:
    path = _str_arg(args, "path", required=False, default=".")
    entries = storage.with_tool("list_dir").list_dir(path)
    lines = [f"{e.name}/" if e.kind == "dir" else (f"{e.name}@" if e.kind == "symlink" else e.name) for e in entries]
    return "\n".join(lines) if lines else "(empty)"


def search_files(args: Mapping[str, Any], storage: ScopedStorage) -> str:
    """Files under ``path`` whose name matches the glob ``pattern``; with ``query``, the lines
    containing that literal text (case-insensitive), as ``file:line: text``."""
    path = _str_arg(args, "path", required=False, default=".")
    pattern = _str_arg(args, "pattern", required=False, default="*")
    query = _str_arg(args, "query", required=False, default="")
    if len(query) > MAX_QUERY_CHARS or len(pattern) > MAX_QUERY_CHARS:
        raise ValueError("pattern or query too long")
    limit = _int_arg(args, "max_results", 50, low=1, high=MAX_SEARCH_RESULTS)
    needle = query.casefold()
    scoped = storage.with_tool("search_files")
    results: list[str] = []
    trusted = True
    for rel, data in scoped.iter_files(path, pattern):
        if len(results) >= limit:
            break
        if not needle:
            results.append(rel)
            continue
        text = data.decode("utf-8", "replace")
        hit = False
        for number, line in enumerate(text.splitlines(), 1):
            if needle in line.casefold():
                hit = True
                results.append(f"{rel}:{number}: {line[:300]}")
                if len(results) >= limit:
                    break
        if hit:
            trusted = trusted and scoped.agent_wrote(f"{path.rstrip('/')}/{rel}")
    body = "\n".join(results) if results else "(no matches)"
    # file names are outside input too: only matches in files the agent wrote are trusted
    return FileOutput(body, trusted=not results or (bool(needle) and trusted))


def _path_param(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


FILE_TOOLS: tuple[tuple[ToolSpec, FileHandler], ...] = (
    (
        ToolSpec(
            name="read_file",
            description="Read a text file inside this personality's filesystem reach.",
            parameters={
                "type": "object",
                "properties": {
                    "path": _path_param("file to read"),
                    "offset": {"type": "integer", "description": "first line (1-based)"},
                    "limit": {"type": "integer", "description": "number of lines"},
                },
                "required": ["path"],
            },
            capabilities={Capability.READ_FS, Capability.UNTRUSTED_OUTPUT},
            arg_roles=(ArgRole("path", "path", "read"),),
        ),
        read_file,
    ),
    (
        ToolSpec(
            name="write_file",
            description="Create or replace a file inside this personality's write reach.",
            parameters={
                "type": "object",
                "properties": {"path": _path_param("file to write"), "content": {"type": "string"}},
                "required": ["path", "content"],
            },
            capabilities={Capability.WRITE_FS},
            arg_roles=(ArgRole("path", "path", "write"),),
        ),
        write_file,
    ),
    (
        ToolSpec(
            name="edit_file",
            description="Replace exact text in a file inside this personality's write reach.",
            parameters={
                "type": "object",
                "properties": {
                    "path": _path_param("file to edit"),
                    "old": {"type": "string"},
                    "new": {"type": "string"},
                    "replace_all": {"type": "boolean"},
                },
                "required": ["path", "old", "new"],
            },
            capabilities={Capability.WRITE_FS},
            arg_roles=(ArgRole("path", "path", "write"),),
        ),
        edit_file,
    ),
    (
        ToolSpec(
            name="list_dir",
            description="List a directory inside this personality's filesystem reach.",
            parameters={"type": "object", "properties": {"path": _path_param("directory to list")}},
            capabilities={Capability.READ_FS},
            arg_roles=(ArgRole("path", "path", "read"),),
        ),
        list_dir,
    ),
    (
        ToolSpec(
            name="search_files",
            description="Find files by name glob and, optionally, lines containing a text.",
            parameters={
                "type": "object",
                "properties": {
                    "path": _path_param("directory to search"),
                    "pattern": {"type": "string", "description": "file name glob, e.g. *.py"},
                    "query": {"type": "string", "description": "literal text to find (case-insensitive)"},
                    "max_results": {"type": "integer"},
                },
            },
            capabilities={Capability.READ_FS, Capability.UNTRUSTED_OUTPUT},
            arg_roles=(ArgRole("path", "path", "read"),),
        ),
        search_files,
    ),
)

FILE_HANDLERS: dict[str, FileHandler] = {spec.name: handler for spec, handler in FILE_TOOLS}


def make_file_tools(storage_factory: StorageFactory) -> list[tuple[ToolSpec, Callable[[ToolCall, Any], str]]]:
    """The file tools as registry entries: ``handler(call, session)`` using ``storage_factory(session)``."""

    def bind(handler: FileHandler) -> Callable[[ToolCall, Any], str]:
        def run(call: ToolCall, session: Any) -> str:
            return handler(call.args, storage_factory(session))

        run.__name__ = handler.__name__
        run.__doc__ = handler.__doc__
        return run

    return [(spec, bind(handler)) for spec, handler in FILE_TOOLS]
