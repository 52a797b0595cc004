"""docs/controls.md stays mechanical: statuses, modules that exist, categories the code emits."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATEGORIES = {
    "audit.tool_call", "audit.approval", "audit.block", "audit.watcher", "audit.injection_flag", "audit.redacted",
    "channel.allow", "channel.deny", "channel.pairing", "install.scan", "system.startup",
}


def rows() -> list[list[str]]:
    out = []
    for line in (ROOT / "docs/controls.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("|") and not line.startswith("|---") and not line.startswith("| control"):
            out.append([cell.strip() for cell in line.strip("|").split("|")])
    return out


def test_controls_table_is_well_formed() -> None:
    table = rows()
    assert len(table) >= 40
    for cells in table:
        assert len(cells) == 5, cells
        status = cells[1]
        assert re.match(r"^(Shipped|Partial \(.+\)|Planned)$", status), cells
        if status.startswith("Shipped"):
            assert cells[4] not in ("", "—"), f"Shipped without an audit category: {cells}"


def test_every_module_named_exists() -> None:
    for control, _, module, _, _ in rows():
        for path in re.findall(r"(?:ethos_core|plugins)/[\w/.\-]+", module):
            assert (ROOT / path).exists(), f"{control}: {path} does not exist"


def test_categories_are_known_and_emitted_by_the_code() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "ethos_core").rglob("*.py"))
    for *_, category_cell in rows():
        for category in re.findall(r"[a-z]+\.[a-z_]+", category_cell):
            assert category in CATEGORIES, category_cell
    for category in CATEGORIES:
        assert f'"{category}"' in source, f"category {category} is declared but never emitted"
