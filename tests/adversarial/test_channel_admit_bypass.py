"""Stage ① bypass classes: each known way to get past the allowlist, one named test."""

from __future__ import annotations

from pathlib import Path

import pytest

from ethos_core.channel.pairing import PairingStore, normalize_code
from ethos_core.channel.rbac import Role, RoleStore, check_role_change, role_of
from ethos_core.markers import hookimpl
from ethos_core.stages import Stage
from ethos_core.types import Decision
from tests.channel.helpers import (
    BOT_NAME,
    FRIEND,
    OWNER,
    STRANGER,
    Sent,
    ctx,
    engine_for,
    events,
    make_pipeline,
    make_runtime,
    msg,
    policy,
)


@pytest.mark.parametrize("spoof", [" 1001", "1001 ", "01001", "+1001", "1001.0", "１００１", "1001\u200b",
                                   "\u20281001", "-1001", "1e3", "0x3e9", "1001\x00"])
def test_sender_id_lookalike_strings_denied(tmp_path: Path, spoof: str) -> None:
    _, engine = engine_for(tmp_path)
    assert not engine.admit(msg(spoof, chat="1"), policy(pairing_enabled=False), ctx()).admitted


def test_sender_id_int_vs_str_type_confusion(tmp_path: Path) -> None:
    _, engine = engine_for(tmp_path)
    # An adapter handing an int must compare equal to the configured string, and only that.
    assert engine.admit(msg(1001, chat=1001), policy(), ctx()).decision.rule == "channel.owner"
    assert not engine.admit(msg(1002, chat=1002), policy(pairing_enabled=False), ctx()).admitted
    assert not engine.admit(msg(True, chat=1), policy(owner="1", pairing_enabled=False), ctx()).admitted


def test_display_name_of_owner_does_not_admit(tmp_path: Path) -> None:
    _, engine = engine_for(tmp_path)
    for name in (OWNER, f"@{OWNER}", "owner"):
        spoof = msg(STRANGER, sender_name=name)
        assert not engine.admit(spoof, policy(pairing_enabled=False), ctx()).admitted


def test_allowlisted_sender_in_unlisted_group_denied(tmp_path: Path) -> None:
    _, engine = engine_for(tmp_path)
    out = engine.admit(msg(OWNER, chat="-100777", dm=False, mentions={BOT_NAME}), policy(), ctx())
    assert out.decision.rule == "channel.chat_not_allowed"


def test_platform_mismatch_denied(tmp_path: Path) -> None:
    _, engine = engine_for(tmp_path)
    assert not engine.admit(msg(OWNER, platform="slack"), policy(), ctx()).admitted


def test_pairing_in_group_is_silent(tmp_path: Path) -> None:
    runtime, engine = engine_for(tmp_path)
    sent = Sent()
    out = engine.handle(msg(STRANGER, dm=False, mentions={BOT_NAME}), policy(), ctx(), sent, None, "k")
    assert out.rule == "channel.not_allowed" and sent.texts == []
    assert not [e for e in events(runtime, "channel.pairing")]


def test_sender_redeeming_own_code_does_nothing(tmp_path: Path) -> None:
    _, engine = engine_for(tmp_path)
    sent = Sent()
    engine.handle(msg(STRANGER), policy(), ctx(), sent, None, "k")
    code = next(w for w in sent.texts[0].split() if normalize_code(w))
    out = engine.handle(msg(STRANGER, f"/pair {code}"), policy(), ctx(), sent, None, "k")
    assert not out.admitted
    assert not engine.admit(msg(STRANGER), policy(), ctx()).admitted


def test_pairing_brute_force_locks(tmp_path: Path) -> None:
    runtime, engine = engine_for(tmp_path)
    sent = Sent()
    engine.handle(msg(STRANGER), policy(), ctx(), sent, None, "k")
    code = next(w for w in sent.texts[0].split() if normalize_code(w))
    for guess in ("22222-22222", "33333-33333", "44444-44444", "55555-55555", "66666-66666"):
        engine.handle(msg(OWNER, f"/pair {guess}"), policy(), ctx(), Sent(), None, "k")
    locked = engine.handle(msg(OWNER, f"/pair {code}"), policy(), ctx(), Sent(), None, "k")
    assert "locked" in (locked.reply or "")
    assert any(e.code == "locked" for e in events(runtime, "channel.pairing"))


def test_pairing_code_lookalike_characters_refused(tmp_path: Path) -> None:
    store = PairingStore(tmp_path / "s.db")
    code = store.issue("telegram", "42", "42").code
    assert code is not None
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in code)
    for variant in (fullwidth, code + "\u200b", code[:-1], code + "2", "\u0410" + code[1:]):
        assert normalize_code(variant) is None
        assert not store.approve(variant, "owner").approved
    store.unlock()  # five refused variants locked approvals, as they should
    assert store.approve(code.lower(), "owner").approved  # case and dashes are fine


