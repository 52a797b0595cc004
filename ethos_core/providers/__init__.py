"""LLM providers, contributed through ``ethos_llm_providers``.

Built in: ``openai`` (any OpenAI-compatible Chat Completions endpoint), ``anthropic`` (Messages)
and ``scripted`` (replays a JSON script). :func:`build_provider` turns a ``providers.<name>``
config entry into a provider, resolving ``${secrets:ref}`` in ``apiKey``.
"""

from __future__ import annotations

import re
from typing import Any

from ethos_core.config.model import ProviderConfig
from ethos_core.errors import ConfigError, ConfigIssue, SecretResolutionError
from ethos_core.markers import hookimpl
from ethos_core.providers.anthropic import AnthropicProvider
from ethos_core.providers.base import LLMProvider, Message, ModelTurn, ProviderError, RetryPolicy, StreamEvent
from ethos_core.providers.openai import OpenAIProvider
from ethos_core.providers.scripted import ScriptedProvider
from ethos_core.runtime import Runtime

SECRET_REF = re.compile(r"^\$\{secrets:([A-Za-z0-9_.\-/]+)\}$")


def resolve_secret_value(value: str | None, runtime: Runtime) -> str | None:
    """``${secrets:ref}`` → its resolved value; anything else is returned as is."""
    if value is None:
        return None
    m = SECRET_REF.match(value.strip())
    if not m:
        return value
    resolved = runtime.secret_values.get(m.group(1))
    if resolved is None:
        raise SecretResolutionError(f"secret {m.group(1)!r} did not resolve (see: ethos secrets list)")
    return resolved


class ProviderFactory:
    """Builds providers of one ``type`` from config."""

    def __init__(self, type_name: str):
        self.type = type_name

    def build(self, name: str, cfg: ProviderConfig, runtime: Runtime) -> LLMProvider:
        key = resolve_secret_value(cfg.api_key, runtime)
        if self.type == "openai":
            if not cfg.base_url or not cfg.model:
                raise ConfigError([ConfigIssue("config.yaml", None, None, f"providers.{name}", "openai providers need baseUrl and model")])
            return OpenAIProvider(name, cfg.base_url, cfg.model, key)
        if self.type == "anthropic":
            return AnthropicProvider(name, cfg.model or "claude-sonnet-4-5", key, cfg.base_url or "https://api.anthropic.com")
        if self.type == "scripted":
            if not cfg.script:
                return ScriptedProvider([], name=name)
            return ScriptedProvider.from_file(cfg.script, name=name)
        raise ProviderError(f"unknown provider type {self.type!r}")


class BuiltinProviders:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_llm_providers(self) -> list[ProviderFactory]:
        return [ProviderFactory("openai"), ProviderFactory("anthropic"), ProviderFactory("scripted")]


def make_plugin(runtime: Runtime) -> object:
    return BuiltinProviders(runtime)


def build_provider(engine: Any, name: str) -> LLMProvider:
    """The provider configured as ``providers.<name>``, built by the factory for its type."""
    cfg = engine.home.config.providers.get(name)
    if cfg is None:
        raise ProviderError(f"no provider {name!r} in config.yaml (providers: {', '.join(engine.home.config.providers) or 'none'})")
    factories = {getattr(f, "type", None): f for _, f in engine.pipeline.collect("ethos_llm_providers")}
    factory = factories.get(cfg.type)
    if factory is None:
        raise ProviderError(f"no provider factory for type {cfg.type!r}")
    provider: LLMProvider = factory.build(name, cfg, engine.runtime)
    return provider


__all__ = [
    "AnthropicProvider", "LLMProvider", "Message", "ModelTurn", "OpenAIProvider", "ProviderError", "ProviderFactory",
    "RetryPolicy", "ScriptedProvider", "StreamEvent", "build_provider", "resolve_secret_value",
]
