"""Built-ins cannot be weakened: for every stage the result with plugins is at least as strict
as the built-in's alone, whatever the plugins return, raise or declare."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from ethos_core import hookimpl
from ethos_core.errors import EngineIntegrityError, PluginRegistrationError
from ethos_core.manager import build_plugin_manager
from ethos_core.pipeline import Pipeline
from ethos_core.runtime import HomePaths, Runtime
from ethos_core.stages import Stage
from ethos_core.types import ContextVisibility, Decision, RedactionSpan
from ethos_core.verdicts import Verdict

from .helpers import (
    CTX,
    DECISION_INPUTS,
    MESSAGE_WITH_QUOTES,
    POLICY,
    SAMPLE_CONTENT,
    SAMPLE_RESULT,
    make_bad_type_plugin,
    make_raising_plugin,
    make_widening_plugin,
)

SECRET_TEXT = "token sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA end"


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    rt = Runtime(home=HomePaths(tmp_path / "home"))
    rt.secret_values["planted"] = "PLANTED-SECRET-VALUE-1234"
    return rt


def pipeline(runtime: Runtime, *plugins: object) -> Pipeline:
    return Pipeline(build_plugin_manager(runtime, plugins, autoload=False))


PLUGIN_SETS = {
    "widening": make_widening_plugin,
    "raising": make_raising_plugin,
    "bad_type": make_bad_type_plugin,
}


@pytest.mark.parametrize("plugin_kind", sorted(PLUGIN_SETS))
@pytest.mark.parametrize("stage", sorted(DECISION_INPUTS, key=lambda s: s.number), ids=lambda s: s.value)
def test_decision_stages_never_weaker_than_builtin(runtime: Runtime, stage: Stage, plugin_kind: str) -> None:
    alone = pipeline(runtime)
    with_plugin = pipeline(runtime, PLUGIN_SETS[plugin_kind]())
    for kwargs in DECISION_INPUTS[stage]:
        base = alone.decide(stage, **kwargs)
        combined = with_plugin.decide(stage, **kwargs)
        assert combined.verdict >= base.verdict, (stage, kwargs, base, combined)
        if plugin_kind == "raising" or (plugin_kind == "bad_type" and stage in (Stage.HARDLINE, Stage.NETWORK_REACH)):
            assert combined.verdict is Verdict.DENY
            assert combined.source.startswith("plugin") or "Raising" in combined.source or combined.source


def test_toolset_never_widened(runtime: Runtime) -> None:
    tools = frozenset({"read_file", "shell", "web_fetch", "rootkit"})
    base = pipeline(runtime).filter_toolset(tools, CTX)
    assert base == {"read_file", "shell", "web_fetch"}
    assert pipeline(runtime, make_widening_plugin()).filter_toolset(tools, CTX) == base
    assert pipeline(runtime, make_raising_plugin()).filter_toolset(tools, CTX) == frozenset()
    assert pipeline(runtime, make_bad_type_plugin()).filter_toolset(tools, CTX) == frozenset()


def test_redaction_never_reduced(runtime: Runtime) -> None:
    text = "value PLANTED-SECRET-VALUE-1234 and " + SECRET_TEXT
    base = pipeline(runtime).redact(text, CTX)
    assert "PLANTED-SECRET-VALUE-1234" not in base
    widened = pipeline(runtime, make_widening_plugin()).redact(text, CTX)
    assert widened == base
    for kind in ("raising", "bad_type"):
        out = pipeline(runtime, PLUGIN_SETS[kind]()).redact(text, CTX)
        assert out == "[REDACTED:redaction_error]"


def test_plugin_can_redact_more(runtime: Runtime) -> None:
    class Ticket:
        @hookimpl
        def ethos_redact(self, text: str, ctx: Any) -> list[RedactionSpan]:
            i = text.find("TICKET-42")
            return [RedactionSpan(i, i + 9, "ticket")] if i >= 0 else []

    out = pipeline(runtime, Ticket()).redact("see TICKET-42 and PLANTED-SECRET-VALUE-1234", CTX)
    assert "TICKET-42" not in out and "PLANTED-SECRET-VALUE-1234" not in out
    assert "[REDACTED:ticket]" in out


def test_provenance_and_wrapping_never_trust_more(runtime: Runtime) -> None:
    base = pipeline(runtime).provenance(SAMPLE_CONTENT, CTX)
    assert base.untrusted
    wide = pipeline(runtime, make_widening_plugin())
    assert wide.provenance(SAMPLE_CONTENT, CTX).untrusted
    assert wide.wrap_untrusted(SAMPLE_RESULT, CTX).untrusted
    bad = pipeline(runtime, make_raising_plugin()).provenance(SAMPLE_CONTENT, CTX)
    assert bad.untrusted and bad.flagged and bad.quarantine
    assert pipeline(runtime, make_bad_type_plugin()).provenance(SAMPLE_CONTENT, CTX).quarantine


def test_context_visibility_never_loosened(runtime: Runtime) -> None:
    base = pipeline(runtime).context_visibility(MESSAGE_WITH_QUOTES, POLICY, CTX)
    assert base is ContextVisibility.ALLOWLIST
    assert pipeline(runtime, make_widening_plugin()).context_visibility(MESSAGE_WITH_QUOTES, POLICY, CTX) is base
    assert pipeline(runtime, make_raising_plugin()).context_visibility(MESSAGE_WITH_QUOTES, POLICY, CTX) is ContextVisibility.ALLOWLIST


def test_plugin_may_narrow(runtime: Runtime) -> None:
    class Narrow:
        @hookimpl
        def ethos_network_reach(self, access: Any, ctx: Any) -> Decision:
            return Decision.deny(Stage.NETWORK_REACH, "narrow.all", "nothing")

        @hookimpl
        def ethos_context_visibility(self, message: Any, policy: Any, ctx: Any) -> ContextVisibility:
            return ContextVisibility.ALLOWLIST

    p = pipeline(runtime, Narrow())
    inputs = DECISION_INPUTS[Stage.NETWORK_REACH][1]
    assert p.decide(Stage.NETWORK_REACH, **inputs).verdict is Verdict.DENY


@pytest.mark.parametrize("option", ["tryfirst", "trylast", "wrapper", "hookwrapper", "optionalhook"])
def test_ordering_and_wrapping_options_refused(runtime: Runtime, option: str) -> None:
    class Sneaky:
        pass

    if option in ("wrapper", "hookwrapper"):
        def impl(self: Any, call: Any, ctx: Any) -> Any:
            result = yield
            return result
    else:
        def impl(self: Any, call: Any, ctx: Any) -> Any:
            return Decision.allow(Stage.HARDLINE, "sneaky", "allowed first")
    Sneaky.ethos_hardline = hookimpl(**{option: True})(impl)
    pm = build_plugin_manager(runtime, autoload=False, seal=False)
    before = [name for name, _ in pm.list_name_plugin()]
    with pytest.raises(PluginRegistrationError, match=option):
        pm.register(Sneaky(), name="sneaky")
    assert [name for name, _ in pm.list_name_plugin()] == before
    assert len(pm.hook.ethos_hardline.get_hookimpls()) == 1


def test_specname_alias_cannot_smuggle_options(runtime: Runtime) -> None:
    class Alias:
        @hookimpl(specname="ethos_hardline", tryfirst=True)
        def innocent(self, call: Any, ctx: Any) -> Decision:
            return Decision.allow(Stage.HARDLINE, "alias", "allowed")

    pm = build_plugin_manager(runtime, autoload=False, seal=False)
    with pytest.raises(PluginRegistrationError):
        pm.register(Alias(), name="alias")


def test_registration_is_transactional(runtime: Runtime) -> None:
    class HalfBad:
        @hookimpl
        def ethos_hardline(self, call: Any, ctx: Any) -> None:
            return None

        @hookimpl
        def ethos_network_reach(self, wrong_argument_name: Any) -> None:
            return None

    pm = build_plugin_manager(runtime, autoload=False, seal=False)
    with pytest.raises(PluginRegistrationError):
        pm.register(HalfBad(), name="halfbad")
    assert pm.get_plugin("halfbad") is None
    assert len(pm.hook.ethos_hardline.get_hookimpls()) == 1


def test_unknown_ethos_hook_refused(runtime: Runtime) -> None:
    class Typo:
        @hookimpl
        def ethos_hardlien(self, call: Any, ctx: Any) -> None:
            return None

    pm = build_plugin_manager(runtime, autoload=False, seal=False)
    with pytest.raises(PluginRegistrationError, match="unknown hook"):
        pm.register(Typo(), name="typo")


def _named(name: str, verdict: Verdict) -> object:
    class P:
        @hookimpl
        def ethos_network_reach(self, access: Any, ctx: Any) -> Decision:
            return Decision(verdict, Stage.NETWORK_REACH, f"{name}.rule", f"{name} says {verdict}")

    P.__name__ = name
    return P()


def test_verdicts_identical_under_every_registration_order(runtime: Runtime) -> None:
    results = set()
    for order in itertools.permutations([("a", Verdict.APPROVE), ("b", Verdict.DENY), ("c", Verdict.DENY)]):
        pm = build_plugin_manager(runtime, autoload=False, seal=False)
        for name, verdict in order:
            pm.register(_named(name, verdict), name=name)
        pm.seal()
        d = Pipeline(pm).decide(Stage.NETWORK_REACH, **DECISION_INPUTS[Stage.NETWORK_REACH][1])
        results.add((d.verdict, d.rule, d.source))
    assert len(results) == 1


def test_deciding_plugin_is_stamped_as_source_and_cannot_forge_it(runtime: Runtime) -> None:
    class Forger:
        @hookimpl
        def ethos_network_reach(self, access: Any, ctx: Any) -> Decision:
            return Decision.deny(Stage.HARDLINE, "forger.rule", "forged", source="ethos.builtin.network_reach")

    d = pipeline(runtime, Forger()).decide(Stage.NETWORK_REACH, **DECISION_INPUTS[Stage.NETWORK_REACH][1])
    if d.rule == "forger.rule":
        assert d.source == "forger" or not d.source.startswith("ethos.builtin")
        assert d.stage is Stage.NETWORK_REACH


def test_integrity_check_catches_private_state_tampering(runtime: Runtime) -> None:
    pm = build_plugin_manager(runtime, autoload=False)
    p = Pipeline(pm)
    kwargs = DECISION_INPUTS[Stage.HARDLINE][0]
    p.decide(Stage.HARDLINE, **kwargs)
    # 1. the name → plugin map
    plugin = pm._name2plugin.pop(Stage.HARDLINE.builtin_name)
    with pytest.raises(EngineIntegrityError):
        p.decide(Stage.HARDLINE, **kwargs)
    pm._name2plugin[Stage.HARDLINE.builtin_name] = plugin
    p.decide(Stage.HARDLINE, **kwargs)
    # 2. the hook caller's implementation list
    caller = pm.hook.ethos_hardline
    saved = list(caller._hookimpls)
    caller._hookimpls.clear()
    with pytest.raises(EngineIntegrityError):
        p.decide(Stage.HARDLINE, **kwargs)
    caller._hookimpls.extend(saved)
    # 3. an implementation smuggled in after seal
    from pluggy import HookImpl

    class Late:
        def ethos_hardline(self, call: Any, ctx: Any) -> Decision:
            return Decision.allow(Stage.HARDLINE, "late", "late")

    late = Late()
    opts = {"wrapper": False, "hookwrapper": False, "optionalhook": False, "tryfirst": False, "trylast": False,
            "specname": None}
    caller._add_hookimpl(HookImpl(late, "late", late.ethos_hardline, opts))  # type: ignore[arg-type]
    with pytest.raises(EngineIntegrityError):
        p.decide(Stage.HARDLINE, **kwargs)
