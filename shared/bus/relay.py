"""The relay: reads committed events from the outbox and publishes them.

Each event goes once onto the kombu topic exchange (for any subscriber) and, as
a dramatiq message, to every stage actor subscribed to its type. A row is marked
published only after every publish returned, so a crash in between publishes the
row again; consumers record what they have handled, so that has no second effect.

One relay per installation: rows are read without a lock (SQLite has none to
give), and a second relay would only publish duplicates, which consumers drop.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import dramatiq
import psycopg
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.bus.stats import STATS
from shared.clock import utcnow
from shared.db.models import OutboxMessage
from shared.db.uow import unit_of_work
from shared.logging import get_logger

log = get_logger("ideahub.relay")


@dataclass(frozen=True)
class Route:
    """Deliver events of one type to one dramatiq actor, optionally only when `when(payload)` holds.

    With `at`, the message is a delayed one: dramatiq runs it no earlier than `at(payload)` (a deadline
    or a reminder time carried by the event). The service that owns the deadline also sweeps for overdue
    work, so a delayed message lost with the broker's data is covered.

    A time further away than `horizon_ms` gets no message at all: the sweep acts on it when it is due.
    A worker holds the delayed messages it has fetched, unacknowledged, in memory until they are due,
    so days-long deadlines would pile up there; a minute's lateness on those does not matter.

    With `batch` (for an actor that takes a list of events, and never with `at`), the events of this
    route that one pass of the relay reads travel together, up to `batch` in a message: one message
    to send, take and acknowledge for several events, and one transaction for the actor.
    """

    event_type: str
    queue_name: str
    actor_name: str
    when: Callable[[Mapping[str, Any]], bool] | None = None
    at: Callable[[Mapping[str, Any]], datetime | None] | None = None
    horizon_ms: int | None = None
    batch: int | None = None

    def __post_init__(self) -> None:
        if self.batch is not None and self.at is not None:
            raise ValueError(f"{self.actor_name}: a route's messages are either delayed or batched, not both")

    def left_to_sweep(self, delay_ms: int | None) -> bool:
        """True when a delay is beyond the horizon: no message, the owning service's sweep acts on time."""
        return delay_ms is not None and self.horizon_ms is not None and delay_ms > self.horizon_ms

    def delay_ms(self, payload: Mapping[str, Any], now: datetime) -> int | None:
        if self.at is None:
            return None
        due = self.at(payload)
        if due is None:
            return None
        return max(0, int((due - now).total_seconds() * 1000)) or None


_outbox = OutboxMessage.__table__
# Core statements, built once: the relay runs them on every pass.
_PENDING = (
    select(_outbox.c.id, _outbox.c.event_type, _outbox.c.payload)
    .where(_outbox.c.published_at.is_(None))
    .order_by(_outbox.c.id)
    .limit(bindparam("batch"))
)
_PUBLISHED = (
    update(_outbox).where(_outbox.c.id.in_(bindparam("ids", expanding=True))).values(published_at=bindparam("at"))
)


class Publisher(Protocol):
    def publish(self, event_type: str, payload: str) -> None: ...

    def batch(self) -> contextlib.AbstractContextManager[Any]:
        """Publishes inside it may be held back and sent together on leaving it, which raises if they failed."""
        ...