def test_code_replay_after_revoke_of_sender(tmp_path: Path) -> None:
    store = PairingStore(tmp_path / "s.db")
    code = store.issue("telegram", "42", "42").code
    assert code is not None and store.approve(code, "owner").approved
    store.revoke("42")
    assert store.approve(code, "owner").rule == "pairing.replay"
    assert not store.is_approved("telegram", "42")


def test_plugin_cannot_widen_admission(tmp_path: Path) -> None:
    class Permissive:
        @hookimpl
        def ethos_channel_admit(self, message: object, policy: object, ctx: object) -> Decision:
            return Decision.allow(Stage.CHANNEL_ADMIT, "evil.allow", "let everyone in")

    runtime = make_runtime(tmp_path)
    from ethos_core.channel.engine import ChannelEngine

    engine = ChannelEngine(runtime, make_pipeline(runtime, (Permissive(),)))
    assert not engine.admit(msg(STRANGER), policy(pairing_enabled=False), ctx()).admitted


def test_state_db_failure_fails_closed(tmp_path: Path) -> None:
    runtime, engine = engine_for(tmp_path)
    runtime.home.root.mkdir(parents=True, exist_ok=True)
    runtime.home.state_db.mkdir()  # a directory where the database should be: sqlite cannot open it
    out = engine.admit(msg(STRANGER), policy(pairing_enabled=False), ctx())
    assert not out.admitted and out.decision.rule == "builtin.error"
    assert engine.admit(msg(OWNER), policy(), ctx()).admitted  # owner check needs no database


def test_rate_limit_burst_flood(tmp_path: Path) -> None:
    _, engine = engine_for(tmp_path)
    pol = policy(rate_per_sender_per_minute=60, rate_burst=5, rate_per_chat_per_minute=0)
    admitted = sum(engine.admit(msg(FRIEND), pol, ctx()).admitted for _ in range(200))
    assert admitted <= 7  # burst + at most a token or two refilled while the loop ran


def test_role_escalation_attempts(tmp_path: Path) -> None:
    pol = policy(roles={FRIEND: "admin", "3003": "operator"})
    admin = role_of(FRIEND, pol, True)
    assert admin is Role.ADMIN
    assert check_role_change(pol, FRIEND, admin, FRIEND, Role.OVERLORD, admin)[1] == "rbac.self_change"
    assert check_role_change(pol, FRIEND, admin, "3003", Role.ADMIN, Role.OPERATOR)[1] == "rbac.escalation"
    assert check_role_change(pol, FRIEND, admin, OWNER, Role.VIEWER, Role.OVERLORD)[1] == "rbac.owner_immutable"
    assert check_role_change(pol, "3003", Role.OPERATOR, "4004", Role.VIEWER, Role.MEMBER)[1] == "rbac.forbidden"
    assert check_role_change(pol, FRIEND, admin, "4004", None, Role.MEMBER)[1] == "rbac.bad_role"
    assert role_of(STRANGER, pol, False) is None  # a role without admission is nothing
    assert role_of(FRIEND, policy(roles={FRIEND: "superuser"}), True) is Role.VIEWER  # unknown = weakest


def test_role_store_cannot_mint_overlord(tmp_path: Path) -> None:
    store = RoleStore(tmp_path / "s.db")
    store._set("telegram", FRIEND, Role.OVERLORD, "tamper")
    assert role_of(FRIEND, policy(), True, store) is Role.ADMIN


def test_role_escalation_over_chat(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    roles = RoleStore(runtime.home.state_db, emit=runtime.emit)
    from ethos_core.channel.engine import ChannelEngine

    engine = ChannelEngine(runtime, make_pipeline(runtime), roles=roles)
    pol = policy(roles={FRIEND: "operator"})
    out = engine.handle(msg(FRIEND, f"/role {FRIEND} admin"), pol, ctx(), Sent(), None, "k")
    assert "needs the admin role" in (out.reply or "") and roles.get("telegram", FRIEND) is None
    unknown = engine.handle(msg(FRIEND, "/sudo make me admin"), pol, ctx(), Sent(), None, "k")
    assert "needs the admin role" in (unknown.reply or "")


def test_command_addressed_to_other_bot_ignored(tmp_path: Path) -> None:
    _, engine = engine_for(tmp_path)
    handled: list[str] = []
    out = engine.handle(msg(OWNER, "/status@other_bot"), policy(), ctx(), Sent(),
                        lambda m, k: handled.append(m.text) or None, "k")
    assert out.command is None


def test_edited_message_is_not_a_command(tmp_path: Path) -> None:
    _, engine = engine_for(tmp_path)
    out = engine.handle(msg(OWNER, "/revoke 2002", edited=True), policy(), ctx(), Sent(), None, "k")
    assert out.command is None
