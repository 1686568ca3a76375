"""Heartbeats: every worker and relay process says every few seconds that it is alive, and what it has done.

Each process keeps one row of `worker_heartbeats` (its host, pid and start time are its id), updated every
`EVERY_SECONDS` from `shared.bus.stats.STATS`. Administrators see a process silent for more than
`SILENT_SECONDS` as down (the console, `ideahub status`); a process that stops cleanly says so.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from shared.bus.stats import STATS
from shared.clock import utcnow
from shared.db.models import WorkerHeartbeat
from shared.db.uow import unit_of_work
from shared.db.util import insert_ignore
from shared.logging import get_logger

log = get_logger("ideahub.health")

EVERY_SECONDS = 5.0
# Six beats missed: the process is down (or cannot reach the database, which for a worker is as bad).
SILENT_SECONDS = 30.0
# Rows of processes gone this long are removed, so the table holds today's processes, not every one ever.
FORGOTTEN_AFTER = timedelta(days=1)
_table = WorkerHeartbeat.__table__


class Heartbeat:
    def __init__(self, session_factory: sessionmaker[Session], *, role: str, stages: list[str]) -> None:
        self.session_factory = session_factory
        self.role = role
        self.stages = ",".join(stages)
        self.started_at = utcnow()
        self.host = socket.gethostname()[:200]
        self.pid = os.getpid()
        self.id = f"{self.host}:{self.pid}:{int(self.started_at.timestamp())}"[:120]

    def _values(self, now: datetime) -> dict[str, Any]:
        counts = STATS.snapshot()
        return {
            "last_seen_at": now,
            "handled": sum(c.handled for c in counts.values()),
            "failures": sum(c.failures for c in counts.values()),
            "consumers": {
                name: {"handled": c.handled, "failures": c.failures, "seconds": round(c.seconds, 3)}
                for name, c in counts.items()
            },
        }

    def beat(self, *, stopping: bool = False) -> None:
        now = utcnow()
        values = self._values(now) | ({"stopped_at": now} if stopping else {})
        with unit_of_work(self.session_factory) as session:
            row = {
                "id": self.id,
                "role": self.role,
                "stages": self.stages,
                "host": self.host,
                "pid": self.pid,
                "started_at": self.started_at,
                "stopped_at": None,
            } | values
            if not insert_ignore(session, _table, row):
                session.execute(update(_table).where(_table.c.id == self.id).values(**values))
            session.execute(delete(_table).where(_table.c.last_seen_at < now - FORGOTTEN_AFTER))

    def run(self, stop: threading.Event) -> None:
        """Beat every `EVERY_SECONDS` until `stop`, then once more to say the process stopped."""
        while not stop.is_set():
            try:
                self.beat()
            except Exception:  # the database is away: the next beat tries again; silence is what administrators see
                log.warning("health.beat_failed", exc_info=True)
            stop.wait(EVERY_SECONDS)
        try:
            self.beat(stopping=True)
        except Exception:
            log.warning("health.last_beat_failed", exc_info=True)

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="heartbeat", daemon=True)
        thread.start()
        return thread
