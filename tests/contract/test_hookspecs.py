"""Every hook exists under its contract name, is documented, and has a test."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from ethos_core import hookspecs
from ethos_core.stages import STAGE_ORDER, Stage

TESTS = Path(__file__).resolve().parents[1]
LIFECYCLE = (
    "ethos_configure", "ethos_register_tools", "ethos_secret_resolvers", "ethos_channel_adapters",
    "ethos_llm_providers", "ethos_scan_rules", "ethos_audit_sinks",
)
EXPECTED_STAGE_HOOKS = (
    "ethos_channel_admit", "ethos_mention_gate", "ethos_context_visibility", "ethos_provenance", "ethos_watch",
    "ethos_filter_toolset", "ethos_hardline", "ethos_classify_risk", "ethos_fs_boundary", "ethos_network_reach",
    "ethos_watcher_policy", "ethos_approval", "ethos_redact", "ethos_wrap_untrusted", "ethos_audit",
)


def all_hooks() -> list[str]:
    return sorted(name for name in dir(hookspecs) if name.startswith("ethos_"))


def test_the_fifteen_stage_hooks_exist_in_pipeline_order() -> None:
    assert len(STAGE_ORDER) == 15
    assert tuple(stage.hook_name for stage in STAGE_ORDER) == EXPECTED_STAGE_HOOKS
    for name in EXPECTED_STAGE_HOOKS:
        assert callable(getattr(hookspecs, name))
    assert [s.number for s in STAGE_ORDER] == list(range(1, 16))


def test_lifecycle_hooks_exist_and_nothing_else() -> None:
    assert set(all_hooks()) == set(EXPECTED_STAGE_HOOKS) | set(LIFECYCLE)


def test_no_hook_is_firstresult() -> None:
    for name in all_hooks():
        opts = getattr(hookspecs, name).ethos_spec
        assert not opts.get("firstresult"), name


def test_every_hook_docstring_states_the_contract() -> None:
    for name in all_hooks():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        for section in hookspecs.CONTRACT_SECTIONS:
            assert section in doc, f"{name} docstring lacks {section!r}"
        assert "@hookimpl" in doc and f"def {name}(" in doc, f"{name} docstring lacks a runnable-looking example"


def test_every_hook_has_a_test() -> None:
    """Like datasette's test_plugin_hooks_have_tests: each hook name appears in some other test."""
    sources = "\n".join(
        p.read_text(encoding="utf-8") for p in TESTS.rglob("test_*.py") if p.name != Path(__file__).name
    ) + (TESTS / "contract" / "helpers.py").read_text(encoding="utf-8")
    missing = [name for name in all_hooks() if name not in sources]
    assert not missing, f"hooks without a test: {missing}"


def test_stage_ids_are_unique_and_stable() -> None:
    assert len({s.value for s in Stage}) == 15
    assert Stage.NETWORK_REACH.builtin_name == "ethos.builtin.network_reach"


def test_importing_ethos_core_loads_no_plugin() -> None:
    code = (
        "import sys, ethos_core;"
        "mods=[m for m in sys.modules if m.startswith('ethos_core.builtin') or m.startswith('ethos_core.manager')"
        " or m.startswith('ethos_core.loading') or m.startswith('ethos_example')];"
        "print(','.join(mods))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""
