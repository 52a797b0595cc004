"""Stage ② bypass classes: spoofed mentions, reply-to spoofing, edits, forwards, look-alikes.

Most classes are tested twice: at the gate (``mention_decision`` on a normalised message) and at
the Telegram adapter's parser, which decides what counts as a structural mention.
"""

from __future__ import annotations

from typing import Any

import pytest
from ethos_telegram.parse import parse_update  # noqa: I001 - on sys.path via helpers

from ethos_core.channel.mention import mention_decision
from tests.channel.helpers import BOT_ID, BOT_NAME, FRIEND, OWNER, msg, policy


def group(text: str, **kw: Any) -> Any:
    return msg(OWNER, text, dm=False, **kw)


def tg(text: str, entities: list[dict[str, Any]] | None = None, **extra: Any) -> Any:
    message: dict[str, Any] = {"message_id": 7, "date": 1, "chat": {"id": -100123, "type": "supergroup"},
                               "from": {"id": 1001, "is_bot": False, "first_name": "O"}, "text": text}
    if entities is not None:
        message["entities"] = entities
    message.update(extra)
    return parse_update({"update_id": 1, "message": message}, BOT_ID)


def admitted(message: Any) -> bool:
    return mention_decision(message, policy()).allowed


def test_mention_in_plain_text_without_entity() -> None:
    assert not admitted(group(f"hey {BOT_NAME} do it"))
    parsed = tg(f"hey {BOT_NAME} do it")
    assert parsed.mentions == frozenset() and not admitted(parsed)


def test_mention_inside_code_block() -> None:
    text = f"```{BOT_NAME}```"
    ents = [{"type": "pre", "offset": 0, "length": len(text)}, {"type": "mention", "offset": 3, "length": len(BOT_NAME)}]
    assert not admitted(tg(text, ents))
    inline = [{"type": "code", "offset": 0, "length": len(text)}, {"type": "mention", "offset": 3, "length": len(BOT_NAME)}]
    assert not admitted(tg(text, inline))


def test_mention_inside_blockquote() -> None:
    text = f"> {BOT_NAME} said"
    ents = [{"type": "blockquote", "offset": 0, "length": len(text)}, {"type": "mention", "offset": 2, "length": len(BOT_NAME)}]
    assert not admitted(tg(text, ents))


def test_display_name_text_mention_of_other_user() -> None:
    # A text_mention whose visible text is the bot's name but whose user is someone else.
    text = "ethos_test_bot please"
    ents = [{"type": "text_mention", "offset": 0, "length": 14,
             "user": {"id": 4242, "is_bot": False, "first_name": "ethos_test_bot"}}]
    parsed = tg(text, ents)
    assert parsed.mentions == frozenset({"4242"}) and not admitted(parsed)
    real = [{"type": "text_mention", "offset": 0, "length": 14, "user": {"id": 999, "is_bot": True, "first_name": "E"}}]
    assert admitted(tg(text, real))


def test_mention_in_quoted_reply_does_not_count() -> None:
    reply = {"message_id": 3, "date": 1, "chat": {"id": -100123, "type": "supergroup"},
             "from": {"id": 2002, "is_bot": False, "first_name": "F"}, "text": f"{BOT_NAME} hi",
             "entities": [{"type": "mention", "offset": 0, "length": len(BOT_NAME)}]}
    assert not admitted(tg("agreed", reply_to_message=reply))


def test_structural_mention_admits_with_utf16_offsets() -> None:
    text = f"😀 {BOT_NAME} go"  # the emoji is two UTF-16 units
    ents = [{"type": "mention", "offset": 3, "length": len(BOT_NAME)}]
    parsed = tg(text, ents)
    assert parsed.mentions == frozenset({BOT_NAME}) and admitted(parsed)


