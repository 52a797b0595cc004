"""The benign corpus: zero hardline hits and at most 5 % approvals."""

from __future__ import annotations

from pathlib import Path

from tests.shell.helpers import hardline, risk

CORPUS = Path(__file__).resolve().parents[1] / "data" / "benign_commands.txt"


def _commands() -> list[str]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_corpus_is_large_enough() -> None:
    assert len(_commands()) >= 200


def test_no_hardline_hits() -> None:
    hits = [(c, hardline(c).rule) for c in _commands() if not hardline(c).allowed]
    assert hits == []


def test_at_most_five_percent_need_approval() -> None:
    commands = _commands()
    flagged = [(c, risk(c).rule) for c in commands if not risk(c).allowed]
    assert len(flagged) <= 0.05 * len(commands), flagged
