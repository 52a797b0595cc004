"""One redactor call per event (``redact_many``) stores exactly what per-string redaction stores."""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from ethos_core.audit import AuditStore
from ethos_core.audit.scrub import REDACTION_ERROR, scrub_value
from ethos_core.types import AuditEvent
from tests.audit.helpers import SECRETS, known_redactor, known_redactor_many


class Colour(enum.Enum):
    RED = "red " + SECRETS[0]


class Level(enum.IntEnum):
    HIGH = 3


class Tagged(str):
    pass


class Twice(Mapping[str, Any]):
    """A mapping that yields one key twice (scrub_value: the later value wins)."""

    def __getitem__(self, key: str) -> Any:
        return 1

    def __iter__(self) -> Iterator[str]:
        return iter(["k", "k"])

    def __len__(self) -> int:
        return 2

    def items(self) -> Any:  # type: ignore[override]
        return [("k", "first " + SECRETS[1]), ("k", "second")]


def _mark(text: str) -> str:
    """Changes every string, so a string put back in the wrong place shows."""
    return f"<{known_redactor(text)}>"


def _mark_many(texts: list[str]) -> list[str]:
    return [_mark(t) for t in texts]


def _collide(text: str) -> str:
    return "same" if text in {"alpha", "beta"} else text


TRICKY: list[Any] = [
    {},
    {"": "", "empty": "", "": {"x": ""}},  # noqa: F601 - a literal with a repeated key on purpose
    {"password": "hunter2", "nested": {"api_key": {"a": ["b", None, 3]}}, "max_tokens": 5, "Authorization": None},
    {"deep": __import__("functools").reduce(lambda acc, _: {"k": acc}, range(40), "leaf " + SECRETS[2])},
    {"list": ["a", "", 1, 2.5, math.nan, math.inf, True, None, ("t", SECRETS[3]), [["x"]]]},
    {"bytes": SECRETS[0].encode(), "ba": bytearray(b"abc"), "enum": Colour.RED, "int_enum": Level.HIGH},
    {"obj": object.__new__(type("Sneaky", (), {"__str__": lambda self: "obj " + SECRETS[1]})), "tag": Tagged("t")},
    {"proxy": MappingProxyType({"inner": SECRETS[2]}), "tuple": (1, "two")},
    {"alpha": 1, "beta": 2, "gamma": {"alpha": "beta"}},
    {1: "int key", "s": "v"},  # a non-string key: the per-string walk
    {"set": {"b", "a", SECRETS[3]}},  # a set: the per-string walk
    {"twice": Twice()},
    {"ts": "x" * 300, "unicode": "ｐａｓｓｗｏｒｄ", "ｐａｓｓｗｏｒｄ": "fullwidth-named " + SECRETS[0]},
    {"del": "a\x7fb", "ctrl": "\x00\x1f\n\t\"\\", "ключ": "значение ✓", "deep": [[[[{"x": 1.25}]]]]},
    {"ascii": "plain", "ctrl": "\x01\x08\x0c\r", "n": [1, -2, 3.5e300, False]},
]


def _random_value(rnd: random.Random, depth: int = 0) -> Any:
    roll = rnd.random()
    if depth > 4 or roll < 0.4:
        return rnd.choice(["", "a", "token", SECRETS[rnd.randrange(4)], "x y", "é\x7f\n", 7, 1.5, None, True])
    if roll < 0.7:
        return [_random_value(rnd, depth + 1) for _ in range(rnd.randrange(4))]
    keys = ["", "a", "b", "password", "host", "alpha", "beta", SECRETS[0], "ü\x7f"]
    return {rnd.choice(keys): _random_value(rnd, depth + 1) for _ in range(rnd.randrange(5))}


def _rows(tmp_path: Path, data: Any, redact: Callable[[str], str], many: Callable[[list[str]], list[str]]) -> tuple[Any, Any]:
    event = AuditEvent("audit.block", code="c " + SECRETS[0], rule="r", session=SECRETS[1], personality="p", data=data)
    a = AuditStore(tmp_path / "a.db", redact=redact)
    b = AuditStore(tmp_path / "b.db", redact_many=many)
    try:
        return a._prepare(event), b._prepare(event)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("index", range(len(TRICKY)))
