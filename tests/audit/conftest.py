"""Fixtures for the audit store tests: a known-secret redactor and stores that always close."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ethos_core.audit import AuditStore
from tests.audit.helpers import known_redactor


@pytest.fixture
def redact() -> Callable[[str], str]:
    return known_redactor


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Callable[..., AuditStore]]:
    stores: list[AuditStore] = []

    def factory(path: Path | None = None, **kw: Any) -> AuditStore:
        kw.setdefault("redact", known_redactor)
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
