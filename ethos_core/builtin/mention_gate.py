"""Stage ② mention gate: in groups only a structural mention of the bot, or a reply to the
bot's own message, admits. Mentions come from platform entities, never from message text.

Invariant: see :mod:`ethos_core.channel.mention` (rules ``mention.not_required``,
``mention.present``, ``mention.reply``, ``mention.edited``, ``mention.missing``). Not covered: a
platform that forges entities.
"""

from __future__ import annotations

from ethos_core.channel.mention import mention_decision
from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.types import ChannelPolicy, Context, Decision, InboundMessage


class MentionGateFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_mention_gate(self, message: InboundMessage, policy: ChannelPolicy, ctx: Context) -> Decision:
        return mention_decision(message, policy)


def make_plugin(runtime: Runtime) -> object:
    return MentionGateFloor(runtime)
