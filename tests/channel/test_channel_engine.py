"""Stages ①–③ through the channel engine: admission rules, events, pairing reply, commands,
RBAC, approvals over chat, context visibility."""

from __future__ import annotations

import threading
from pathlib import Path

from ethos_core.channel.approvals import ChatApprover
from ethos_core.channel.engine import ChannelEngine
from ethos_core.channel.pairing import normalize_code
from ethos_core.channel.policy import channel_policy_from_config
from ethos_core.channel.rbac import Role, RoleStore
from ethos_core.config.model import BotConfig, ChannelFilterConfig, RateLimitConfig
from ethos_core.stages import Stage
from ethos_core.types import ApprovalRequest, ContextVisibility, Decision, QuotedText, ToolCall
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


def test_policy_from_config_stringifies_and_defaults() -> None:
    cfg = ChannelFilterConfig(owner="1001", allowed_senders=("2002",), pairing_enabled=True,
                              context_visibility="bogus", roles={"2002": "operator"},
                              rate_limit=RateLimitConfig(per_sender_per_minute=3, per_chat_per_minute=9, burst=2),
                              allowed_chats=("-100",))
    pol = channel_policy_from_config("telegram", cfg, BotConfig(platform="telegram", personality="p", username="@b"))
    assert pol.owner == "1001" and pol.allowed_senders == frozenset({"2002"})
    assert pol.context_visibility is ContextVisibility.ALLOWLIST  # unknown mode fails closed
    assert pol.allowed_chats == frozenset({"-100"}) and pol.bot_username == "@b"
    assert (pol.rate_per_sender_per_minute, pol.rate_per_chat_per_minute, pol.rate_burst) == (3, 9, 2)
    default = channel_policy_from_config("slack", None)
    assert default.owner is None and not default.allowed_senders and default.require_mention


def test_owner_and_allowlisted_admitted_with_allow_event(tmp_path: Path) -> None:
    runtime, engine = engine_for(tmp_path)
    for sender, rule in ((OWNER, "channel.owner"), (FRIEND, "channel.allowlisted")):
        out = engine.admit(msg(sender), policy(), ctx())
        assert out.admitted and out.decision.rule == rule
    allows = events(runtime, "channel.allow")
    assert [e.rule for e in allows] == ["channel.owner", "channel.allowlisted"]
    assert allows[0].data["sender"] == OWNER and allows[0].data["chat"] == OWNER


def test_unknown_dm_gets_pairing_reply_once(tmp_path: Path) -> None:
    runtime, engine = engine_for(tmp_path)
    sent = Sent()
    out = engine.handle(msg(STRANGER), policy(), ctx(), sent, None, "k")
    assert not out.admitted and out.rule == "channel.pairing_required"
    assert len(sent.texts) == 1 and "pairing code" in sent.texts[0]
    engine.handle(msg(STRANGER), policy(), ctx(), sent, None, "k")
    assert len(sent.texts) == 1  # cooldown: no second code, silence
    denies = events(runtime, "channel.deny")
    assert [e.rule for e in denies] == ["channel.pairing_required"] * 2
    assert [e.code for e in events(runtime, "channel.pairing")] == ["issued"]


def test_unknown_without_pairing_is_silent(tmp_path: Path) -> None:
    runtime, engine = engine_for(tmp_path)
    sent = Sent()
    out = engine.handle(msg(STRANGER), policy(pairing_enabled=False), ctx(), sent, None, "k")
    assert out.rule == "channel.not_allowed" and sent.texts == []
    out = engine.handle(msg(STRANGER, dm=False, mentions={BOT_NAME}), policy(), ctx(), sent, None, "k")
    assert out.rule == "channel.not_allowed" and sent.texts == []
    assert len(events(runtime, "channel.deny")) == 2


