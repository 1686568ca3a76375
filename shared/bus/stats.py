"""What this process's consumers have done since it started: events handled, refused, and the time spent.

The exactly-once core (`shared.bus.exactly_once`) adds to it after each transaction; the heartbeat
(`shared.worker.health`) reports it. A lock and a few additions a batch: nothing on the hot path to speak of.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Counts:
    handled: int = 0
    failures: int = 0
    seconds: float = 0.0


class ProcessStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_consumer: dict[str, Counts] = {}

    def add(self, consumer: str, *, handled: int = 0, failures: int = 0, seconds: float = 0.0) -> None:
        with self._lock:
            counts = self._by_consumer.setdefault(consumer, Counts())
            counts.handled += handled
            counts.failures += failures
            counts.seconds += seconds

    def snapshot(self) -> dict[str, Counts]:
        with self._lock:
            return {name: Counts(c.handled, c.failures, c.seconds) for name, c in self._by_consumer.items()}


# One a process.
STATS = ProcessStats()
