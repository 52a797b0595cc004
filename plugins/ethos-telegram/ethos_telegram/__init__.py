"""Telegram Bot API adapter for ethos: ``ethos.plugins`` entry point implementing
``ethos_channel_adapters``. See :mod:`ethos_telegram.adapter` and :mod:`ethos_telegram.parse`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ethos_core.markers import hookimpl
from ethos_telegram.adapter import TelegramAdapter, TelegramAdapterFactory, TelegramError
from ethos_telegram.parse import parse_update

__all__ = ["TelegramAdapter", "TelegramAdapterFactory", "TelegramError", "TelegramPlugin", "parse_update"]


class TelegramPlugin:
    """The entry-point object: contributes the ``telegram`` adapter factory."""

    @hookimpl
    def ethos_channel_adapters(self) -> Sequence[object]:
        return [TelegramAdapterFactory()]
