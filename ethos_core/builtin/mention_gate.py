"""Stage ② mention gate: in groups only a structural mention of the bot, or a reply to the
bot's own message, admits. Mentions come from platform entities, never from message text.
"""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.stages import Stage
from ethos_core.types import ChannelPolicy, Context, Decision, InboundMessage


class MentionGateFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_mention_gate(self, message: InboundMessage, policy: ChannelPolicy, ctx: Context) -> Decision:
        if message.is_dm or not policy.require_mention:
            return Decision.allow(Stage.MENTION_GATE, "mention.not_required", "no mention needed")
        bot_ids = {i for i in (policy.bot_id, policy.bot_username) if i}
        if bot_ids & message.mentions:
            return Decision.allow(Stage.MENTION_GATE, "mention.present", "the bot was mentioned")
        if message.reply_to_bot:
            return Decision.allow(Stage.MENTION_GATE, "mention.reply", "reply to the bot's message")
        return Decision.deny(Stage.MENTION_GATE, "mention.missing", "group message without a mention of the bot")


def make_plugin(runtime: Runtime) -> object:
    return MentionGateFloor(runtime)
