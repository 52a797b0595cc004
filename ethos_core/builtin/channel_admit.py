"""Stage ① channel admission: only the owner and allowlisted senders reach the agent.

Invariant: a sender not equal to the platform's ``owner`` and not in ``allowedSenders`` is
denied (rule ``channel.not_allowed``); ids are compared as exact strings. Pairing and rate
limits are layered on by the channel engine.
"""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.stages import Stage
from ethos_core.types import ChannelPolicy, Context, Decision, InboundMessage


class ChannelAdmitFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_channel_admit(self, message: InboundMessage, policy: ChannelPolicy, ctx: Context) -> Decision:
        sender = message.sender_id
        if policy.owner is not None and sender == policy.owner:
            return Decision.allow(Stage.CHANNEL_ADMIT, "channel.owner", "sender is the owner")
        if sender in policy.allowed_senders:
            return Decision.allow(Stage.CHANNEL_ADMIT, "channel.allowlisted", "sender is allowlisted")
        return Decision.deny(Stage.CHANNEL_ADMIT, "channel.not_allowed", "sender is not on the allowlist")


def make_plugin(runtime: Runtime) -> object:
    return ChannelAdmitFloor(runtime)
