"""Stage ① engine: who may reach the agent, and where it may answer.

Invariants (each a rule id in ``channel.deny`` / ``channel.allow`` events and in docs/channels.md):
- a sender is admitted only when it is exactly (string equality, no normalisation) the
  platform's ``owner``, in ``allowedSenders``, or paired through :mod:`.pairing`
  (``channel.owner``, ``channel.allowlisted``, ``channel.paired``);
- the reply destination is authorised too: a DM is authorised by its sender, a group chat only
  when listed in ``allowedChats`` (``channel.chat_not_allowed``), whoever writes there;
- an unknown sender in a DM with pairing enabled is denied with ``channel.pairing_required``
  (the channel engine then sends the pairing reply); any other unknown sender is denied with
  ``channel.not_allowed`` and gets silence;
- admitted senders and chats are rate limited by token buckets (``rate_limited``);
- an error anywhere (state.db unreadable …) raises, which the pipeline turns into DENY.
Not covered: an allowlisted account that was taken over, and platforms that lie about ids.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from ethos_core.channel.pairing import PairingStore
from ethos_core.channel.ratelimit import TokenBuckets
from ethos_core.runtime import Runtime
from ethos_core.stages import Stage
from ethos_core.types import AuditEvent, ChannelPolicy, Decision, InboundMessage

PAIRING_REQUIRED = "channel.pairing_required"
NOT_ALLOWED = "channel.not_allowed"
CHAT_NOT_ALLOWED = "channel.chat_not_allowed"
RATE_LIMITED = "rate_limited"
ALERT_RULE = "channel.alert.repeated_denials"

ALERT_WINDOW = 600.0
ALERT_THRESHOLD = 10

_service_lock = threading.Lock()


def pairing_store(runtime: Runtime) -> PairingStore:
    """The runtime's :class:`PairingStore` (service ``pairing``), created on first use."""
    with _service_lock:
        store = runtime.services.get("pairing")
        if store is None:
            store = PairingStore(runtime.home.state_db, emit=runtime.emit)
            runtime.services["pairing"] = store
        return store


def sender_identity(message: InboundMessage, policy: ChannelPolicy, pairing: Callable[[], PairingStore]) -> str | None:
    """The admitting rule for this sender, or ``None`` when the sender is unknown."""
    sender = str(message.sender_id)
    if policy.owner is not None and sender == str(policy.owner):
        return "channel.owner"
    if sender in policy.allowed_senders:
        return "channel.allowlisted"
    if sender and pairing().is_approved(policy.platform, sender):
        return "channel.paired"
    return None


class ChannelAdmission:
    """Decides stage ① for one runtime; holds the rate-limit buckets."""

    def __init__(self, runtime: Runtime, buckets: TokenBuckets | None = None) -> None:
        self.runtime = runtime
        self.buckets = buckets or TokenBuckets()

    def decide(self, message: InboundMessage, policy: ChannelPolicy) -> Decision:
        stage = Stage.CHANNEL_ADMIT
        data = {"sender": message.sender_id, "chat": message.chat_id, "platform": message.platform}
        if message.platform != policy.platform:
            return Decision.deny(stage, NOT_ALLOWED, "message platform does not match the bot's policy", evidence=data)
        rule = sender_identity(message, policy, lambda: pairing_store(self.runtime))
        if rule is None:
            if message.is_dm and policy.pairing_enabled:
                return Decision.deny(stage, PAIRING_REQUIRED, "unknown sender; a pairing code is required", evidence=data)
            return Decision.deny(stage, NOT_ALLOWED, "sender is not on the allowlist", evidence=data)
        if not message.is_dm and message.chat_id not in policy.allowed_chats:
            return Decision.deny(stage, CHAT_NOT_ALLOWED, "group chat is not in allowedChats", evidence=data)
        burst = policy.rate_burst
        if not self.buckets.take(f"{policy.platform}\x00s\x00{message.sender_id}", policy.rate_per_sender_per_minute, burst):
            return Decision.deny(stage, RATE_LIMITED, "sender exceeded the message rate limit", evidence=data)
        chat_burst = max(burst, policy.rate_burst * 2)
        if not self.buckets.take(f"{policy.platform}\x00c\x00{message.chat_id}", policy.rate_per_chat_per_minute, chat_burst):
            return Decision.deny(stage, RATE_LIMITED, "chat exceeded the message rate limit", evidence=data)
        reason = {"channel.owner": "sender is the owner", "channel.allowlisted": "sender is allowlisted",
                  "channel.paired": "sender was paired"}[rule]
        return Decision.allow(stage, rule, reason, evidence=data)


def admission_for(runtime: Runtime) -> ChannelAdmission:
    """The runtime's :class:`ChannelAdmission` (service ``channel_admission``)."""
    with _service_lock:
        adm = runtime.services.get("channel_admission")
        if adm is None:
            adm = ChannelAdmission(runtime)
            runtime.services["channel_admission"] = adm
        return adm


class FailureTracker:
    """Counts denials per (platform, sender) and raises one alert per window at the threshold.

    The alert is a ``channel.deny`` event with severity ``critical`` and rule
    ``channel.alert.repeated_denials``, and a row in ``pairing_alerts`` that ``ethos health`` shows.
    """

    def __init__(self, runtime: Runtime, threshold: int = ALERT_THRESHOLD, window: float = ALERT_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.runtime = runtime
        self.threshold = threshold
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._alerted: dict[str, float] = {}
        self._lock = threading.Lock()
        self.alerts = 0

    def record(self, platform: str, subject: str, rule: str) -> bool:
        """Record one failure; True when this one raised an alert."""
        key = f"{platform}\x00{subject}"
        now = self._clock()
        with self._lock:
            if len(self._events) > 10_000:
                self._events.clear()
            q = self._events.setdefault(key, deque())
            q.append(now)
            while q and q[0] <= now - self.window:
                q.popleft()
            count = len(q)
            last = self._alerted.get(key)
            fire = count >= self.threshold and (last is None or last <= now - self.window)
            if fire:
                self._alerted[key] = now
                self.alerts += 1
        if fire:
            self.runtime.emit(AuditEvent(
                category="channel.deny", code="alert", severity="critical", stage=Stage.CHANNEL_ADMIT.value,
                rule=ALERT_RULE, verdict="deny",
                data={"platform": platform, "sender": subject, "count": count, "last_rule": rule},
            ))
            try:
                pairing_store(self.runtime).record_alert(platform, subject, ALERT_RULE, count)
            except Exception:  # noqa: BLE001 - the event above already carries the alert
                pass
        return fire
