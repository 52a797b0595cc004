"""The configuration model: frozen attrs classes mirroring the YAML files.

YAML keys are given per field in metadata (``key``) so the Python names stay snake_case
while the files keep the spelling the product documents use (``networkReach``,
``allowedSenders``, ``fs_reach``). Unknown keys and wrong types are errors (see
:mod:`ethos_core.config.load`). Everything here is *configuration*; the effective,
floor-applied policy objects that cross hooks live in :mod:`ethos_core.types`.
"""

from __future__ import annotations

from typing import Any

import attrs


def key(name: str, **kw: Any) -> Any:
    """An attrs field whose YAML key is ``name``."""
    metadata = dict(kw.pop("metadata", {}))
    metadata["key"] = name
    return attrs.field(metadata=metadata, **kw)


# --- personality files ---------------------------------------------------------------------


@attrs.frozen
class FsReachConfig:
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


@attrs.frozen
class NetworkRuleConfig:
    host: str
    ports: tuple[int, ...] = (443,)


@attrs.frozen
class WatcherConfig:
    """Thresholds of the watcher. In a personality these can only tighten the global values."""

    max_tool_calls_per_minute: int | None = key("maxToolCallsPerMinute", default=None)
    max_tokens_per_turn: int | None = key("maxTokensPerTurn", default=None)
    max_tokens_per_session: int | None = key("maxTokensPerSession", default=None)
    max_cost_per_session: float | None = key("maxCostPerSession", default=None)
    max_consecutive_errors: int | None = key("maxConsecutiveErrors", default=None)
    max_consecutive_errors_total: int | None = key("maxConsecutiveErrorsTotal", default=None)
    max_identical_calls: int | None = key("maxIdenticalCalls", default=None)
    sequence_window_calls: int | None = key("sequenceWindowCalls", default=None)
    sequence_window_seconds: float | None = key("sequenceWindowSeconds", default=None)


@attrs.frozen
class DowngradeConfig:
    turns: int = 2
    tools: tuple[str, ...] = ()


@attrs.frozen
class SafetyConfig:
    approval_mode: str = key("approvalMode", default="manual")
    injection_defense: str = key("injectionDefense", default="balanced")
    network_reach: tuple[NetworkRuleConfig, ...] | None = key("networkReach", default=None)
    observability: str = "redacted"
    watcher: WatcherConfig = WatcherConfig()
    downgrade: DowngradeConfig = DowngradeConfig()
    env_files: str = key("envFiles", default="approve")


@attrs.frozen
class ModelConfig:
    provider: str = "scripted"
    name: str = ""


@attrs.frozen
class PersonalityConfig:
    """``personalities/<id>/config.yaml``."""

    name: str | None = None
    description: str | None = None
    fs_reach: FsReachConfig | None = None
    safety: SafetyConfig = SafetyConfig()
    model: ModelConfig | None = None
    prompt: str | None = None


# --- global config.yaml --------------------------------------------------------------------


@attrs.frozen
class RateLimitConfig:
    per_sender_per_minute: int = key("perSenderPerMinute", default=20)
    per_chat_per_minute: int = key("perChatPerMinute", default=60)
    burst: int = 5


@attrs.frozen
class ChannelFilterConfig:
    """``channel_filter.<platform>``."""

    owner: str | None = None
    allowed_senders: tuple[str, ...] = key("allowedSenders", default=())
    pairing_enabled: bool = key("pairingEnabled", default=False)
    context_visibility: str = key("contextVisibility", default="allowlist")
    require_mention: bool = key("requireMention", default=True)
    roles: dict[str, str] = attrs.field(factory=dict)
    rate_limit: RateLimitConfig = key("rateLimit", default=RateLimitConfig())
    allowed_chats: tuple[str, ...] = key("allowedChats", default=())


@attrs.frozen
class SinkConfig:
    type: str = "jsonl"
    path: str | None = None  # None or "-" = stdout


@attrs.frozen
class ObservabilityConfig:
    retention: dict[str, str] = attrs.field(factory=dict)
    sinks: tuple[SinkConfig, ...] = ()


@attrs.frozen
class FileSecretsConfig:
    path: str


@attrs.frozen
class EnvSecretsConfig:
    prefix: str = ""


@attrs.frozen
class AwsSecretsConfig:
    secret_id: str = key("secretId")
    region: str | None = None
    endpoint_url: str | None = key("endpointUrl", default=None)


@attrs.frozen
class VaultSecretsConfig:
    path: str | None = None
    key_source: str = key("keySource", default="keyring")  # "keyring" | "passphrase"


@attrs.frozen
class SecretsConfig:
    file: FileSecretsConfig | None = None
    env: EnvSecretsConfig | None = None
    aws: AwsSecretsConfig | None = None
    vault: VaultSecretsConfig | None = None
    bindings: dict[str, tuple[str, ...]] = attrs.field(factory=dict)


@attrs.frozen
class BotConfig:
    platform: str
    personality: str
    token: str | None = None
    id: str | None = None
    username: str | None = None
    api_base: str | None = key("apiBase", default=None)


@attrs.frozen
class NetworkConfig:
    """Global network floor settings. Exceptions open named CIDRs; metadata is never excepted."""

    allow_cidrs: tuple[str, ...] = key("allowCidrs", default=())
    max_response_bytes: int = key("maxResponseBytes", default=10 * 1024 * 1024)
    connect_timeout: float = key("connectTimeout", default=10.0)
    read_timeout: float = key("readTimeout", default=30.0)
    max_redirects: int = key("maxRedirects", default=5)


@attrs.frozen
class ApprovalsConfig:
    timeout_seconds: float = key("timeoutSeconds", default=300.0)
    reviewer_timeout_seconds: float = key("reviewerTimeoutSeconds", default=15.0)
    reviewer: str | None = None  # provider name for the tier-2 reviewer


@attrs.frozen
class ProviderConfig:
    type: str  # "openai" | "anthropic" | "scripted"
    base_url: str | None = key("baseUrl", default=None)
    api_key: str | None = key("apiKey", default=None)
    model: str | None = None
    script: str | None = None


@attrs.frozen
class SkillsConfig:
    trusted_publishers: tuple[str, ...] = key("trustedPublishers", default=())
    trusted_indexes: tuple[str, ...] = key("trustedIndexes", default=())
    # distribution name -> secret refs its tools may read (still only those the manifest declares)
    secret_grants: dict[str, tuple[str, ...]] = key("secretGrants", factory=dict)


@attrs.frozen
class InjectionConfig:
    """The tier-2 injection classifier: a separate LLM call, never the acting model."""

    tier2_provider: str | None = key("tier2Provider", default=None)
    tier2_timeout_seconds: float = key("tier2TimeoutSeconds", default=8.0)


@attrs.frozen
class GlobalConfig:
    """``$ETHOS_HOME/config.yaml``."""

    channel_filter: dict[str, ChannelFilterConfig] = attrs.field(factory=dict)
    observability: ObservabilityConfig = ObservabilityConfig()
    secrets: SecretsConfig = SecretsConfig()
    bots: tuple[BotConfig, ...] = ()
    watcher: WatcherConfig = WatcherConfig()
    network: NetworkConfig = NetworkConfig()
    approvals: ApprovalsConfig = ApprovalsConfig()
    providers: dict[str, ProviderConfig] = attrs.field(factory=dict)
    skills: SkillsConfig = SkillsConfig()
    injection: InjectionConfig = InjectionConfig()
