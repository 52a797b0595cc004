"""Every YAML block in docs/ (and the reference checklist's examples) loads exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ethos_core.config.load import load_model, parse_yaml
from ethos_core.config.model import GlobalConfig, PersonalityConfig

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def yaml_blocks() -> list[tuple[str, int, str]]:
    out = []
    for path in sorted(DOCS.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for m in BLOCK.finditer(text):
            line = text.count("\n", 0, m.start()) + 2
            out.append((path.name, line, m.group(1)))
    return out


BLOCKS = yaml_blocks()


def test_docs_have_yaml_examples() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("name,line,block", BLOCKS, ids=[f"{n}:{ln}" for n, ln, _ in BLOCKS])
def test_yaml_block_loads(name: str, line: int, block: str) -> None:
    first = block.splitlines()[0] if block.strip() else ""
    if "toolset.yaml" in first:
        tree, issues = parse_yaml(block, name)
        assert not issues and isinstance(tree, list) and all(isinstance(t, str) for t in tree)
        return
    attempts = {}
    for model in (PersonalityConfig, GlobalConfig):
        loaded = load_model(block, f"{name}:{line}", model)
        errors = [i.render() for i in loaded.issues if i.severity == "error"]
        if not errors:
            return
        attempts[model.__name__] = errors
    pytest.fail(f"{name}:{line} loads as neither config: {attempts}")


CHECKLIST_EXAMPLES = {
    "fs_reach": ("personality", "fs_reach:\n  read:\n    - ~/projects/myapp\n  write:\n    - ~/projects/myapp/src\n"),
    "networkReach": ("personality", 'safety:\n  networkReach:\n    - host: "api.github.com"\n      ports: [443]\n'
                                    '    - host: "*.slack.com"\n      ports: [443]\n'),
    "channel_filter": ("global", 'channel_filter:\n  telegram:\n    allowedSenders:\n      - "123456789" # numeric user ID\n'
                                 '    pairingEnabled: true\n    contextVisibility: "allowlist"\n  slack:\n'
                                 '    allowedSenders:\n      - "U01ABC123"\n    contextVisibility: "allowlist_quote"\n'),
    "retention": ("global", 'observability:\n  retention:\n    "audit.*": "90d"\n    "channel.*": "90d"\n    "install.*": "30d"\n'),
}


@pytest.mark.parametrize("key", sorted(CHECKLIST_EXAMPLES))
def test_reference_checklist_examples_load(key: str) -> None:
    kind, text = CHECKLIST_EXAMPLES[key]
    model = PersonalityConfig if kind == "personality" else GlobalConfig
    loaded = load_model(text, "checklist", model)
    assert not loaded.issues, [i.render() for i in loaded.issues]
    assert any(text.strip() in block for _, _, block in BLOCKS) or key in ("fs_reach",), f"{key} example missing from docs"
