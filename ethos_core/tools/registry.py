"""The tool registry: where built-ins, plugins and skills register tools.

Name collisions are rejected, never renamed. A handler is ``handler(call, session) -> str``
(its return is the tool's content) and may raise; the engine turns exceptions into error results.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from ethos_core.errors import ToolRegistrationError
from ethos_core.types import Capability, ToolSpec

ToolHandler = Callable[..., Any]


@attrs.frozen
class RegisteredTool:
    spec: ToolSpec
    handler: ToolHandler


class ToolRegistry:
    """Holds every tool; frozen when the engine seals."""

    def __init__(self) -> None:
        self._tools: dict[str, RegisteredTool] = {}
        self._frozen = False
        self._current_source = "builtin"

    def add(self, spec: ToolSpec, handler: ToolHandler) -> None:
        if self._frozen:
            raise ToolRegistrationError("tools can only be registered at startup")
        if not spec.name or not spec.name.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise ToolRegistrationError(f"invalid tool name {spec.name!r}")
        unknown = spec.capabilities - Capability.ALL
        if unknown:
            raise ToolRegistrationError(f"tool {spec.name!r}: unknown capabilities {sorted(unknown)}")
        if spec.name in self._tools:
            other = self._tools[spec.name].spec.source
            raise ToolRegistrationError(f"tool name {spec.name!r} is already registered by {other}")
        if self._current_source != "builtin":
            # A plugin cannot label its tool as someone else's (or as built-in).
            spec = attrs.evolve(spec, source=self._current_source)
        self._tools[spec.name] = RegisteredTool(spec, handler)

    @contextlib.contextmanager
    def registering_as(self, source: str) -> Iterator[None]:
        """Tools added inside the block are stamped with ``source`` (the plugin that added them)."""
        previous = self._current_source
        self._current_source = source
        try:
            yield
        finally:
            self._current_source = previous

    def freeze(self) -> None:
        self._frozen = True

    def get(self, name: str) -> RegisteredTool | None:
        return self._tools.get(name)

    def names(self) -> frozenset[str]:
        return frozenset(self._tools)

    def __iter__(self) -> Iterator[RegisteredTool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)
