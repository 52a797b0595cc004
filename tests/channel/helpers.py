"""Shared helpers for the channel tests: a runtime on a tmp home, a pipeline, messages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ethos_core.channel.engine import ChannelEngine
from ethos_core.manager import build_plugin_manager
from ethos_core.pipeline import Pipeline
from ethos_core.runtime import HomePaths, Runtime
from ethos_core.types import AuditEvent, ChannelPolicy, Context, ContextVisibility, InboundMessage, Personality

# The Telegram adapter is a separate distribution; tests import it from the source tree.
TELEGRAM_SRC = Path(__file__).resolve().parents[2] / "plugins" / "ethos-telegram"
if str(TELEGRAM_SRC) not in sys.path:
    sys.path.insert(0, str(TELEGRAM_SRC))

OWNER = "1001"
FRIEND = "2002"
STRANGER = "6666"
BOT_ID = "999"
BOT_NAME = "@ethos_test_bot"
GROUP = "-100123"


def make_runtime(tmp_path: Path) -> Runtime:
    return Runtime(home=HomePaths(tmp_path / "home"))


def make_pipeline(runtime: Runtime, plugins: tuple[object, ...] = ()) -> Pipeline:
    return Pipeline(build_plugin_manager(runtime, plugins, autoload=False))


def policy(**kw: Any) -> ChannelPolicy:
    base: dict[str, Any] = {
        "platform": "telegram", "owner": OWNER, "allowed_senders": frozenset({FRIEND}), "pairing_enabled": True,
        "context_visibility": ContextVisibility.ALLOWLIST, "require_mention": True, "bot_username": BOT_NAME,
        "bot_id": BOT_ID, "allowed_chats": frozenset({GROUP}),
        "rate_per_sender_per_minute": 0, "rate_per_chat_per_minute": 0,
    }
    base.update(kw)
    return ChannelPolicy(**base)


def msg(sender: Any = OWNER, text: str = "hello", *, chat: Any = None, dm: bool = True, **kw: Any) -> InboundMessage:
    return InboundMessage(platform=kw.pop("platform", "telegram"), sender_id=sender,
                          chat_id=chat if chat is not None else (sender if dm else GROUP), text=text, is_dm=dm, **kw)


def ctx() -> Context:
    return Context(personality=Personality(id="default", directory=""), session="t", channel="telegram")


def events(runtime: Runtime, category: str | None = None) -> list[AuditEvent]:
    out: list[AuditEvent] = runtime.services.get("audit_memory", [])
    return [e for e in out if category is None or e.category == category]


class Sent:
    """Collects replies sent to a chat."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, text: str) -> None:
        self.texts.append(text)


def engine_for(tmp_path: Path) -> tuple[Runtime, ChannelEngine]:
    runtime = make_runtime(tmp_path)
    return runtime, ChannelEngine(runtime, make_pipeline(runtime))
