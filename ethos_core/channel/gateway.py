"""The gateway: one adapter per configured bot, one isolated agent session per (botKey, chat).

Invariants:
- every bot in ``config.bots`` gets an adapter from the ``ethos_channel_adapters`` hook (or the
  built-in ``cli``); an unknown platform, two adapters for one platform, or an unresolvable
  token stops startup (nothing starts half-configured);
- ``botKey`` is the bot's ``id`` or ``sha256(platform, token reference)`` — the reference
  string, never the token value — so it is stable across restarts and token rotations;
- each (botKey, chat) has its own :class:`GatewaySession` (own state, own lock, own session
  key); nothing is shared between chats or bots except the policy engines;
- one ``system.startup`` event per botKey; ``stop()`` stops every adapter and waits for
  in-flight messages; pairing codes and approvals live in ``state.db`` and survive restarts;
- inbound messages go through :class:`~ethos_core.channel.engine.ChannelEngine` (stages ①–③)
  before the handler sees anything; a handler exception is contained to that message.
Not covered: the agent loop itself (plugged in as ``handler``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from ethos_core.channel.adapter import ChannelAdapter, ChannelAdapterFactory
from ethos_core.channel.approvals import ChatApprover
from ethos_core.channel.engine import ChannelEngine, Handler
from ethos_core.channel.pairing import pairing_health
from ethos_core.channel.policy import channel_policy_from_config
from ethos_core.channel.rbac import RoleStore
from ethos_core.config.model import BotConfig
from ethos_core.errors import EthosError
from ethos_core.pipeline import Pipeline
from ethos_core.runtime import Runtime
from ethos_core.types import AuditEvent, ChannelPolicy, Context, InboundMessage, Personality

log = logging.getLogger("ethos.gateway")
SECRET_REF = re.compile(r"^\$\{secrets:([^}]+)\}$")

ContextFactory = Callable[[BotConfig, str, str], Context]  # (bot, bot_key, session_key) -> Context


class GatewayError(EthosError):
    """The gateway could not start (unknown platform, duplicate adapter, missing token …)."""


def bot_key(bot: BotConfig) -> str:
    """``id`` when configured, else a sha256 of platform and the token *reference* (16 hex)."""
    if bot.id:
        return bot.id
    material = f"{bot.platform}\x00{bot.token or ''}".encode()
    return hashlib.sha256(material).hexdigest()[:16]


def session_key(key: str, chat_id: str) -> str:
    return f"{key}:{chat_id}"


@attrs.define
class GatewaySession:
    """Isolated per-(botKey, chat) state; ``state`` is the handler's to use."""

    key: str
    bot_key: str
    chat_id: str
    context: Context
    state: dict[str, Any] = attrs.field(factory=dict)
    lock: threading.Lock = attrs.field(factory=threading.Lock)
    messages: int = 0


def recording_handler(sessions: Mapping[str, GatewaySession]) -> Handler:
    """The default handler: records the admitted message in its session, answers nothing."""

    def handle(message: InboundMessage, key: str) -> str | None:
        session = sessions.get(key)
        if session is not None:
            session.state.setdefault("history", []).append({"sender": message.sender_id, "text": message.text})
        return None

    return handle


def collect_adapter_factories(pipeline: Pipeline | None, extra: Iterable[ChannelAdapterFactory] = ()) -> dict[str, ChannelAdapterFactory]:
    """Factories by platform from the hook plus ``extra``; duplicates are an error."""
    items: list[tuple[str, Any]] = []
    if pipeline is not None:
        items.extend(pipeline.collect("ethos_channel_adapters"))
    items.extend(("extra", f) for f in extra)
    out: dict[str, ChannelAdapterFactory] = {}
    for plugin, factory in items:
        platform = getattr(factory, "platform", None)
        if not isinstance(platform, str) or not callable(getattr(factory, "create", None)):
            raise GatewayError(f"plugin {plugin} returned an adapter factory without platform/create")
        if platform in out:
            raise GatewayError(f"two channel adapters for platform {platform!r} (second from {plugin})")
        out[platform] = factory
    return out


def default_context(bot: BotConfig, key: str, skey: str) -> Context:
    return Context(personality=Personality(id=bot.personality, directory=""), session=skey, channel=bot.platform, bot=key)


@attrs.define
class _Bot:
    config: BotConfig
    key: str
    adapter: ChannelAdapter
    policy: ChannelPolicy


