"""Gateway: botKey stability, one session per (botKey, chat), startup events, graceful stop,
persistence across restarts, end to end with the Telegram adapter against a fake Bot API."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from ethos_telegram import TelegramAdapterFactory, TelegramPlugin  # noqa: I001 - on sys.path via helpers

from ethos_core.channel.cli_channel import CliChannel, CliChannelFactory
from ethos_core.channel.gateway import Gateway, GatewayError, bot_key, collect_adapter_factories
from ethos_core.channel.pairing import normalize_code
from ethos_core.config.model import BotConfig, ChannelFilterConfig, GlobalConfig
from ethos_core.runtime import HomePaths, Runtime
from ethos_core.types import InboundMessage
from tests.channel.fake_telegram import FakeBotApi, group_chat, private_chat, user
from tests.channel.helpers import events, make_pipeline

TOKEN = "123456:TEST-token"


def runtime_with(tmp_path: Path, bots: tuple[BotConfig, ...], **filters: ChannelFilterConfig) -> Runtime:
    cfg = GlobalConfig(channel_filter=dict(filters), bots=bots)
    rt = Runtime(home=HomePaths(tmp_path / "home"), config=cfg)
    rt.secret_values["tg"] = TOKEN
    return rt


def test_bot_key_stable_and_token_value_free() -> None:
    a = BotConfig(platform="telegram", personality="p", token="${secrets:tg}")
    assert bot_key(a) == bot_key(BotConfig(platform="telegram", personality="other", token="${secrets:tg}"))
    assert bot_key(a) != bot_key(BotConfig(platform="slack", personality="p", token="${secrets:tg}"))
    assert bot_key(BotConfig(platform="telegram", personality="p", id="main")) == "main"
    assert TOKEN not in bot_key(a) and len(bot_key(a)) == 16


class RecordingFactory:
    platform = "fake"

    def __init__(self) -> None:
        self.adapters: list[Any] = []

    def create(self, bot: BotConfig, token: str | None) -> Any:
        adapter = FakeAdapter(token)
        self.adapters.append(adapter)
        return adapter


class FakeAdapter:
    platform = "fake"

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.on_message: Any = None
        self.sent: list[tuple[str, str]] = []
        self.stopped = False

    def start(self, on_message: Any) -> None:
        self.on_message = on_message

    def stop(self) -> None:
        self.stopped = True

    def send(self, chat_id: str, text: str) -> None:
        self.sent.append((chat_id, text))

    def health(self) -> dict[str, Any]:
        return {"platform": "fake", "running": not self.stopped, "errors": 0}

    def identity(self) -> dict[str, str | None]:
        return {"id": "900", "username": "@fakebot"}


def fake_msg(sender: str, chat: str, text: str = "hi", dm: bool = True) -> InboundMessage:
    return InboundMessage(platform="fake", sender_id=sender, chat_id=chat, text=text, is_dm=dm)


def test_sessions_isolated_per_bot_and_chat(tmp_path: Path) -> None:
    bots = (BotConfig(platform="fake", personality="p", id="a"), BotConfig(platform="fake", personality="p", id="b"))
    rt = runtime_with(tmp_path, bots, fake=ChannelFilterConfig(owner="1", allowed_senders=("2",)))
    factory = RecordingFactory()
    seen: list[str] = []
    gw = Gateway(rt, make_pipeline(rt), factories={"fake": factory},
                 handler=lambda m, key: seen.append(key) or f"ok {m.text}")
    gw.start()
    a, b = factory.adapters
    a.on_message(fake_msg("1", "1"))
    a.on_message(fake_msg("2", "2"))
    b.on_message(fake_msg("1", "1"))
    a.on_message(fake_msg("1", "1", "again"))
    assert seen == ["a:1", "a:2", "b:1", "a:1"]
    assert set(gw.sessions) == {"a:1", "a:2", "b:1"}
    assert gw.sessions["a:1"].state is not gw.sessions["b:1"].state
    assert gw.sessions["a:1"].context.session == "a:1" and gw.sessions["a:1"].context.bot == "a"
    assert a.sent[0] == ("1", "ok hi")
    startups = events(rt, "system.startup")
    assert sorted(e.data["bot_key"] for e in startups) == ["a", "b"]
    gw.stop()
    assert a.stopped and b.stopped
    a.on_message(fake_msg("1", "1"))  # after stop: dropped
    assert len(seen) == 4


def test_default_handler_records_without_answering(tmp_path: Path) -> None:
    rt = runtime_with(tmp_path, (BotConfig(platform="fake", personality="p", id="a"),),
                      fake=ChannelFilterConfig(owner="1"))
    factory = RecordingFactory()
    gw = Gateway(rt, make_pipeline(rt), factories={"fake": factory})
    gw.start()
    factory.adapters[0].on_message(fake_msg("1", "1", "note this"))
    assert gw.sessions["a:1"].state["history"] == [{"sender": "1", "text": "note this"}]
    assert factory.adapters[0].sent == []
    gw.stop()


def test_startup_refuses_unknown_platform_and_duplicates(tmp_path: Path) -> None:
    rt = runtime_with(tmp_path, (BotConfig(platform="nope", personality="p"),))
    with pytest.raises(GatewayError, match="no channel adapter"):
        Gateway(rt, make_pipeline(rt), factories={}).start()
    dup = (BotConfig(platform="fake", personality="p", id="x"), BotConfig(platform="fake", personality="q", id="x"))
    rt2 = runtime_with(tmp_path, dup)
    with pytest.raises(GatewayError, match="share the botKey"):
        Gateway(rt2, make_pipeline(rt2), factories={"fake": RecordingFactory()}).start()
    with pytest.raises(GatewayError, match="two channel adapters"):
        collect_adapter_factories(make_pipeline(rt2), [CliChannelFactory()])


def test_missing_token_secret_stops_startup(tmp_path: Path) -> None:
    rt = runtime_with(tmp_path, (BotConfig(platform="fake", personality="p", token="${secrets:missing}"),))
    with pytest.raises(GatewayError, match="did not resolve"):
        Gateway(rt, make_pipeline(rt), factories={"fake": RecordingFactory()}).start()


def test_builtin_cli_channel_is_discovered(tmp_path: Path) -> None:
    rt = runtime_with(tmp_path, ())
    factories = collect_adapter_factories(make_pipeline(rt))
    assert "cli" in factories
    chan = factories["cli"].create(BotConfig(platform="cli", personality="p"), None)
    assert isinstance(chan, CliChannel)
    got: list[InboundMessage] = []
    chan.start(got.append)
    chan.feed("hello")
    assert got[0].sender_id == "local" and got[0].is_dm and got[0].mentions == frozenset()


def test_pending_code_survives_gateway_restart(tmp_path: Path) -> None:
    bots = (BotConfig(platform="fake", personality="p", id="a"),)
    rt = runtime_with(tmp_path, bots, fake=ChannelFilterConfig(owner="1", pairing_enabled=True))
    factory = RecordingFactory()
    gw = Gateway(rt, make_pipeline(rt), factories={"fake": factory})
    gw.start()
    factory.adapters[0].on_message(fake_msg("77", "77"))
    code = next(w for w in factory.adapters[0].sent[0][1].split() if normalize_code(w))
    gw.stop()
    rt2 = runtime_with(tmp_path, bots, fake=ChannelFilterConfig(owner="1", pairing_enabled=True))
    factory2 = RecordingFactory()
    gw2 = Gateway(rt2, make_pipeline(rt2), factories={"fake": factory2})
    gw2.start()
    factory2.adapters[0].on_message(fake_msg("1", "1", f"/pair {code}"))
    assert "Paired" in factory2.adapters[0].sent[-1][1]
    gw2.stop()


def test_telegram_end_to_end(tmp_path: Path) -> None:
    with FakeBotApi(token=TOKEN) as api:
        bot = BotConfig(platform="telegram", personality="p", token="${secrets:tg}", api_base=api.base)
        rt = runtime_with(tmp_path, (bot,), telegram=ChannelFilterConfig(
            owner="1001", allowed_senders=("2002",), pairing_enabled=True, allowed_chats=("-100123",)))
        handled: list[InboundMessage] = []
        done = threading.Event()

        def handler(message: InboundMessage, key: str) -> str:
            handled.append(message)
            if len(handled) >= 3:
                done.set()
            return f"echo {len(handled)}"

        gw = Gateway(rt, make_pipeline(rt), factories={"telegram": TelegramAdapterFactory(poll_timeout=1)},
                     handler=handler)
        gw.start()
        try:
            policy = next(iter(gw.bots.values())).policy
            assert policy.bot_id == "999" and policy.bot_username == "@ethos_test_bot"
            api.push("message", {"chat": private_chat(1001), "from": user(1001), "text": "hello"})
            api.push("message", {"chat": group_chat(), "from": user(2002), "text": "@ethos_test_bot hi team",
                                 "entities": [{"type": "mention", "offset": 0, "length": 15}]})
            api.push("message", {"chat": group_chat(), "from": user(2002), "text": "no mention here"})
            api.push("message", {"chat": private_chat(6666), "from": user(6666), "text": "let me in"})
            api.push("edited_message", {"chat": group_chat(), "from": user(2002), "edit_date": 5,
                                        "text": "@ethos_test_bot sneaky",
                                        "entities": [{"type": "mention", "offset": 0, "length": 15}]})
            last = api.push("message", {"chat": private_chat(2002), "from": user(2002), "text": "dm from friend"})
            assert done.wait(15)
            sent = api.wait_sent(4)
            assert api.wait_offset(last + 1)
        finally:
            gw.stop()
        assert [m.text for m in handled] == ["hello", "@ethos_test_bot hi team", "dm from friend"]
        by_chat = {s["chat_id"]: s["text"] for s in sent}
        assert by_chat["1001"] == "echo 1" and by_chat["-100123"] == "echo 2" and by_chat["2002"] == "echo 3"
        assert "pairing code" in by_chat["6666"]
        rules = [e.rule for e in events(rt, "channel.deny")]
        assert "mention.missing" in rules and "mention.edited" in rules and "channel.pairing_required" in rules
        assert [e.data["bot_key"] for e in events(rt, "system.startup")] == [next(iter(gw.bots))]
        assert TOKEN not in repr([e.data for e in events(rt)])
        assert api.offsets == sorted(api.offsets)  # offsets only move forward


def test_telegram_wrong_token_fails_start(tmp_path: Path) -> None:
    with FakeBotApi(token=TOKEN) as api:
        from ethos_telegram import TelegramError

        adapter = TelegramAdapterFactory(poll_timeout=1).create(
            BotConfig(platform="telegram", personality="p", api_base=api.base), "999:wrong")
        with pytest.raises(TelegramError) as err:
            adapter.start(lambda m: None)
        assert "999:wrong" not in str(err.value)
        adapter.stop()


def test_telegram_plugin_hook() -> None:
    [factory] = TelegramPlugin().ethos_channel_adapters()
    assert factory.platform == "telegram"
