"""Periodic sweeps: work a worker does on a clock rather than on a message.

A service lists its sweeps in `subscriptions.py` as `SWEEPS`; `ideahub worker STAGE` runs those of
its stages in one thread. Deadlines are timed by delayed messages (see `Subscription.at`); a sweep
is the safety net that finds overdue work whose message was lost (a broker restarted without its
data, say), so it must be idempotent with the delayed message: whichever comes first acts, the
other finds nothing left to do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.logging import get_logger

log = get_logger("ideahub.sweep")

SweepFn = Callable[[sessionmaker[Session], Settings], int]


@dataclass(frozen=True)
class Sweep:
    """`fn(session_factory, settings)` every `every(settings)` seconds; it returns how many things it did."""

    name: str
    fn: SweepFn
    every: Callable[[Settings], float]


def run_sweeps(
    sweeps: list[Sweep], session_factory: sessionmaker[Session], settings: Settings, stop: threading.Event
) -> None:
    """Run each sweep on its own period until `stop`; a failing sweep is logged and tried again next time."""
    if not sweeps:
        return
    next_run = {sweep.name: 0.0 for sweep in sweeps}
    log.info("sweep.started", sweeps=[s.name for s in sweeps])
    while not stop.is_set():
        now = time.monotonic()
        for sweep in sweeps:
            if now < next_run[sweep.name]:
                continue
            try:
                done = sweep.fn(session_factory, settings)
                if done:
                    log.info("sweep.acted", sweep=sweep.name, count=done)
            except Exception:
                log.exception("sweep.failed", sweep=sweep.name)
            next_run[sweep.name] = time.monotonic() + sweep.every(settings)
        stop.wait(max(0.05, min(next_run.values()) - time.monotonic()))
    log.info("sweep.stopped")
