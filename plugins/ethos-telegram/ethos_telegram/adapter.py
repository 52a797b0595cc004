"""Telegram Bot API adapter: long polling with ``getUpdates`` offsets, ``sendMessage``.

Security notes: the bot token is only ever part of request URLs; it never appears in health,
errors or events, and a logging filter masks it in httpx's own request logs. Messages are sent
as plain text (no ``parse_mode``), so model output cannot inject markup or links with hidden
targets. Each update is confirmed (offset advanced) before it is handled, so a message that
crashes the handler is not redelivered in a loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import httpx

from ethos_core.config.model import BotConfig
from ethos_core.types import InboundMessage
from ethos_telegram.parse import parse_update

DEFAULT_API_BASE = "https://api.telegram.org"
MAX_TEXT = 4000
log = logging.getLogger("ethos.telegram")


class TelegramError(Exception):
    """The Bot API answered ``ok: false`` or an unusable response (never includes the token)."""


class _MaskToken(logging.Filter):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token and self.token in record.getMessage():
            record.msg = record.getMessage().replace(self.token, "<token>")
            record.args = ()
        return True


class TelegramAdapter:
    platform = "telegram"

    def __init__(self, token: str, *, api_base: str | None = None, poll_timeout: int = 25,
                 client: httpx.Client | None = None, retry_max: float = 30.0) -> None:
        if not token:
            raise TelegramError("a Telegram bot needs a token")
        self._token = token
        self.api_base = (api_base or DEFAULT_API_BASE).rstrip("/")
        self.poll_timeout = poll_timeout
        self._client = client or httpx.Client(timeout=httpx.Timeout(poll_timeout + 10.0, connect=10.0))
        self._retry_max = retry_max
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_message: Any = None
        self._me: dict[str, Any] = {}
        self.offset = 0
        self.errors = 0
        self.last_error: str | None = None
        self.delivered = 0
        self._filter = _MaskToken(token)
        logging.getLogger("httpx").addFilter(self._filter)

    # --- Bot API ---------------------------------------------------------------------------

    def call(self, method: str, **params: Any) -> Any:
        url = f"{self.api_base}/bot{self._token}/{method}"
        try:
            response = self._client.post(url, json=params)
        except httpx.HTTPError as exc:
            raise TelegramError(f"{method}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            raise TelegramError(f"{method}: HTTP {response.status_code}, not JSON") from None
        if not isinstance(body, dict) or body.get("ok") is not True:
            desc = body.get("description") if isinstance(body, dict) else None
            raise TelegramError(f"{method}: {str(desc or response.status_code).replace(self._token, '<token>')}")
        return body.get("result")

    # --- adapter protocol ------------------------------------------------------------------

    def start(self, on_message: Any) -> None:
        me = self.call("getMe")
        if not isinstance(me, dict) or not isinstance(me.get("id"), int):
            raise TelegramError("getMe returned no bot id")
        self._me = me
        self._on_message = on_message
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"ethos-telegram-{me['id']}", daemon=True)
        self._thread.start()

    def identity(self) -> Mapping[str, str | None]:
        if not self._me:
            return {"id": None, "username": None}
        username = self._me.get("username")
        return {"id": str(self._me["id"]), "username": f"@{username}" if username else None}

    def _loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                updates = self.call("getUpdates", offset=self.offset, timeout=self.poll_timeout,
                                    allowed_updates=["message", "edited_message"])
                backoff = 0.5
            except TelegramError as exc:
                self.errors += 1
                self.last_error = str(exc)
                self._stop.wait(backoff)
                backoff = min(self._retry_max, backoff * 2)
                continue
            for update in updates if isinstance(updates, list) else ():
                if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
                    continue
                self.offset = max(self.offset, update["update_id"] + 1)
                self._dispatch(update)

    def _dispatch(self, update: dict[str, Any]) -> None:
        try:
            message: InboundMessage | None = parse_update(update, str(self._me.get("id")))
        except Exception as exc:  # noqa: BLE001 - a malformed update is skipped, not fatal
            self.errors += 1
            self.last_error = f"parse: {type(exc).__name__}"
            return
        if message is None or self._on_message is None:
            return
        try:
            self._on_message(message)
            self.delivered += 1
        except Exception as exc:  # noqa: BLE001 - the gateway contains its own errors
            self.errors += 1
            self.last_error = f"handler: {type(exc).__name__}"

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.poll_timeout + 15)
        self._thread = None
        self._on_message = None
        self._client.close()
        logging.getLogger("httpx").removeFilter(self._filter)

    def send(self, chat_id: str, text: str) -> None:
        if not text:
            return
        for start in range(0, len(text), MAX_TEXT):
            self.call("sendMessage", chat_id=chat_id, text=text[start : start + MAX_TEXT])

    def health(self) -> Mapping[str, Any]:
        return {"platform": self.platform, "running": self._thread is not None and self._thread.is_alive(),
                "errors": self.errors, "last_error": self.last_error, "offset": self.offset,
                "delivered": self.delivered, "bot_id": self.identity()["id"]}


class TelegramAdapterFactory:
    platform = "telegram"

    def __init__(self, poll_timeout: int = 25) -> None:
        self.poll_timeout = poll_timeout

    def create(self, bot: BotConfig, token: str | None) -> TelegramAdapter:
        if not token:
            raise TelegramError(f"bot {bot.id or bot.personality!r}: no token")
        return TelegramAdapter(token, api_base=bot.api_base, poll_timeout=self.poll_timeout)
