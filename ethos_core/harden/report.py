"""Result types of ``ethos harden check``: one :class:`CheckResult` per check, one :class:`HardenReport`.

Check ids are stable (``harden.<name>``) and appear unchanged in the CLI, its JSON output, the
``system.startup``/``harden.report`` audit event and docs/hardening.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

SEVERITIES = ("critical", "high", "medium", "low")
STATUSES = ("pass", "fail", "skip")


def _strs(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _results(values: Iterable[CheckResult]) -> tuple[CheckResult, ...]:
    return tuple(values)


@attrs.frozen
class CheckResult:
    """The outcome of one check. ``findings`` point at what failed (``file:line: detail``)."""

    id: str
    severity: str
    status: str
    message: str
    fix: str
    findings: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    fixed: tuple[str, ...] = attrs.field(default=(), converter=_strs)

    def __attrs_post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "severity": self.severity,
            "status": self.status,
            "message": self.message,
            "fix": self.fix,
            "findings": list(self.findings),
        }
        if self.fixed:
            out["fixed"] = list(self.fixed)
        return out


@attrs.frozen
class HardenReport:
    """Every check of one run, in a fixed order."""

    home: str
    checks: tuple[CheckResult, ...] = attrs.field(converter=_results)
    in_container: bool = False

    @property
    def ok(self) -> bool:
        return not any(c.failed for c in self.checks)

    def by_id(self, check_id: str) -> CheckResult:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    def ids(self, status: str) -> list[str]:
        return [c.id for c in self.checks if c.status == status]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "home": self.home,
            "in_container": self.in_container,
            "checks": [c.to_json() for c in self.checks],
        }


def ordered(results: Iterable[CheckResult], order: Iterable[str]) -> tuple[CheckResult, ...]:
    """``results`` sorted by the position of their id in ``order`` (unknown ids last)."""
    index = {cid: i for i, cid in enumerate(order)}
    return tuple(sorted(results, key=lambda c: index.get(c.id, len(index))))
