"""The watcher's per-call shortcuts give the answers of the general code.

- ``thresholds`` answers the same object for the same policy object without hashing it, and a
  different (tighter) policy object right after is never served the previous answer;
- ``args_digest`` (one prebuilt JSON encoder, and a direct build for all-string arguments)
  equals the ``json.dumps`` form of the canonical arguments;
- a call with nothing firing and nothing active skips the transition bookkeeping, and a rule
  that fires after such calls is still audited exactly once.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from ethos_core.types import WatcherPolicy
from ethos_core.watcher import Watcher
from ethos_core.watcher import rules as R

from .helpers import FakeClock, call, ctx, make, rules, tool_end


@pytest.fixture
def env() -> Iterator[tuple[Watcher, FakeClock, list[Any]]]:
    w, clock, audits = make()
    yield w, clock, audits
    w.close()


def test_thresholds_follow_the_policy_object(env: tuple[Watcher, FakeClock, list[Any]]) -> None:
    w, _, _ = env
    loose, tight = ctx(), ctx(policy=WatcherPolicy(max_identical_calls=1, max_tokens_per_turn=5))
    first = w.thresholds(loose)
    assert w.thresholds(loose) is first
    tightened = w.thresholds(tight)
    assert tightened.max_identical_calls == 1 and tightened.max_tokens_per_turn == 5
    assert w.thresholds(loose) == first
    # An equal policy in another object gets equal thresholds (through the hashed cache).
    assert w.thresholds(ctx(policy=WatcherPolicy(max_identical_calls=1, max_tokens_per_turn=5))) == tightened
    assert w.thresholds(ctx(policy=None)) == R.effective_thresholds(w.global_thresholds, WatcherPolicy())


@pytest.mark.parametrize(
    "args",
    [{}, {"path": "/a/b"}, {"b": 1, "a": [1, 2.0, "x  y"]}, {"q": {"z": None, "é": "ü\u200b"}}, {"s": {"x", "y"}},
     {"f": 1.5, "t": True, "raw": b"\x00\xff"}],
)
def test_args_digest_is_the_json_dumps_form(args: dict[str, Any]) -> None:
    text = json.dumps(R.canonical(args), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    want = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
    assert R.args_digest(args) == want


def test_all_string_arguments_take_the_direct_build_with_the_same_text() -> None:
    alphabet = "ab \t\n\u200b\u00e9\ufb01\"\\\x01\ud800"
    rnd = random.Random(1)
    cases: list[dict[str, str]] = [{}, {"a b": "1", "a  b": "2"}, {"A": "x", "a": "y", "": " "}]
    for _ in range(2000):
        cases.append({"".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 5))):
                      "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 8))) for _ in range(rnd.randint(0, 4))})
    for args in cases:
        assert R._flat_json(args) == R._DIGEST_ENCODER.encode(R.canonical(args)), args
    assert R._flat_json({"n": 1}) is None and R._flat_json({"l": ["x"]}) is None


def test_quiet_calls_then_a_transition_is_audited_once(env: tuple[Watcher, FakeClock, list[Any]]) -> None:
    w, _, audits = env
    for i in range(5):
        assert w.decide(call(path=str(i)), ctx()).allowed
    assert audits == []
    w.observe(tool_end("fetch", ok=False), ctx())
    w.observe(tool_end("fetch", ok=False), ctx())
    assert w.decide(call("fetch", n=1), ctx()).rule == "watcher.errors_tool"
    assert w.decide(call("fetch", n=2), ctx()).rule == "watcher.errors_tool"
    assert rules(audits) == ["watcher.errors_tool"]
    w.observe(tool_end("fetch", ok=True), ctx())
    assert w.decide(call("fetch", n=3), ctx()).allowed  # clears the condition ...
    w.observe(tool_end("fetch", ok=False), ctx())
    w.observe(tool_end("fetch", ok=False), ctx())
    assert w.decide(call("fetch", n=4), ctx()).rule == "watcher.errors_tool"
    assert rules(audits) == ["watcher.errors_tool", "watcher.errors_tool"]  # ... so it is audited again
