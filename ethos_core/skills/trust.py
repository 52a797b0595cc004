"""Trust tiers and the install-policy matrix.

Invariant: :func:`decide` allows an install only when (1) the scan was not refused and no
non-overridable rule fired, (2) every red rule that fired is named in ``--accept`` — for
``trusted`` artifacts ``--accept ALL`` also covers red, for ``community`` and ``untrusted``
each rule must be named — and (3) for ``untrusted`` artifacts every yellow rule is named too.
``builtin`` is the tier of tools shipped inside ethos_core; nothing is installed as builtin.

Tiers: ``trusted`` — downloaded from an index listed in ``skills.trustedIndexes`` or a
distribution whose name matches a ``skills.trustedPublishers`` pattern (fnmatch, e.g.
``acme-*``) downloaded from an index; ``community`` — downloaded from any other index;
``untrusted`` — a local file or URL (nothing vouches for where it came from).

Not covered: cryptographic publisher identity (index attestations are not verified; a publisher
pattern trusts whoever controls that name on the index you install from).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

import attrs

from ethos_core.skills.findings import ScanReport
from ethos_core.skills.manifest import normalize_name
from ethos_core.skills.rules import ACCEPT_ALL, RED, YELLOW, overridable

BUILTIN, TRUSTED, COMMUNITY, UNTRUSTED = "builtin", "trusted", "community", "untrusted"
TIERS = (BUILTIN, TRUSTED, COMMUNITY, UNTRUSTED)

# tier -> (red needs each rule named, ALL accepted for red, yellow needs each rule named)
MATRIX: dict[str, tuple[bool, bool, bool]] = {
    TRUSTED: (True, True, False),
    COMMUNITY: (True, False, False),
    UNTRUSTED: (True, False, True),
}


def classify_tier(name: str | None, *, from_index: bool, index_url: str | None,
                  trusted_indexes: Iterable[str] = (), trusted_publishers: Iterable[str] = ()) -> str:
    if not from_index:
        return UNTRUSTED
    idx = (index_url or "").rstrip("/")
    if idx and idx in {i.rstrip("/") for i in trusted_indexes}:
        return TRUSTED
    norm = normalize_name(name or "")
    if norm and any(fnmatch.fnmatchcase(norm, normalize_name(p).replace("-*", "*") if p.endswith("*") else normalize_name(p))
                    or fnmatch.fnmatchcase(norm, p.lower()) for p in trusted_publishers):
        return TRUSTED
    return COMMUNITY


@attrs.frozen
class InstallDecision:
    allowed: bool
    tier: str
    accepted: tuple[str, ...]  # rules that fired and were accepted (recorded in the lock and audit)
    blocking: tuple[str, ...]  # rules that fired and stop the install
    reasons: tuple[str, ...]


def decide(report: ScanReport, tier: str, accept: Iterable[str]) -> InstallDecision:
    accept_set = {a.strip() for a in accept if a.strip()}
    if tier == BUILTIN or tier not in TIERS:
        return InstallDecision(False, tier, (), (), (f"tier {tier!r} cannot be installed",))
    red_named, red_all_ok, yellow_named = MATRIX[tier]
    blocking: list[str] = []
    accepted: list[str] = []
    reasons: list[str] = []
    if report.refused:
        reasons.append("the artifact was refused by the scanner (structure or size limits); nothing can accept that")
    for rule in sorted(report.rules):
        severity = next(f.severity for f in report.findings if f.rule == rule)
        if not overridable(rule):
            blocking.append(rule)
            reasons.append(f"{rule} cannot be accepted")
            continue
        named = rule in accept_set
        if severity == RED:
            ok = named or (red_all_ok and ACCEPT_ALL in accept_set) or not red_named
        elif severity == YELLOW:
            ok = (named or not yellow_named)
        else:
            ok = named
        if ok:
            if named or (severity == RED):
                accepted.append(rule)
        else:
            blocking.append(rule)
            how = "name it with --accept" if severity == YELLOW or not red_all_ok else "name it (or ALL) with --accept"
            reasons.append(f"{rule} ({severity}) blocks a {tier} install: {how}")
    allowed = not blocking and not report.refused
    return InstallDecision(allowed, tier, tuple(accepted), tuple(blocking), tuple(reasons))
