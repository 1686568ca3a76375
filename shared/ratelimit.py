"""Token buckets per client: the API's per-client limit and email intake's per-sender limit.

Each process keeps its own buckets (no shared store on the hot path), so with N server
processes a client can get up to N times the rate
(docs/decisions/0016-rate-limits-per-process-per-address.md). Buckets idle for a full period
are forgotten, so memory stays bounded by the number of active clients.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from shared.config import Rate


class RateLimiter:
    """`take(key)` spends one token from `key`'s bucket: None if allowed, else seconds to wait."""

    def __init__(self, rate: Rate, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self._lock = threading.Lock()
        self._next_purge = clock() + rate.per_seconds

    def take(self, key: str) -> float | None:
        if self.rate.unlimited:
            return None
        capacity = float(self.rate.count)
        per_token = self.rate.per_seconds / self.rate.count
        with self._lock:
            now = self._clock()
            if now >= self._next_purge:
                self._purge(now)
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) / per_token)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return max(0.001, (1.0 - tokens) * per_token)
            self._buckets[key] = (tokens - 1.0, now)
            return None

    def retry_after(self, wait: float) -> str:
        """The Retry-After header's whole seconds."""
        return str(max(1, math.ceil(wait)))

    def _purge(self, now: float) -> None:
        idle = self.rate.per_seconds
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < idle}
        self._next_purge = now + idle
