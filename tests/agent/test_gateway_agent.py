"""The gateway runs the reference agent loop: a Telegram DM from the owner reaches the agent and
the answer goes back redacted; quoted text from a stranger enters only as untrusted content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ethos_core.agent.gateway_handler import make_agent_handler
from ethos_core.channel.gateway import Gateway
from ethos_core.engine import Engine
from tests.channel.fake_telegram import FakeBotApi, private_chat, user
from tests.channel.helpers import TELEGRAM_SRC  # noqa: F401 - puts the adapter on sys.path
from tests.conftest import make_home

TOKEN = "123456:" + "A" * 35
LEAK = "ghp_" + "R" * 36


def test_owner_dm_is_answered_by_the_agent_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ethos_telegram import TelegramAdapterFactory

    monkeypatch.setenv("TG_TOKEN", TOKEN)
    monkeypatch.setenv("GH_TOKEN_VALUE", LEAK)
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": f"Hi owner! (token {LEAK})"}]), encoding="utf-8")
    with FakeBotApi(token=TOKEN) as api:
        home = make_home(tmp_path / "h", config=(
            "channel_filter:\n  telegram:\n    owner: \"1001\"\n"
            "bots:\n  - id: support\n    platform: telegram\n    token: ${secrets:tg_token}\n    personality: default\n"
            f"    apiBase: {api.base}\n"
            f"providers:\n  script:\n    type: scripted\n    script: {script}\n    apiKey: ${{secrets:gh_token_value}}\n"),
            personality_config="model:\n  provider: script\n")
        with Engine.from_home(home, autoload=False) as engine:

            def context_factory(bot, key, skey):  # type: ignore[no-untyped-def]
                return engine.session(bot.personality, channel=bot.platform, session_id=skey, bot=key).ctx

            gateway = Gateway(engine.runtime, engine.pipeline, factories={"telegram": TelegramAdapterFactory(poll_timeout=1)},
                              context_factory=context_factory)
            gateway.handler = make_agent_handler(engine, gateway)
            gateway.start()
            try:
                api.push("message", {"chat": private_chat(1001), "from": user(1001), "text": "hello agent"})
                sent = api.wait_sent(1)
            finally:
                gateway.stop()
    assert sent and sent[0]["chat_id"] == "1001"
    assert sent[0]["text"].startswith("Hi owner!")
    assert LEAK not in sent[0]["text"] and "[REDACTED:" in sent[0]["text"]
