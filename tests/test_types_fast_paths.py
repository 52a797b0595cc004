"""``ToolCall.with_capabilities`` is ``attrs.evolve(call, capabilities=...)`` without re-freezing."""

from __future__ import annotations

from types import MappingProxyType

import attrs
import pytest

from ethos_core.types import ToolCall

CALLS = [
    ToolCall("read_file", {"path": "/a"}),
    ToolCall("shell", {"command": "ls", "env": {"A": [1, {"b": 2}]}}, call_id="c1", capabilities={"exec"}, cwd="/w"),
    ToolCall("noargs"),
]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("caps", [frozenset(), frozenset({"read"}), ["exec", "network"]])
def test_with_capabilities_equals_evolve(call: ToolCall, caps: object) -> None:
    fast = call.with_capabilities(caps)  # type: ignore[arg-type]
    slow = attrs.evolve(call, capabilities=caps)
    assert fast == slow and repr(fast) == repr(slow)
    assert type(fast.capabilities) is frozenset and type(fast.args) is MappingProxyType
    assert fast.args is call.args  # shared: already frozen
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.name = "other"  # type: ignore[misc]


def test_with_capabilities_sets_every_field() -> None:
    # A field added to ToolCall must be copied by with_capabilities too.
    assert [f.name for f in attrs.fields(ToolCall)] == ["name", "args", "call_id", "capabilities", "cwd"]
