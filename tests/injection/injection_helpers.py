"""Shared helpers for the injection tests (imported by file name; tests/ has no packages)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ethos_core.types import Context, InjectionDefense, Personality, SafetyPolicy

CORPUS = Path(__file__).resolve().parents[1] / "data" / "injection" / "corpus.jsonl"


def load_corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def make_ctx(mode: InjectionDefense = InjectionDefense.BALANCED, turn: int = 0) -> Context:
    return Context(
        personality=Personality(id="p1", directory="/tmp/p1", safety=SafetyPolicy(injection_defense=mode)),
        session="s1",
        turn=turn,
    )