@pytest.mark.parametrize("redactors", [(known_redactor, known_redactor_many), (_mark, _mark_many), (_collide, None)])
def test_batch_equals_per_string(tmp_path: Path, index: int, redactors: tuple[Any, Any]) -> None:
    redact, many = redactors
    many = many or (lambda texts: [redact(t) for t in texts])
    per_string, batched = _rows(tmp_path, TRICKY[index], redact, many)
    assert batched == per_string


@pytest.mark.parametrize("redactors", [(_mark, _mark_many), (known_redactor, known_redactor_many)])
def test_batch_equals_per_string_on_random_shapes(tmp_path: Path, redactors: tuple[Any, Any]) -> None:
    rnd = random.Random(13)
    a = AuditStore(tmp_path / "a.db", redact=redactors[0])
    b = AuditStore(tmp_path / "b.db", redact_many=redactors[1])
    try:
        for _ in range(300):
            event = AuditEvent("audit.tool_call", rule=rnd.choice([None, "x"]), data={"v": _random_value(rnd)})
            assert b._prepare(event) == a._prepare(event)
    finally:
        a.close()
        b.close()


def test_batched_data_matches_scrub_value(tmp_path: Path) -> None:
    import json

    store = AuditStore(tmp_path / "b.db", redact_many=known_redactor_many)
    try:
        for data in TRICKY[2:9]:
            values, _, _ = store._prepare(AuditEvent("audit.block", data=data))
            expected = scrub_value(AuditEvent("audit.block", data=data).data, known_redactor)
            assert json.loads(values[-1]) == json.loads(json.dumps(expected))
    finally:
        store.close()


def test_one_redactor_call_per_event(tmp_path: Path) -> None:
    calls: list[int] = []

    def many(texts: list[str]) -> list[str]:
        calls.append(len(texts))
        return texts

    store = AuditStore(tmp_path / "b.db", redact_many=many)
    try:
        store.write(AuditEvent("audit.tool_call", code="x", session="s1", data={"a": {"b": ["c", "d"]}, "e": "f"}))
        store.flush()
    finally:
        store.close()
    assert calls == [8]  # code, session, a, b, c, d, e, f: one call for the whole event


@pytest.mark.parametrize(
    "broken",
    [
        lambda texts: (_ for _ in ()).throw(RuntimeError("boom")),
        lambda texts: texts[:-1],
        lambda texts: [*texts, "extra"],
        lambda texts: [None] * len(texts),
        lambda texts: None,
        lambda texts: tuple(known_redactor(t) for t in texts)[:1] + (b"raw",) * (len(texts) - 1),
    ],
)
def test_broken_batch_redactor_fails_closed(tmp_path: Path, broken: Callable[[list[str]], Any]) -> None:
    store = AuditStore(tmp_path / "b.db", redact_many=broken)
    try:
        values, head, search = store._prepare(
            AuditEvent("audit.block", rule=SECRETS[0], data={"v": SECRETS[1], SECRETS[2]: [SECRETS[3]]})
        )
    finally:
        store.close()
    text = repr((values, head, search))
    for secret in SECRETS:
        assert secret not in text
    assert REDACTION_ERROR in text


def test_store_needs_one_of_the_two_forms(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="redact"):
        AuditStore(tmp_path / "x.db")
    with pytest.raises(TypeError, match="redact"):
        AuditStore(tmp_path / "x.db", redact_many="not callable")  # type: ignore[arg-type]


def test_policy_bodies_are_redacted_with_only_redact_many(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "b.db", redact_many=known_redactor_many)
    store.register_policy("eng", {"note": SECRETS[0], SECRETS[1]: 1})
    store.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("b.db*"))
    assert SECRETS[0].encode() not in blob and SECRETS[1].encode() not in blob


def test_fast_encoder_refuses_what_it_cannot_encode_exactly() -> None:
    from ethos_core.audit.chain import NotCanonical, canonical_json_data

    with pytest.raises(NotCanonical):
        canonical_json_data({"twice": MappingProxyType(Twice())})  # type: ignore[arg-type]
    with pytest.raises(NotCanonical):
        canonical_json_data({"obj": object()})
