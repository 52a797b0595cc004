"""Build the effective :class:`~ethos_core.types.ChannelPolicy` of one bot from configuration.

Invariant: every id in the result is a plain ``str`` exactly as configured (no trimming, no case
folding, no numeric parsing), so ``"123"`` and ``123`` compare equal only because both become
``"123"``, and ``" 123"`` or ``"0123"`` never do. An unknown ``contextVisibility`` fails closed to
``allowlist``. Not covered: whether the configured ids are real accounts on the platform.
"""

from __future__ import annotations

from ethos_core.config.model import BotConfig, ChannelFilterConfig
from ethos_core.types import ChannelPolicy, ContextVisibility


def _visibility(value: str) -> ContextVisibility:
    try:
        return ContextVisibility(value)
    except ValueError:
        return ContextVisibility.ALLOWLIST


def channel_policy_from_config(platform: str, cfg: ChannelFilterConfig | None, bot: BotConfig | None = None) -> ChannelPolicy:
    """The effective policy for ``platform``; no ``channel_filter`` entry means owner-less deny-all."""
    cfg = cfg or ChannelFilterConfig()
    owner = None if cfg.owner is None else str(cfg.owner)
    roles = {str(sender): str(role) for sender, role in (cfg.roles or {}).items()}
    bot_username = bot.username if bot is not None and bot.username else None
    return ChannelPolicy(
        platform=platform,
        owner=owner,
        allowed_senders=frozenset(str(s) for s in cfg.allowed_senders),
        pairing_enabled=bool(cfg.pairing_enabled),
        context_visibility=_visibility(cfg.context_visibility),
        require_mention=bool(cfg.require_mention),
        bot_username=bot_username,
        bot_id=None,
        roles=roles,
        allowed_chats=frozenset(str(c) for c in cfg.allowed_chats),
        rate_per_sender_per_minute=max(0, int(cfg.rate_limit.per_sender_per_minute)),
        rate_per_chat_per_minute=max(0, int(cfg.rate_limit.per_chat_per_minute)),
        rate_burst=max(1, int(cfg.rate_limit.burst)),
    )


def cli_policy(owner: str = "local") -> ChannelPolicy:
    """Policy of the built-in local ``cli`` channel: the person at the terminal is the owner."""
    return ChannelPolicy(platform="cli", owner=owner, require_mention=False)