class Relay:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        broker: dramatiq.Broker,
        routes: Iterable[Route],
        *,
        publisher: Publisher | None = None,
        batch: int = 500,
        commits: OutboxCommits | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.broker = broker
        self.publisher = publisher
        self.batch = batch
        self.commits = commits
        self.routes: dict[str, list[Route]] = {}
        for route in routes:
            self.routes.setdefault(route.event_type, []).append(route)
            broker.declare_queue(route.queue_name)

    def pending(self) -> list[Any]:
        with unit_of_work(self.session_factory) as session:
            return list(session.connection().execute(_PENDING, {"batch": self.batch}))

    def publish(self, rows: list[Any]) -> None:
        # The batch's events reach the topic exchange together when it ends, in order, before the next
        # batch is read: an idea's later events come out of the outbox after its earlier ones were sent.
        with self.publisher.batch() if self.publisher is not None else contextlib.nullcontext():
            self._publish(rows)

    def _publish(self, rows: list[Any]) -> None:
        together: dict[Route, list[Any]] = {}  # the events of batched routes, sent after the loop
        for row in rows:
            if self.publisher is not None:
                self.publisher.publish(row.event_type, row.payload)
            routes = self.routes.get(row.event_type, ())
            if not routes:
                continue
            data = json.loads(row.payload)
            now = utcnow()
            for route in routes:
                if route.when is not None and not route.when(data):
                    continue
                if route.batch is not None:
                    together.setdefault(route, []).append(data)
                    continue
                delay = route.delay_ms(data, now)
                if route.left_to_sweep(delay):
                    continue
                self._enqueue(route, data, delay)
        for route, events in together.items():
            size = route.batch or 1
            for start in range(0, len(events), size):
                self._enqueue(route, events[start : start + size], None)

    def _enqueue(self, route: Route, argument: Any, delay: int | None) -> None:
        self.broker.enqueue(
            dramatiq.Message(
                queue_name=route.queue_name, actor_name=route.actor_name, args=(argument,), kwargs={}, options={}
            ),
            delay=delay,
        )

    def mark_published(self, ids: list[int]) -> None:
        with unit_of_work(self.session_factory) as session:
            session.connection().execute(_PUBLISHED, {"ids": ids, "at": utcnow()})

    def run_once(self) -> int:
        """Publish one batch; the number of events published."""
        rows = self.pending()
        if rows:
            self.publish(rows)
            self.mark_published([row.id for row in rows])
            STATS.add("relay", handled=len(rows))
            log.debug("relay.published", count=len(rows), last_id=rows[-1].id)
        return len(rows)

    def run_forever(self, stop: threading.Event, *, idle_seconds: float = 0.02) -> None:
        """Publish until `stop` is set.

        After a pass that found nothing, wait for the next commit to the outbox (`commits`, on PostgreSQL),
        so that the first event after a quiet spell goes at once and a quiet relay costs nothing. After a
        pass that found a few, or without `commits`, look again after `idle_seconds`: while events keep
        coming, each pass then takes what `idle_seconds` gathered, and stage work travels in fewer messages
        (docs/decisions/0003-a-commit-wakes-the-relay.md)."""
        log.info("relay.started", routes=sum(len(r) for r in self.routes.values()), woken=self.commits is not None)
        try:
            while not stop.is_set():
                try:
                    published = self.run_once()
                except Exception:
                    log.exception("relay.failed")  # the database or broker is away: keep trying
                    stop.wait(1.0)
                    continue
                if published == 0 and self.commits is not None and self.commits.wait(COMMIT_WAIT_SECONDS):
                    continue
                if published < self.batch:
                    stop.wait(idle_seconds)
        finally:
            if self.commits is not None:
                self.commits.close()
        log.info("relay.stopped")


# On PostgreSQL the relay looks at the outbox when a commit wakes it, and at least this often besides.
COMMIT_WAIT_SECONDS = 1.0


class OutboxCommits:
    """PostgreSQL's notification of committed outbox rows (`NOTIFY ideahub_outbox`, migration 0008),
    heard on a connection of the relay's own, so that it publishes at once rather than at its next look."""

    CHANNEL = "ideahub_outbox"

    def __init__(self, url: str) -> None:
        self.url = url  # libpq's form: postgresql://...
        self._connection: psycopg.Connection[Any] | None = None

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds` for a commit. False when it cannot listen: the caller then waits as it would poll.

        (Re)connecting returns at once, as rows may have been committed while nobody listened.
        """
        try:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
                self._connection.execute(f"LISTEN {self.CHANNEL}")
                return True
            for _ in self._connection.notifies(timeout=seconds, stop_after=1):
                break
            return True
        except psycopg.Error:
            log.warning("relay.not_listening")
            self.close()
            return False

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
