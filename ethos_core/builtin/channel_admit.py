"""Stage ① channel admission: only the owner, allowlisted and paired senders reach the agent, and
only in a DM with them or a group listed in ``allowedChats``.

Invariant: see :mod:`ethos_core.channel.admission` (rules ``channel.owner``,
``channel.allowlisted``, ``channel.paired``, ``channel.not_allowed``,
``channel.pairing_required``, ``channel.chat_not_allowed``, ``rate_limited``). Ids are compared as
exact strings. An error in the engine (e.g. an unreadable state.db) raises, and the pipeline
turns that into DENY. Not covered: taken-over accounts.
"""

from __future__ import annotations

from ethos_core.channel.admission import admission_for
from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.types import ChannelPolicy, Context, Decision, InboundMessage


class ChannelAdmitFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_channel_admit(self, message: InboundMessage, policy: ChannelPolicy, ctx: Context) -> Decision:
        return admission_for(self.runtime).decide(message, policy)


def make_plugin(runtime: Runtime) -> object:
    return ChannelAdmitFloor(runtime)
