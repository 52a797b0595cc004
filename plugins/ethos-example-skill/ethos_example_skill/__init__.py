"""An example ethos skill: tools declared in the manifest, capabilities used only through the context.

The handlers receive ``(call, ctx)`` where ``ctx`` is the skill context the engine builds for each
call: ``ctx.open`` goes through the scoped filesystem limited to the manifest's roots and the
personality's fs_reach; nothing else is reachable from here.
"""

from __future__ import annotations

from typing import Any

from ethos_core import ArgRole, ToolCall, ToolSpec, hookimpl

MAX_NOTE_CHARS = 20_000


def text_stats(call: ToolCall, ctx: Any) -> str:
    text = str(call.args.get("text", ""))
    return f"lines={len(text.splitlines())} words={len(text.split())} chars={len(text)}"


def read_note(call: ToolCall, ctx: Any) -> str:
    path = str(call.args["path"])
    with ctx.open(path, "r") as fh:
        return str(fh.read(MAX_NOTE_CHARS))


class ExampleSkill:
    """Registered from the ``ethos.skills`` entry point ``example-skill``."""

    @hookimpl
    def ethos_register_tools(self, registry: Any) -> None:
        # An empty description and capabilities are filled from the manifest; a non-empty one must match it.
        registry.add(
            ToolSpec(name="text_stats", description="",
                     parameters={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
            text_stats,
        )
        registry.add(
            ToolSpec(name="read_note", description="",
                     parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
                     arg_roles=(ArgRole("path", "path", "read"),)),
            read_note,
        )
