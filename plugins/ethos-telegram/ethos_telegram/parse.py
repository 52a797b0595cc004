"""Telegram update → :class:`~ethos_core.types.InboundMessage`, keeping the adapter contract.

- sender and chat ids are Telegram's numeric ids as strings; a message without ``from`` (anonymous
  admin, channel) gets ``chat:<sender_chat.id>`` which no allowlist of user ids matches;
- mentions come only from this message's ``entities``/``caption_entities``: ``mention`` → the
  ``@username`` sliced by UTF-16 offsets, ``text_mention`` → the user's id; mentions inside
  ``code``, ``pre``, ``blockquote`` or ``expandable_blockquote`` entities are ignored;
- a forwarded message (``forward_origin`` / legacy ``forward_from``) is not the sender's text: it
  becomes a ``forward`` quote authored by the origin (``None`` for hidden users) and carries no
  mentions;
- ``reply_to_message`` becomes a ``reply`` (or ``quote`` when a partial ``quote`` is given) by the
  replied message's author (its forward origin when it was itself forwarded);
  ``reply_to_bot`` only when that author is this bot's own id;
- ``edited_message`` sets ``edited`` and keeps the original ``date`` as ``ts``;
- the bot's own messages are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ethos_core.types import InboundMessage, QuotedText

IGNORED_CONTAINERS = frozenset({"code", "pre", "blockquote", "expandable_blockquote"})


def utf16_slice(text: str, offset: int, length: int) -> str:
    data = text.encode("utf-16-le")
    return data[offset * 2 : (offset + length) * 2].decode("utf-16-le", errors="replace")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def extract_mentions(text: str, entities: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    containers = []
    for ent in entities:
        off, ln = _int(ent.get("offset")), _int(ent.get("length"))
        if ent.get("type") in IGNORED_CONTAINERS and off is not None and ln is not None:
            containers.append((off, off + ln))
    out: set[str] = set()
    for ent in entities:
        off, ln = _int(ent.get("offset")), _int(ent.get("length"))
        if off is None or ln is None or off < 0 or ln <= 0:
            continue
        if any(start < off + ln and off < end for start, end in containers):
            continue
        kind = ent.get("type")
        if kind == "mention":
            name = utf16_slice(text, off, ln)
            if name.startswith("@"):
                out.add(name)
        elif kind == "text_mention":
            user = ent.get("user")
            uid = _int(user.get("id")) if isinstance(user, Mapping) else None
            if uid is not None:
                out.add(str(uid))
    return frozenset(out)


def origin_author(msg: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(is_forward, author id) of a message's forward origin."""
    origin = msg.get("forward_origin")
    if isinstance(origin, Mapping):
        kind = origin.get("type")
        if kind == "user" and isinstance(origin.get("sender_user"), Mapping):
            uid = _int(origin["sender_user"].get("id"))
            return True, None if uid is None else str(uid)
        if kind == "chat" and isinstance(origin.get("sender_chat"), Mapping):
            cid = _int(origin["sender_chat"].get("id"))
            return True, None if cid is None else f"chat:{cid}"
        if kind == "channel" and isinstance(origin.get("chat"), Mapping):
            cid = _int(origin["chat"].get("id"))
            return True, None if cid is None else f"chat:{cid}"
        return True, None
    if isinstance(msg.get("forward_from"), Mapping):
        uid = _int(msg["forward_from"].get("id"))
        return True, None if uid is None else str(uid)
    if "forward_sender_name" in msg or "forward_from_chat" in msg or "forward_date" in msg:
        return True, None
    return False, None


def _sender(msg: Mapping[str, Any]) -> str | None:
    frm = msg.get("from")
    if isinstance(frm, Mapping):
        uid = _int(frm.get("id"))
        return None if uid is None else str(uid)
    chat = msg.get("sender_chat")
    if isinstance(chat, Mapping) and _int(chat.get("id")) is not None:
        return f"chat:{chat['id']}"
    return None


def _text(msg: Mapping[str, Any]) -> tuple[str, list[Mapping[str, Any]]]:
    if isinstance(msg.get("text"), str):
        ents = msg.get("entities")
        return msg["text"], list(ents) if isinstance(ents, list) else []
    if isinstance(msg.get("caption"), str):
        ents = msg.get("caption_entities")
        return msg["caption"], list(ents) if isinstance(ents, list) else []
    return "", []


def parse_update(update: Mapping[str, Any], bot_id: str | None) -> InboundMessage | None:
    """One update → message, or ``None`` for updates the gateway does not handle."""
    edited = False
    msg = update.get("message")
    if not isinstance(msg, Mapping):
        msg = update.get("edited_message")
        edited = True
    if not isinstance(msg, Mapping):
        return None
    chat = msg.get("chat")
    sender = _sender(msg)
    if not isinstance(chat, Mapping) or _int(chat.get("id")) is None or sender is None:
        return None
    if bot_id is not None and sender == str(bot_id):
        return None
    text, entities = _text(msg)
    quoted: list[QuotedText] = []
    mentions = extract_mentions(text, entities)
    is_forward, fwd_author = origin_author(msg)
    if is_forward:
        if text:
            quoted.append(QuotedText(text, fwd_author, "forward"))
        text, mentions = "", frozenset()
    reply_to_sender = None
    reply_to_bot = False
    reply = msg.get("reply_to_message")
    if isinstance(reply, Mapping):
        reply_to_sender = _sender(reply)
        reply_to_bot = bot_id is not None and reply_to_sender == str(bot_id)
        r_forward, r_author = origin_author(reply)
        author = r_author if r_forward else reply_to_sender
        quote = msg.get("quote")
        if isinstance(quote, Mapping) and isinstance(quote.get("text"), str):
            quoted.append(QuotedText(quote["text"], author, "quote"))
        else:
            r_text, _ = _text(reply)
            if r_text:
                quoted.append(QuotedText(r_text, author, "reply"))
    external = msg.get("external_reply")
    if isinstance(external, Mapping) and isinstance(msg.get("quote"), Mapping) and not isinstance(reply, Mapping):
        _, ext_author = origin_author({"forward_origin": external.get("origin")})
        q_text = msg["quote"].get("text")
        if isinstance(q_text, str):
            quoted.append(QuotedText(q_text, ext_author, "quote"))
    frm_raw = msg.get("from")
    frm: Mapping[str, Any] = frm_raw if isinstance(frm_raw, Mapping) else {}
    name = " ".join(str(frm.get(k)) for k in ("first_name", "last_name") if isinstance(frm.get(k), str))
    date = msg.get("date")
    return InboundMessage(
        platform="telegram",
        sender_id=sender,
        chat_id=str(chat["id"]),
        text=text,
        # A private chat's id is the user's id: anything else is not a DM with this sender.
        is_dm=chat.get("type") == "private" and str(chat["id"]) == sender,
        message_id=str(msg.get("message_id", "")),
        sender_name=name,
        mentions=mentions,
        reply_to_sender=reply_to_sender,
        reply_to_bot=reply_to_bot,
        quoted=tuple(quoted),  # type: ignore[arg-type]
        edited=edited,
        ts=float(date) if isinstance(date, (int, float)) and not isinstance(date, bool) else 0.0,
        raw=dict(update),
    )
