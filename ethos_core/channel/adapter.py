"""The channel adapter protocol: how a platform connects to the gateway.

An adapter turns platform updates into :class:`~ethos_core.types.InboundMessage` and sends
text back. The security contract adapters must keep (the stages ①–③ rely on it):

- ``sender_id`` and ``chat_id`` are the platform's stable numeric/opaque ids, never display
  names or usernames (those can be changed or spoofed);
- ``mentions`` come only from the platform's structured entities of the message itself (never a
  substring of the text, never entities inside code, quotes or forwarded content); usernames are
  recorded as ``@name``, user-id mentions as the bare id;
- ``reply_to_bot`` is true only when the replied-to message was sent by this bot's own account
  (compared by id), and ``reply_to_sender`` carries that message's sender id;
- quoted, replied, forwarded and history text goes into ``quoted`` with its author id (``None``
  when the platform hides it), and forwarded content is never presented as the sender's own text;
- edits are delivered with ``edited=True`` and ``ts`` = the original message time.

What this does not cover: a compromised platform account or a platform that lies about ids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from ethos_core.config.model import BotConfig
from ethos_core.types import InboundMessage

InboundCallback = Callable[[InboundMessage], None]


@runtime_checkable
class ChannelAdapter(Protocol):
    """One running connection of one bot to one platform."""

    platform: str

    def start(self, on_message: InboundCallback) -> None:
        """Begin delivering inbound messages to ``on_message`` (from any thread); return promptly."""

    def stop(self) -> None:
        """Stop receiving and release resources; idempotent; waits for in-flight delivery."""

    def send(self, chat_id: str, text: str) -> None:
        """Send ``text`` to ``chat_id``; raises on failure."""

    def health(self) -> Mapping[str, Any]:
        """A JSON-able snapshot: at least ``{"platform", "running", "errors"}``; never a token."""

    def identity(self) -> Mapping[str, str | None]:
        """The bot's own account as the platform reports it: ``{"id", "username"}`` (after start)."""


@runtime_checkable
class ChannelAdapterFactory(Protocol):
    """What ``ethos_channel_adapters`` returns: one factory per platform."""

    platform: str

    def create(self, bot: BotConfig, token: str | None) -> ChannelAdapter:
        """Build (not start) an adapter for ``bot`` with its resolved ``token``."""