class Gateway:
    """Starts every configured bot and routes its messages through the channel engine."""

    def __init__(self, runtime: Runtime, pipeline: Pipeline, *, bots: Iterable[BotConfig] | None = None,
                 factories: Mapping[str, ChannelAdapterFactory] | None = None, handler: Handler | None = None,
                 context_factory: ContextFactory | None = None, approver: ChatApprover | None = None,
                 token_resolver: Callable[[str | None], str | None] | None = None) -> None:
        self.runtime = runtime
        self.pipeline = pipeline
        self.bots_config = tuple(runtime.config.bots if bots is None else bots)
        self.factories = dict(factories) if factories is not None else collect_adapter_factories(pipeline)
        self.sessions: dict[str, GatewaySession] = {}
        self.handler = handler or recording_handler(self.sessions)
        self.context_factory = context_factory or default_context
        self.approver = approver or ChatApprover(runtime.home.state_db, emit=runtime.emit,
                                                 timeout=runtime.config.approvals.timeout_seconds)
        runtime.services.setdefault("approver", self.approver)
        self.roles = RoleStore(runtime.home.state_db, emit=runtime.emit)
        self.engine = ChannelEngine(runtime, pipeline, approver=self.approver, roles=self.roles, status=self.status)
        self.token_resolver = token_resolver or self._resolve_token
        self.bots: dict[str, _Bot] = {}
        self._lock = threading.Lock()
        self._inflight = 0
        self._idle = threading.Condition(self._lock)
        self._stopping = False
        self._stopped = threading.Event()

    # --- tokens ------------------------------------------------------------------------------

    def _resolve_token(self, token: str | None) -> str | None:
        if token is None:
            return None
        match = SECRET_REF.match(token)
        if match is None:
            return token
        value = self.runtime.secret_values.get(match.group(1))
        if not value:
            raise GatewayError(f"bot token secret {match.group(1)!r} did not resolve")
        return value

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        planned: list[tuple[BotConfig, str, ChannelAdapterFactory]] = []
        for bot in self.bots_config:
            factory = self.factories.get(bot.platform)
            if factory is None:
                raise GatewayError(f"no channel adapter for platform {bot.platform!r} (install its plugin)")
            key = bot_key(bot)
            if key in {k for _, k, _ in planned}:
                raise GatewayError(f"two bots share the botKey {key!r}")
            planned.append((bot, key, factory))
        try:
            for bot, key, factory in planned:
                self._start_bot(bot, key, factory)
        except Exception:
            self.stop()
            raise

    def _start_bot(self, bot: BotConfig, key: str, factory: ChannelAdapterFactory) -> None:
        adapter = factory.create(bot, self.token_resolver(bot.token))
        policy = channel_policy_from_config(bot.platform, self.runtime.config.channel_filter.get(bot.platform), bot)
        with self._lock:
            self.bots[key] = _Bot(bot, key, adapter, policy)
        def on_message(message: InboundMessage, _key: str = key) -> None:
            self.deliver(_key, message)

        adapter.start(on_message)
        ident = adapter.identity()
        username = ident.get("username") or policy.bot_username
        policy = attrs.evolve(policy, bot_id=ident.get("id") or None, bot_username=username or None)
        with self._lock:
            self.bots[key].policy = policy
        if policy.owner is not None:
            owner = policy.owner

            def to_owner(text: str, _adapter: ChannelAdapter = adapter, _owner: str = owner) -> None:
                _adapter.send(_owner, text)

            self.approver.add_target(key, to_owner)
        self.runtime.emit(AuditEvent(category="system.startup", code="gateway.bot_started", data={
            "bot_key": key, "platform": bot.platform, "personality": bot.personality,
            "bot_id": policy.bot_id, "username": policy.bot_username,
        }))

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopping = True
            bots = list(self.bots.values())
        for bot in reversed(bots):
            try:
                bot.adapter.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                log.warning("adapter %s failed to stop: %s", bot.key, type(exc).__name__)
            self.approver.remove_target(bot.key)
        with self._idle:
            self._idle.wait_for(lambda: self._inflight == 0, timeout=timeout)
        self._stopped.set()

    def run(self, stop: threading.Event | None = None) -> None:
        """Start, block until ``stop`` is set (or :meth:`stop` is called), then shut down."""
        self.start()
        try:
            if stop is None:
                self._stopped.wait()
            else:
                stop.wait()
        finally:
            self.stop()

    # --- messages ----------------------------------------------------------------------------

    def session_for(self, bot: _Bot, chat_id: str) -> GatewaySession:
        key = session_key(bot.key, chat_id)
        with self._lock:
            session = self.sessions.get(key)
            if session is None:
                ctx = self.context_factory(bot.config, bot.key, key)
                session = GatewaySession(key=key, bot_key=bot.key, chat_id=chat_id, context=ctx)
                self.sessions[key] = session
            return session

    def deliver(self, key: str, message: InboundMessage) -> None:
        """Adapter callback: run one message through the engine in its session."""
        with self._lock:
            bot = self.bots.get(key)
            if bot is None or self._stopping:
                return
            self._inflight += 1
        try:
            session = self.session_for(bot, message.chat_id)
            with session.lock:
                session.messages += 1

                def reply(text: str, _bot: _Bot = bot, _chat: str = message.chat_id) -> None:
                    _bot.adapter.send(_chat, text)

                try:
                    self.engine.handle(message, bot.policy, session.context, reply, self.handler, session.key)
                except Exception as exc:  # noqa: BLE001 - one bad message must not stop the bot
                    log.warning("message in %s failed: %s", session.key, type(exc).__name__)
        finally:
            with self._idle:
                self._inflight -= 1
                self._idle.notify_all()

    def status(self) -> dict[str, Any]:
        with self._lock:
            bots = list(self.bots.values())
            sessions = len(self.sessions)
        health = pairing_health(self.runtime.home.state_db)
        return {"bots": len(bots), "sessions": sessions, "pairing": health["status"],
                "alerts": self.engine.failures.alerts}

    def health(self) -> dict[str, Any]:
        with self._lock:
            bots = list(self.bots.values())
        return {
            "bots": {b.key: dict(b.adapter.health()) for b in bots},
            "pairing": pairing_health(self.runtime.home.state_db),
            "alerts": self.engine.failures.alerts,
        }