@pytest.mark.parametrize("name", [
    "@ethos_test_bot_", "@ethos_test_bo", "@ethos_tеst_bot",  # Cyrillic е
    "@ｅthos_test_bot", "@@ethos_test_bot", "@ethos_test_bot\u200b", " @ethos_test_bot",
    "@ethos-test-bot", "@ethos_test_bοt",  # Greek omicron
    "@ethos_test_\u212abot",  # Kelvin sign lowercases to k
    "ethos_test_bot",  # no @: an id-shaped slot, must not match a username
])
def test_lookalike_usernames(name: str) -> None:
    assert not admitted(group("x", mentions={name}))


def test_username_case_and_prefix_forms() -> None:
    assert admitted(group("x", mentions={"@ETHOS_test_BOT"}))
    assert admitted(group("x", mentions={BOT_ID}))
    assert admitted(msg(OWNER, "x", dm=False, mentions={"@ethos_test_bot"}))


def test_bot_id_vs_username_confusion() -> None:
    assert not admitted(group("x", mentions={"@999"}))
    assert not admitted(group("x", mentions={" 999", "0999", "999.0"}))
    assert not mention_decision(group("x", mentions={"@999"}), policy(bot_username="@999x")).allowed


def test_reply_to_spoofing() -> None:
    # Adapter says reply_to_bot but the replied sender is another account: refused.
    assert not admitted(group("x", reply_to_bot=True, reply_to_sender=FRIEND))
    assert admitted(group("x", reply_to_bot=True, reply_to_sender=BOT_ID))
    # Another bot (is_bot) with the same username is not this bot.
    other_bot = {"message_id": 3, "date": 1, "chat": {"id": -100123, "type": "supergroup"},
                 "from": {"id": 31337, "is_bot": True, "first_name": "ethos", "username": "ethos_test_bot"}, "text": "hi"}
    parsed = tg("yes", reply_to_message=other_bot)
    assert not parsed.reply_to_bot and not admitted(parsed)
    own = dict(other_bot, **{"from": {"id": 999, "is_bot": True, "first_name": "E"}})
    assert admitted(tg("yes", reply_to_message=own))


def test_edited_old_message_with_new_mention() -> None:
    assert not admitted(group("x", mentions={BOT_NAME}, edited=True))
    update = {"update_id": 2, "edited_message": {
        "message_id": 1, "date": 1, "edit_date": 99999, "chat": {"id": -100123, "type": "supergroup"},
        "from": {"id": 1001, "is_bot": False, "first_name": "O"}, "text": f"{BOT_NAME} now",
        "entities": [{"type": "mention", "offset": 0, "length": len(BOT_NAME)}]}}
    parsed = parse_update(update, BOT_ID)
    assert parsed is not None and parsed.edited and not admitted(parsed)


def test_forwarded_message_mention_does_not_count() -> None:
    parsed = tg(f"{BOT_NAME} run this", [{"type": "mention", "offset": 0, "length": len(BOT_NAME)}],
                forward_origin={"type": "user", "date": 1, "sender_user": {"id": 2002, "is_bot": False, "first_name": "F"}})
    assert parsed.text == "" and parsed.mentions == frozenset() and not admitted(parsed)
    assert parsed.quoted[0].kind == "forward" and parsed.quoted[0].author == "2002"


def test_malformed_entities_ignored() -> None:
    bad = [{"type": "mention", "offset": "0", "length": 5}, {"type": "mention", "offset": -1, "length": 3},
           {"type": "mention", "offset": True, "length": 15}, {"type": "text_mention", "offset": 0, "length": 1, "user": "999"}]
    assert tg(f"{BOT_NAME}", bad).mentions == frozenset()


def test_dm_not_gated_but_group_is() -> None:
    assert mention_decision(msg(OWNER, "x"), policy()).allowed
    assert not admitted(group("x"))
    assert mention_decision(group("x"), policy(require_mention=False)).allowed


def test_megabyte_text_is_not_scanned() -> None:
    assert not admitted(group(f"{BOT_NAME} " * 100_000))
