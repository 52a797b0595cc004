"""Renderings of a :class:`ScanReport`: a human table, JSON (``to_json``) and SARIF 2.1.0."""

from __future__ import annotations

from typing import Any

from ethos_core.skills.findings import ScanReport
from ethos_core.skills.rules import RED, RULES

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def render_table(report: ScanReport) -> str:
    head = (f"{report.distribution or '?'} {report.version or ''} ({report.kind}) — {report.verdict.upper()}: "
            f"{len(report.red)} red, {len(report.yellow)} yellow, {len(report.files)} files"
            + (" — REFUSED (not unpacked)" if report.refused else ""))
    if not report.findings:
        return head + "\nno findings"
    rows = [("SEV", "RULE", "WHERE", "EXCERPT / WHY")]
    for f in report.findings:
        where = f"{f.path}:{f.line}" if f.line else f.path
        rows.append((f.severity, f.rule, where[:60], (f.excerpt or f.message)[:80] + (f"  ({f.message})" if f.message and f.excerpt else "")))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [head]
    for r in rows:
        lines.append(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
    return "\n".join(lines)


def to_sarif(report: ScanReport, version: str = "") -> dict[str, Any]:
    used = sorted(report.rules)
    rules = [{
        "id": rule_id,
        "shortDescription": {"text": RULES[rule_id].summary if rule_id in RULES else rule_id},
        "defaultConfiguration": {"level": "error" if (RULES[rule_id].severity if rule_id in RULES else RED) == RED else "warning"},
    } for rule_id in used]
    results = []
    for f in report.findings:
        region: dict[str, Any] = {"startLine": f.line} if f.line else {}
        if f.excerpt:
            region["snippet"] = {"text": f.excerpt}
        location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": f.path}}}
        if region:
            location["physicalLocation"]["region"] = region
        results.append({
            "ruleId": f.rule,
            "ruleIndex": used.index(f.rule),
            "level": "error" if f.severity == RED else "warning",
            "message": {"text": f.message or (RULES[f.rule].summary if f.rule in RULES else f.rule)},
            "locations": [location],
        })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "ethos-skill-scan", "version": version or "0", "rules": rules,
                                "informationUri": "https://github.com/ethos/ethos/blob/main/docs/skill-authoring.md"}},
            "artifacts": [{"location": {"uri": report.target}}],
            "results": results,
            "properties": {"verdict": report.verdict, "refused": report.refused, "distribution": report.distribution,
                           "version": report.version},
        }],
    }
