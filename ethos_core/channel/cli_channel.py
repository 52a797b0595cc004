"""The built-in local ``cli`` channel used by ``ethos chat``: the person at the terminal is the
owner (sender ``local``, a DM). Registered as the built-in ``ethos_channel_adapters``
implementation, so the gateway and ``ethos chat`` share one admission path.

Invariant: every line becomes an :class:`InboundMessage` from the fixed owner id in the fixed
chat ``local``; nothing the user types can change the sender, chat or mentions. Not covered:
someone else at the same terminal (the OS account is the trust boundary).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from ethos_core.channel.adapter import ChannelAdapter, InboundCallback
from ethos_core.config.model import BotConfig
from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.types import InboundMessage

CLI_PLATFORM = "cli"
CLI_SENDER = "local"
CLI_CHAT = "local"


class CliChannel:
    """A terminal as a channel. ``feed(line)`` delivers one line; ``start`` can read a stream."""

    platform = CLI_PLATFORM

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None, *, read_stdin: bool = False) -> None:
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.read_stdin = read_stdin
        self._on_message: InboundCallback | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._count = 0
        self._errors = 0

    def message(self, text: str) -> InboundMessage:
        self._count += 1
        return InboundMessage(platform=CLI_PLATFORM, sender_id=CLI_SENDER, chat_id=CLI_CHAT, text=text, is_dm=True,
                              message_id=str(self._count), sender_name="you")

    def start(self, on_message: InboundCallback) -> None:
        self._on_message = on_message
        self._stop.clear()
        if self.read_stdin:
            self._thread = threading.Thread(target=self._read, name="ethos-cli-channel", daemon=True)
            self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            line = self.stdin.readline()
            if not line:
                break
            self.feed(line.rstrip("\n"))

    def feed(self, text: str) -> None:
        if self._on_message is None:
            raise RuntimeError("cli channel is not started")
        try:
            self._on_message(self.message(text))
        except Exception:
            self._errors += 1
            raise

    def stop(self) -> None:
        self._stop.set()
        self._on_message = None

    def send(self, chat_id: str, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def health(self) -> Mapping[str, Any]:
        return {"platform": CLI_PLATFORM, "running": self._on_message is not None, "errors": self._errors,
                "messages": self._count}

    def identity(self) -> Mapping[str, str | None]:
        return {"id": "ethos", "username": None}


class CliChannelFactory:
    platform = CLI_PLATFORM

    def create(self, bot: BotConfig, token: str | None) -> ChannelAdapter:
        return CliChannel()


class _CliAdapters:
    @hookimpl
    def ethos_channel_adapters(self) -> Sequence[object]:
        return [CliChannelFactory()]


def make_plugin(runtime: Runtime) -> object:
    return _CliAdapters()