def test_full_pairing_flow_over_chat(tmp_path: Path) -> None:
    runtime, engine = engine_for(tmp_path)
    to_stranger, to_owner = Sent(), Sent()
    engine.handle(msg(STRANGER), policy(), ctx(), to_stranger, None, "k")
    code = next(w for w in to_stranger.texts[0].split() if normalize_code(w))
    out = engine.handle(msg(OWNER, f"/pair {code}"), policy(), ctx(), to_owner, None, "k")
    assert out.command == "/pair" and "Paired" in (out.reply or "")
    handled: list[str] = []
    ok = engine.handle(msg(STRANGER, "hi"), policy(), ctx(), to_stranger,
                       lambda m, key: handled.append(m.text) or "ok", "k")
    assert ok.admitted and ok.rule == "channel.paired" and handled == ["hi"]


def test_pair_only_in_dm_and_only_admins(tmp_path: Path) -> None:
    runtime, engine = engine_for(tmp_path)
    sent = Sent()
    engine.handle(msg(STRANGER), policy(), ctx(), sent, None, "k")
    code = next(w for w in sent.texts[0].split() if normalize_code(w))
    member = engine.handle(msg(FRIEND, f"/pair {code}"), policy(), ctx(), sent, None, "k")
    assert "needs the admin role" in (member.reply or "")
    group = engine.handle(msg(OWNER, f"/pair {code}", dm=False, mentions={BOT_NAME}), policy(), ctx(), sent, None, "k")
    assert "direct message" in (group.reply or "")
    assert not engine.admit(msg(STRANGER), policy(), ctx()).admitted


def test_group_chat_must_be_listed(tmp_path: Path) -> None:
    _, engine = engine_for(tmp_path)
    out = engine.admit(msg(OWNER, chat="-100999", dm=False, mentions={BOT_NAME}), policy(), ctx())
    assert out.decision.rule == "channel.chat_not_allowed"
    assert engine.admit(msg(OWNER, dm=False, mentions={BOT_NAME}), policy(), ctx()).admitted


def test_rate_limit_burst(tmp_path: Path) -> None:
    runtime, engine = engine_for(tmp_path)
    pol = policy(rate_per_sender_per_minute=1, rate_burst=3, rate_per_chat_per_minute=0)
    results = [engine.admit(msg(FRIEND), pol, ctx()).decision.rule for _ in range(6)]
    assert results[:3] == ["channel.allowlisted"] * 3 and results[3:] == ["rate_limited"] * 3
    assert engine.admit(msg(OWNER), pol, ctx()).admitted  # other sender, own bucket
    assert [e.rule for e in events(runtime, "channel.deny")] == ["rate_limited"] * 3


def test_rate_limit_per_chat(tmp_path: Path) -> None:
    _, engine = engine_for(tmp_path)
    pol = policy(rate_per_sender_per_minute=0, rate_per_chat_per_minute=1, rate_burst=1)
    group = [engine.admit(msg(s, dm=False, mentions={BOT_NAME}), pol, ctx()).decision.rule for s in (OWNER, FRIEND, OWNER)]
    assert group[0] != "rate_limited" and "rate_limited" in group[1:]


def test_repeated_denials_raise_alert(tmp_path: Path) -> None:
    runtime, engine = engine_for(tmp_path)
    for _ in range(12):
        engine.admit(msg(STRANGER), policy(pairing_enabled=False), ctx())
    alerts = [e for e in events(runtime, "channel.deny") if e.rule == "channel.alert.repeated_denials"]
    assert len(alerts) == 1 and alerts[0].severity == "critical"
    from ethos_core.channel.pairing import pairing_health

    assert pairing_health(runtime.home.state_db)["alerts_24h"] == 1


def test_status_needs_member_and_viewer_is_not_forwarded(tmp_path: Path) -> None:
    runtime, engine = engine_for(tmp_path)
    pol = policy(roles={FRIEND: "viewer"})
    sent = Sent()
    out = engine.handle(msg(FRIEND, "/status"), pol, ctx(), sent, None, "k")
    assert "needs the member role" in (out.reply or "")
    called: list[str] = []
    out = engine.handle(msg(FRIEND, "hello"), pol, ctx(), sent, lambda m, k: called.append(k) or None, "k")
    assert out.rule == "rbac.viewer" and called == []
    assert "Status:" in (engine.handle(msg(OWNER, "/status"), pol, ctx(), sent, None, "k").reply or "")


