"""Stage ② engine: in groups only a structural mention of the bot, or a reply to the bot's own
message, admits.

Invariants:
- only ``message.mentions`` (built by the adapter from platform entities) is consulted; the text
  is never searched, so ``@bot`` in plain text, code blocks, quotes or a display name does nothing;
- a username mention matches when, after removing exactly one leading ``@``, it is pure ASCII
  and equal to the bot's username ignoring ASCII case (``@EthosBot`` = ``@ethosbot``); non-ASCII
  look-alikes (Cyrillic ``е``, fullwidth letters, the Kelvin sign …), extra ``@``, whitespace and
  zero-width characters never match;
- an id mention matches only the exact bot id string and never a ``@``-prefixed name;
- a reply admits only when the adapter marked it as a reply to the bot's own message and, where
  the bot id is known, the replied-to sender id is exactly the bot id;
- edited group messages never pass (``mention.edited``): an edit cannot retro-actively address
  the bot;
- DMs and policies with ``requireMention: false`` are not gated.
Not covered: a platform that forges entities.
"""

from __future__ import annotations

from ethos_core.stages import Stage
from ethos_core.types import ChannelPolicy, Decision, InboundMessage


def _norm_username(name: str) -> str | None:
    if name.startswith("@"):
        name = name[1:]
    if not name or not name.isascii() or not all(ch.isalnum() or ch == "_" for ch in name):
        return None
    return name.lower()


def mentions_bot(mentions: frozenset[str], policy: ChannelPolicy) -> bool:
    bot_id = str(policy.bot_id) if policy.bot_id else None
    bot_name = _norm_username(policy.bot_username) if policy.bot_username else None
    for mention in mentions:
        if bot_id is not None and mention == bot_id:
            return True
        if bot_name is not None and mention.startswith("@") and _norm_username(mention) == bot_name:
            return True
    return False


def mention_decision(message: InboundMessage, policy: ChannelPolicy) -> Decision:
    stage = Stage.MENTION_GATE
    if message.is_dm or not policy.require_mention:
        return Decision.allow(stage, "mention.not_required", "no mention needed")
    if message.edited:
        return Decision.deny(stage, "mention.edited", "edited group messages cannot address the bot")
    if mentions_bot(message.mentions, policy):
        return Decision.allow(stage, "mention.present", "the bot was mentioned")
    if message.reply_to_bot and (policy.bot_id is None or message.reply_to_sender == str(policy.bot_id)):
        return Decision.allow(stage, "mention.reply", "reply to the bot's own message")
    return Decision.deny(stage, "mention.missing", "group message without a mention of the bot")
