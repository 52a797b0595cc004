"""Lifecycle hooks: tools, secret resolvers, configure, and the factory-list hooks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ethos_core import ToolSpec, hookimpl
from ethos_core.engine import Engine
from ethos_core.errors import SecretResolutionError, ToolRegistrationError
from ethos_core.manager import build_plugin_manager
from ethos_core.pipeline import Pipeline
from ethos_core.runtime import HomePaths, Runtime
from ethos_core.secrets.resolvers import EnvSecretsResolver, FileSecretsResolver
from tests.conftest import make_home


class ToolPack:
    @hookimpl
    def ethos_register_tools(self, registry: Any) -> None:
        registry.add(ToolSpec(name="echo_tool", description="echo", capabilities={"fs.read"}), lambda call, s: "ok")


def test_ethos_register_tools_adds_tools_and_rejects_clashes(tmp_path: Path) -> None:
    home = make_home(tmp_path / "h", toolset="- echo_tool\n")
    with Engine.from_home(home, plugins=[ToolPack()], autoload=False) as engine:
        assert "echo_tool" in engine.tools.names()
        session = engine.session("default")
        assert [t.spec.name for t in session.tool_specs()] == ["echo_tool"]

    class Clash:
        @hookimpl
        def ethos_register_tools(self, registry: Any) -> None:
            registry.add(ToolSpec(name="echo_tool", description="other"), lambda call, s: "x")

    with pytest.raises(ToolRegistrationError, match="already registered"):
        Engine.from_home(home, plugins=[ToolPack(), Clash()], autoload=False)


def test_toolset_naming_an_unknown_tool_is_a_config_error(tmp_path: Path) -> None:
    from ethos_core.errors import ConfigError

    home = make_home(tmp_path / "h", toolset="- no_such_tool\n")
    with pytest.raises(ConfigError, match="no_such_tool"):
        Engine.from_home(home, autoload=False)


def test_ethos_secret_resolvers_plugin_resolves_refs(tmp_path: Path) -> None:
    class Vault:
        name = "test-vault"

        def resolve(self, ref: str) -> str | None:
            return {"tg": "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"}.get(ref)

    class VaultPlugin:
        @hookimpl
        def ethos_secret_resolvers(self) -> list[object]:
            return [Vault()]

    home = make_home(tmp_path / "h", config="bots:\n  - platform: telegram\n    token: ${secrets:tg}\n    personality: default\n")
    with Engine.from_home(home, plugins=[VaultPlugin()], autoload=False) as engine:
        assert engine.runtime.secret_values["tg"].startswith("123456:")
        # the resolved value is redacted wherever it appears
        assert "ABCDEFGHIJKLMNOP" not in engine.redact("token=123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi")


def test_env_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETHOS_SLACK_BOT", "xoxb-value")
    assert EnvSecretsResolver(prefix="ETHOS_").resolve("slack-bot") == "xoxb-value"
    assert EnvSecretsResolver().resolve("missing_ref_xyz") is None


def test_file_resolver_refuses_group_readable_and_inside_home(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"gh": "value-1"}), encoding="utf-8")
    os.chmod(secrets_file, 0o644)
    with pytest.raises(SecretResolutionError, match="group or others"):
        FileSecretsResolver(secrets_file).resolve("gh")
    os.chmod(secrets_file, 0o600)
    assert FileSecretsResolver(secrets_file).resolve("gh") == "value-1"
    home = tmp_path / "home"
    home.mkdir()
    inside = home / "secrets.json"
    inside.write_text(json.dumps({"gh": "v"}), encoding="utf-8")
    os.chmod(inside, 0o600)
    with pytest.raises(SecretResolutionError, match="inside ETHOS_HOME"):
        FileSecretsResolver(inside, home=home).resolve("gh")


def test_ethos_configure_is_called_with_the_config(tmp_path: Path) -> None:
    seen: list[Any] = []

    class Cfg:
        @hookimpl
        def ethos_configure(self, config: Any) -> None:
            seen.append(config)

    home = make_home(tmp_path / "h")
    with Engine.from_home(home, plugins=[Cfg()], autoload=False) as engine:
        assert seen == [engine.home.config]


@pytest.mark.parametrize("hook", ["ethos_llm_providers", "ethos_scan_rules", "ethos_channel_adapters", "ethos_audit_sinks"])
def test_factory_list_hooks_are_concatenated_with_their_source(tmp_path: Path, hook: str) -> None:
    def make(tag: str) -> object:
        cls = type(f"P{tag}", (), {hook: hookimpl(lambda self: [f"{tag}-1", f"{tag}-2"])})
        return cls()

    pm = build_plugin_manager(Runtime(home=HomePaths(tmp_path)), autoload=False, seal=False)
    pm.register(make("a"), name="pa")
    pm.register(make("b"), name="pb")
    pm.seal()
    items = Pipeline(pm).collect(hook)
    assert sorted(item for _, item in items if isinstance(item, str)) == ["a-1", "a-2", "b-1", "b-2"]
    assert {source for source, item in items if isinstance(item, str)} == {"pa", "pb"}


def test_tools_are_stamped_with_the_registering_plugin(tmp_path: Path) -> None:
    class Impostor:
        @hookimpl
        def ethos_register_tools(self, registry: Any) -> None:
            registry.add(ToolSpec(name="fake_builtin", description="claims to be built in", source="builtin"),
                         lambda call, s: "x")

    home = make_home(tmp_path / "h")
    pm_plugins: list[object] = [Impostor()]
    with Engine.from_home(home, plugins=pm_plugins, autoload=False) as engine:
        spec = engine.tools.get("fake_builtin")
        assert spec is not None and spec.spec.source != "builtin"
        assert engine.tools.get("read_file").spec.source == "builtin"  # type: ignore[union-attr]


def test_log_records_are_redacted_by_the_cli_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from ethos_core.cli.main import _install_log_redaction

    monkeypatch.setenv("LOG_TEST_TOKEN", "ghp_" + "L" * 36)
    home = make_home(tmp_path / "h", config="providers:\n  x:\n    type: scripted\n    apiKey: ${secrets:log_test_token}\n")
    logger = logging.getLogger("ethos")
    before = list(logger.handlers)
    _install_log_redaction()
    try:
        with Engine.from_home(home, autoload=False):
            logging.getLogger("ethos.test").warning("using key %s and sk-ant-api03-%s", "ghp_" + "L" * 36, "Q" * 40)
    finally:
        for handler in logger.handlers[len(before):]:
            logger.removeHandler(handler)
        logger.propagate = True
    err = capsys.readouterr().err
    assert "LLLLLLLLLLLL" not in err and "QQQQQQQQQQQQ" not in err and "[REDACTED:" in err
