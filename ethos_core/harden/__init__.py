"""``ethos harden check``: the production hardening checklist as code (docs/hardening.md).

Public API: :func:`run_checks` (→ :class:`HardenReport`), :data:`CHECKS` (id, severity, fix
hint of every check, in report order), :class:`CheckResult`, :class:`SystemFacts` and
:func:`probe_system` (what the container checks judge). See :mod:`ethos_core.harden.checks`
for the invariant and what is not covered.
"""

from ethos_core.harden.checks import CHECKS, CheckSpec, check_ids, run_checks
from ethos_core.harden.report import CheckResult, HardenReport
from ethos_core.harden.system import Mount, SystemFacts, probe_system

__all__ = [
    "CHECKS",
    "CheckResult",
    "CheckSpec",
    "HardenReport",
    "Mount",
    "SystemFacts",
    "check_ids",
    "probe_system",
    "run_checks",
]
