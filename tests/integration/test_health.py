"""Heartbeats: each worker and relay process keeps one row saying it is alive and what it has handled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from infra.composition import Runtime
from shared.bus.stats import STATS
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import WorkerHeartbeat
from shared.db.uow import unit_of_work
from shared.worker.health import FORGOTTEN_AFTER, Heartbeat


@pytest.fixture
def runtime(sqlite_settings: Settings) -> Runtime:
    return Runtime(sqlite_settings)


def rows(runtime: Runtime) -> list[WorkerHeartbeat]:
    with unit_of_work(runtime.session_factory) as session:
        found = list(session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.id)))
        session.expunge_all()
    return found


def test_a_process_keeps_one_row_with_what_it_has_handled_since_it_started(runtime: Runtime) -> None:
    heartbeat = Heartbeat(runtime.session_factory, role="worker", stages=["review", "notify"])
    before = STATS.snapshot().get("test.health", None)
    heartbeat.beat()
    STATS.add("test.health", handled=3, seconds=0.25)
    STATS.add("test.health", failures=1)
    heartbeat.beat()
    (row,) = rows(runtime)
    assert (row.role, row.stages, row.pid, row.stopped_at) == ("worker", "review,notify", heartbeat.pid, None)
    counts = row.consumers["test.health"]
    assert counts["handled"] == (before.handled if before else 0) + 3
    assert counts["failures"] == (before.failures if before else 0) + 1
    assert row.handled >= 3
    assert row.last_seen_at >= row.started_at


def test_a_process_that_stops_says_so_and_rows_of_long_gone_ones_are_removed(runtime: Runtime) -> None:
    gone = Heartbeat(runtime.session_factory, role="relay", stages=["relay"])
    gone.id = "gone-host:1:1"
    gone.beat()
    with unit_of_work(runtime.session_factory) as session:
        session.execute(
            update(WorkerHeartbeat)
            .where(WorkerHeartbeat.id == gone.id)
            .values(last_seen_at=utcnow() - FORGOTTEN_AFTER - timedelta(minutes=1))
        )
    current = Heartbeat(runtime.session_factory, role="relay", stages=["relay"])
    current.beat(stopping=True)
    (row,) = rows(runtime)
    assert row.id == current.id
    assert row.stopped_at is not None