def test_destructive_command_needs_confirmation_from_same_sender(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    rolled: list[str] = []
    engine = ChannelEngine(runtime, make_pipeline(runtime), rollback=lambda arg: rolled.append(arg) or "rolled back")
    pol = policy(roles={FRIEND: "operator"})
    sent = Sent()
    ask = engine.handle(msg(FRIEND, "/rollback last"), pol, ctx(), sent, None, "k")
    assert rolled == [] and "/confirm" in (ask.reply or "")
    token = (ask.reply or "").split("/confirm ")[1].split()[0]
    other = engine.handle(msg(OWNER, f"/confirm {token}"), pol, ctx(), sent, None, "k")
    assert rolled == [] and "Nothing to confirm" in (other.reply or "")
    done = engine.handle(msg(FRIEND, f"/confirm {token}"), pol, ctx(), sent, None, "k")
    assert rolled == ["last"] and done.reply == "rolled back"
    again = engine.handle(msg(FRIEND, f"/confirm {token}"), pol, ctx(), sent, None, "k")
    assert rolled == ["last"] and "Nothing to confirm" in (again.reply or "")


def test_role_change_audited(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    roles = RoleStore(runtime.home.state_db, emit=runtime.emit)
    engine = ChannelEngine(runtime, make_pipeline(runtime), roles=roles)
    pol = policy()
    sent = Sent()
    ask = engine.handle(msg(OWNER, f"/role {FRIEND} operator"), pol, ctx(), sent, None, "k")
    token = (ask.reply or "").split("/confirm ")[1].split()[0]
    engine.handle(msg(OWNER, f"/confirm {token}"), pol, ctx(), sent, None, "k")
    assert roles.get("telegram", FRIEND) is Role.OPERATOR
    changes = [e for e in events(runtime) if e.code == "role_change"]
    assert changes and changes[-1].rule == "rbac.role_changed" and changes[-1].data["target"] == FRIEND


def _request(req_id: str = "") -> ApprovalRequest:
    flagged = (Decision.approve(Stage.CLASSIFY_RISK, "risk.shell", "runs a shell"),)
    return ApprovalRequest(call=ToolCall("shell", {"command": "ls"}), flagged=flagged, session="s1", request_id=req_id)


def test_approval_over_chat_roundtrip(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    approver = ChatApprover(runtime.home.state_db, timeout=30, poll_interval=0.02, emit=runtime.emit)
    engine = ChannelEngine(runtime, make_pipeline(runtime), approver=approver)
    prompts = Sent()
    approver.add_target("bot", prompts)
    answers = []
    t = threading.Thread(target=lambda: answers.append(approver.request(_request())))
    t.start()
    while not prompts.texts:
        threading.Event().wait(0.01)
    req_id = prompts.texts[0].split("[")[1].split("]")[0]
    sent = Sent()
    refused = engine.handle(msg(FRIEND, f"/approve {req_id}"), policy(), ctx(), sent, None, "k")
    assert "needs the admin role" in (refused.reply or "")
    ok = engine.handle(msg(OWNER, f"/approve {req_id} session"), policy(), ctx(), sent, None, "k")
    t.join(10)
    assert "approved" in (ok.reply or "")
    assert answers and answers[0].approved and answers[0].scope == "session"
    late = engine.handle(msg(OWNER, f"/deny {req_id}"), policy(), ctx(), sent, None, "k")
    assert "Refused" in (late.reply or "")


def test_approval_timeout_denies_and_cannot_be_resurrected(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    approver = ChatApprover(runtime.home.state_db, timeout=0.2, poll_interval=0.02)
    prompts = Sent()
    approver.add_target("bot", prompts)
    answer = approver.request(_request())
    assert not answer.approved and "deadline" in answer.reason
    req_id = prompts.texts[0].split("[")[1].split("]")[0]
    ok, rule, _ = approver.answer(req_id, approved=True, actor="x", actor_role=Role.OVERLORD)
    assert not ok and rule == "approval.unknown"


def test_approval_without_target_denies(tmp_path: Path) -> None:
    approver = ChatApprover(tmp_path / "state.db", timeout=5)
    assert not approver.request(_request()).approved


def test_approval_survives_restart(tmp_path: Path) -> None:
    first = ChatApprover(tmp_path / "state.db", timeout=0.1, poll_interval=0.02)
    prompts = Sent()
    first.add_target("bot", prompts)
    # First process dies while waiting: simulate by a request that times out on its own clock only.
    first_clock = [0.0]
    first._clock = lambda: first_clock[0]  # type: ignore[method-assign]
    t = threading.Thread(target=lambda: first.request(_request("ext-1")))
    t.start()
    while not prompts.texts:
        threading.Event().wait(0.01)
    req_id = prompts.texts[0].split("[")[1].split("]")[0]
    second = ChatApprover(tmp_path / "state.db", timeout=30, poll_interval=0.02, clock=lambda: 0.05)
    assert second.answer(req_id, approved=True, actor="o", actor_role=Role.ADMIN, scope="once")[0]
    t.join(5)
    again = second.request(_request("ext-1"))
    assert again.approved
    other = second.request(ApprovalRequest(call=ToolCall("shell", {"command": "rm -rf x"}), flagged=(),
                                           session="s1", request_id="ext-1"))
    assert not other.approved  # same id, different call: binding refuses


def test_context_visibility_modes_distinct(tmp_path: Path) -> None:
    runtime, engine = engine_for(tmp_path)
    quoted = (QuotedText("from friend", FRIEND, "quote"), QuotedText("stranger quote", STRANGER, "quote"),
              QuotedText("fwd text", STRANGER, "forward"), QuotedText("old history", STRANGER, "history"),
              QuotedText("anon", None, "forward"))
    texts = {}
    for mode in ContextVisibility:
        out = engine.admit(msg(OWNER, quoted=quoted), policy(context_visibility=mode), ctx())
        assert out.message is not None and out.visibility is mode
        texts[mode] = [q.text for q in out.message.quoted]
    assert len({tuple(v) for v in texts.values()}) == 3
    for mode in ContextVisibility:
        assert texts[mode][0] == "from friend"
    strict = texts[ContextVisibility.ALLOWLIST]
    assert all("removed" in t and "stranger" not in t and "fwd" not in t and "anon" not in t for t in strict[1:])
    quote_mode = texts[ContextVisibility.ALLOWLIST_QUOTE]
    assert "untrusted quote from 6666" in quote_mode[1] and "stranger quote" in quote_mode[1]
    assert "fwd text" in quote_mode[2] and "removed" in quote_mode[3]
    assert "untrusted forward from unknown" in quote_mode[4]
    everything = texts[ContextVisibility.ALL]
    assert "old history" in everything[3] and everything[3].startswith("\u27eauntrusted history from 6666")


def test_visibility_plugin_can_only_narrow(tmp_path: Path) -> None:
    from ethos_core.markers import hookimpl

    class Loose:
        @hookimpl
        def ethos_context_visibility(self, message: object, policy: object, ctx: object) -> ContextVisibility:
            return ContextVisibility.ALL

    runtime = make_runtime(tmp_path)
    engine = ChannelEngine(runtime, make_pipeline(runtime, (Loose(),)))
    out = engine.admit(msg(OWNER, quoted=(QuotedText("x", STRANGER),)), policy(), ctx())
    assert out.visibility is ContextVisibility.ALLOWLIST


def test_paired_authors_count_as_allowlisted_in_quotes(tmp_path: Path) -> None:
    runtime, engine = engine_for(tmp_path)
    from ethos_core.channel.admission import pairing_store

    store = pairing_store(runtime)
    code = store.issue("telegram", STRANGER, STRANGER).code
    assert code is not None and store.approve(code, "owner").approved
    out = engine.admit(msg(OWNER, quoted=(QuotedText("paired says", STRANGER),)), policy(), ctx())
    assert out.message is not None and out.message.quoted[0].text == "paired says"
