"""resolve_parts' openat2 fast path gives exactly the answers of the lstat walk.

The fast path answers only "every component exists and none is a symlink"; everything else
(links, magic links, missing or unsearchable components, a file used as a directory, loops)
must fall through to the walk, which the comparisons below check case by case.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ethos_core.fs import paths as fs_paths
from ethos_core.fs.openat2 import OPENAT2
from ethos_core.fs.paths import PathRefused, resolve_parts, split_abs

pytestmark = pytest.mark.skipif(not OPENAT2.available, reason="openat2 is not available on this kernel")


def _walk_only(parts: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...] | str:
    with monkeypatch.context() as m:
        m.setattr(OPENAT2, "available", False)
        try:
            return resolve_parts(parts)
        except PathRefused as refused:
            return refused.decision.rule


def _both(parts: tuple[str, ...]) -> tuple[str, ...] | str:
    try:
        return resolve_parts(parts)
    except PathRefused as refused:
        return refused.decision.rule


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    (tmp_path / "a/b/c").mkdir(parents=True)
    (tmp_path / "a/b/c/file.txt").write_text("x")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/secret").write_text("s")
    os.symlink(tmp_path / "outside", tmp_path / "a/b/link")  # absolute link in the middle
    os.symlink("../../outside/secret", tmp_path / "a/b/rel")  # relative link at the end
    os.symlink(tmp_path / "nowhere", tmp_path / "a/dangling")
    os.symlink("loop2", tmp_path / "a/loop1")
    os.symlink("loop1", tmp_path / "a/loop2")
    return tmp_path


@pytest.mark.parametrize(
    "rel",
    [
        "a/b/c/file.txt",  # plain: the fast path answers
        "a/b/c",
        "a/b/link/secret",  # symlink in the middle
        "a/b/rel",  # symlink as the last component
        "a/dangling",  # dangling link resolves to its target
        "a/dangling/below",
        "a/missing/x",  # missing component: kept as written
        "a/b/c/file.txt/more",  # a file used as a directory
        "a/loop1",  # loop → fs.symlink_loop
    ],
)
def test_same_answer_as_the_walk(tree: Path, rel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = split_abs(str(tree / rel))
    assert _both(parts) == _walk_only(parts, monkeypatch)


def test_magic_link_is_not_taken_by_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = split_abs(f"/proc/{os.getpid()}/root/etc")
    assert _both(parts) == _walk_only(parts, monkeypatch)
    assert _both(parts) != parts  # /proc/<pid>/root is a link: the walk followed it


def test_plain_path_needs_no_lstat(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = os.lstat

    def counting(path: str, *a: object, **k: object) -> os.stat_result:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(fs_paths.os, "lstat", counting)
    parts = split_abs(str(tree / "a/b/c/file.txt"))
    assert resolve_parts(parts) == parts
    assert calls == []
    resolve_parts(split_abs(str(tree / "a/b/link/secret")))
    assert calls  # a link on the way: the walk ran


def test_visit_sees_every_link_the_walk_would_report(tree: Path) -> None:
    seen: list[tuple[str, ...]] = []
    resolve_parts(split_abs(str(tree / "a/b/link/secret")), visit=seen.append)
    assert seen == [split_abs(str(tree / "a/b/link"))]


@pytest.mark.parametrize("suffix", ["\x00", "\x00/../shadow", "\x00/missing/child"])
def test_openat2_refuses_a_nul_instead_of_opening_the_prefix(tree: Path, suffix: str) -> None:
    """C ends a path at its first NUL: the primitive must not open (or vouch for) the prefix."""
    existing = str(tree / "a")
    assert OPENAT2.has_no_symlinks(existing)
    assert not OPENAT2.has_no_symlinks(existing + suffix)
    with pytest.raises(ValueError, match="null byte"):
        OPENAT2.open(existing + suffix, os.O_RDONLY)
