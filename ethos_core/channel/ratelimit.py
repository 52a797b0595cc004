"""Token-bucket rate limits per sender and per chat (rule ``rate_limited``).

Invariant: a key never gets more than ``burst`` messages at once nor more than ``rate`` per
minute sustained; a rate of 0 means no limit. Buckets are in memory per process (a restart
refills them) and bounded in number (least recently used keys are evicted, which can only
refill a bucket an attacker was not using). Not covered: distributed limits across replicas.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_BUCKETS = 10_000


class TokenBuckets:
    """One bucket per key; ``take(key, rate, burst)`` consumes a token or returns False."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_BUCKETS) -> None:
        self._clock = clock
        self._max = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str, per_minute: int, burst: int) -> bool:
        if per_minute <= 0:
            return True
        capacity = float(max(1, burst))
        refill = per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (capacity, now))
            tokens = min(capacity, tokens + max(0.0, now - at) * refill)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
            return allowed
