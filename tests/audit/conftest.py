"""Fixtures for the audit store tests: a known-secret redactor and stores that always close."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ethos_core.audit import AuditStore
from ethos_core.engine import ENGINE_COMMIT_DELAY
from tests.audit.helpers import known_redactor, known_redactor_many


@pytest.fixture
def redact() -> Callable[[str], str]:
    return known_redactor


@pytest.fixture(params=["per_string", "batched", "on_caller"])
def make_store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., AuditStore]]:
    """Stores redacting with ``redact`` (one call per string), with ``redact_many`` (one joined
    call per group of events, on the preparer thread) and with ``redact_many`` on the writing
    thread with a commit delay (the engine's mode); a test that passes its own redactor gets it."""
    stores: list[AuditStore] = []

    def factory(path: Path | None = None, **kw: Any) -> AuditStore:
        if request.param == "on_caller":
            kw.setdefault("prepare_on_caller", True)
            kw.setdefault("commit_delay", ENGINE_COMMIT_DELAY)
        if "redact" not in kw and "redact_many" not in kw:
            if request.param in ("batched", "on_caller"):
                kw["redact_many"] = known_redactor_many
            else:
                kw["redact"] = known_redactor
        store = AuditStore(path or tmp_path / "observability.db", **kw)
        stores.append(store)
        return store

    yield factory
    for store in stores:
        try:
            store.close(timeout=0.5)
        except Exception:  # noqa: BLE001 - tests of failure modes leave stores failed on purpose
            pass


@pytest.fixture
def store(make_store: Callable[..., AuditStore]) -> AuditStore:
    return make_store()
