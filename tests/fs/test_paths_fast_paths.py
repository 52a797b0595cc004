"""The lexical fast paths of stage ⑨ give the answers of the general code.

- :func:`normalize` skips ``os.path.normpath`` for a path that is already normal; on every
  generated path (dots, double slashes, trailing slashes, ``..``, ``~``, ``$HOME``) it returns
  what the normpath route returns, or refuses with the same rule;
- the floor trie's precompiled globs match exactly what ``fnmatch.fnmatchcase`` matched.
"""

from __future__ import annotations

import fnmatch
import itertools
import os
import random

from ethos_core.fs import floor as fs_floor
from ethos_core.fs import paths as fs_paths
from ethos_core.fs.paths import PathRefused, normalize

HOME = "/home/u"
BASE = "/work/space"
PIECES = ("a", "b", ".", "..", "", ".env", ".ssh", "x.txt", "~", "$HOME", "${HOME}", "é", "data", "...", ".a")


def _reference(path: str) -> str:
    """The normpath route, unconditionally (the code before the fast path)."""
    expanded = fs_paths.expand_user(path, HOME)
    if not expanded.startswith("/"):
        expanded = BASE.rstrip("/") + "/" + expanded
    norm = os.path.normpath(expanded)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    return norm


def _answer(fn: object, path: str) -> str:
    try:
        return fn(path)  # type: ignore[operator, no-any-return]
    except PathRefused as refused:
        return "refused:" + refused.decision.rule


def _paths() -> list[str]:
    out = ["/", "//", "///", "/a", "a", "/a/", "//a//b/", "/./a", "/a/.", "/a/..", "/..", "~", "~/", "~/a"]
    for n in range(1, 4):
        for combo in itertools.product(PIECES, repeat=n):
            out.append("/" + "/".join(combo))
            out.append("/".join(combo))
    rnd = random.Random(7)
    for _ in range(3000):
        out.append(("/" if rnd.random() < 0.7 else "") + "/".join(rnd.choice(PIECES) for _ in range(rnd.randint(1, 7)))
                   + ("/" if rnd.random() < 0.2 else ""))
    return [p for p in out if p.strip()]


def test_normalize_fast_path_equals_normpath_route() -> None:
    for path in _paths():
        got = _answer(lambda p: normalize(p, home=HOME, base=BASE), path)
        assert got == _answer(_reference, path), path


def test_is_normal_abs_only_for_paths_normpath_keeps() -> None:
    for path in _paths():
        if fs_paths._is_normal_abs(path):
            assert os.path.normpath(path) == path, path


def _fnmatch_walk(matcher: fs_floor.FloorMatcher, parts: tuple[str, ...]) -> str | None:
    """The trie walk with ``fnmatch.fnmatchcase`` per glob (the code before precompiling)."""
    found: list[str] = []

    def walk(node: fs_floor._Node, depth: int) -> None:
        while True:
            if node.rule is not None:
                found.append(node.rule)
            if depth >= len(parts):
                return
            part = parts[depth].casefold()
            for pattern, _match, glob_node in node.globs:
                if fnmatch.fnmatchcase(part, pattern):
                    walk(glob_node, depth + 1)
            nxt = node.literal.get(part)
            if nxt is None:
                return
            node, depth = nxt, depth + 1

    walk(matcher._root, 0)
    return min(found, key=lambda rule: matcher._order.get(rule, 0)) if found else None


def test_precompiled_floor_globs_match_like_fnmatch() -> None:
    matcher = fs_floor.floor_matcher("/home/u", "/srv/ethos")
    names = ["sudoers", "sudoers.d", "SUDOERS~", "state.db", "state.db-wal", "State.DB-shm", "statexdb", "observability.db",
             "observability.db.1", "environ", "1234", "self", "mem", "fd", "task", "[x]", "*", "?", "x", "sudoer"]
    prefixes = [("/", "etc"), ("/", "proc"), ("/", "proc", "1"), ("/", "proc", "1", "task", "2"), ("/", "srv", "ethos"),
                ("/", "SRV", "Ethos"), ("/", "home", "u")]
    checked = 0
    for prefix in prefixes:
        for name in names:
            for tail in ((), ("x",), ("environ",)):
                parts = (*prefix, name, *tail)
                assert matcher.match_parts(parts) == _fnmatch_walk(matcher, parts), parts
                checked += 1
    assert matcher.match_parts(("/", "srv", "ethos", "STATE.db-wal")) == "floor.ethos_state"
    assert matcher.match_parts(("/", "etc", "sudoers.d", "x")) == "floor.sudoers"
    assert checked > 400
