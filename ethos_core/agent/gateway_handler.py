"""The gateway's message handler: one reference agent loop per (botKey, chat).

Admission (①–③) already happened in the channel engine; this runs the turn. The sender's own
text is trusted only when the sender is the platform's owner; every quoted, forwarded or history
entry that survived context visibility enters as untrusted content with its author. Approvals go
to the gateway's chat approver. The reply is the loop's final answer — already redacted and
scrubbed of out-of-reach links — or a short notice when the turn was stopped.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ethos_core.agent.loop import AgentLoop
from ethos_core.types import InboundMessage

log = logging.getLogger("ethos.gateway")

Handler = Any


def make_agent_handler(engine: Any, gateway: Any) -> Handler:
    """A ``handler(message, session_key) -> reply`` running the personality's agent loop."""
    from ethos_core.providers import ProviderError, build_provider

    loops: dict[str, AgentLoop] = {}
    lock = threading.Lock()

    def loop_for(key: str) -> AgentLoop | None:
        with lock:
            existing = loops.get(key)
            if existing is not None:
                return existing
            gsession = gateway.sessions.get(key)
            if gsession is None:
                return None
            ctx = gsession.context
            personality = ctx.personality
            if not personality.provider:
                log.warning("personality %s has no model.provider; messages are admitted but not answered",
                            personality.id)
                return None
            try:
                provider = build_provider(engine, personality.provider)
            except (ProviderError, Exception) as exc:  # noqa: BLE001 - a bad provider answers nothing
                log.warning("provider for %s unavailable: %s", personality.id, type(exc).__name__)
                return None
            session = engine.session(personality, channel=ctx.channel, session_id=key, bot=ctx.bot,
                                     approver=gateway.approver)
            loop = loops[key] = AgentLoop(session, provider)
            return loop

    def handle(message: InboundMessage, key: str) -> str | None:
        loop = loop_for(key)
        if loop is None:
            return None
        gsession = gateway.sessions.get(key)
        owner = None
        if gsession is not None:
            bot = gateway.bots.get(gsession.bot_key)
            owner = getattr(getattr(bot, "policy", None), "owner", None)
        trusted = owner is not None and message.sender_id == owner
        context = [(q.text, q.author) for q in message.quoted]
        result = loop.run_turn(message.text, source="owner" if trusted else "channel", trusted=trusted,
                               author=message.sender_id, context=context)
        if result.stopped is not None:
            return f"I stopped this turn: {result.stopped}"
        return result.text or None

    return handle
