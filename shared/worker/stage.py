"""Stage actors: how a service declares the work it does for each event it subscribes to.

A service writes `@stage_actor(queue="review")` over a handler `fn(session, event, ctx)`
and lists in its `subscriptions.py` which events reach it. The composition root
registers the actors with the broker (`register`) and gives the relay its routes
(`routes`); nothing here is bound to a broker at import time.

The wrapper owns the transaction: it records the event id for this consumer in
the same transaction as the handler's effect, so a redelivered message is a no-op.
A PermanentError is not retried: it is rolled back and recorded in
`failed_messages` for administrators.

A handler declared `batched` takes a list of events; its deliveries that arrive while another
is being handled are then handled together, in one transaction (`GroupCommit`).
"""

from __future__ import annotations

import functools
import json
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from shared.bus import outbox
from shared.bus.relay import Route
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import Event, MessageFailedV1, parse_event
from shared.db.models import FailedMessage, ProcessedMessage
from shared.db.uow import unit_of_work
from shared.db.util import insert_ignore_many
from shared.errors import PermanentError
from shared.logging import about, bind, clear, get_logger

log = get_logger("ideahub.worker")


@dataclass(frozen=True)
class StageContext:
    """What every handler may use besides its session: the settings (and through them, the clock)."""

    settings: Settings


Handler = Callable[[Session, Any, StageContext], None]
# The most events the relay puts in one message for a batched actor.
BATCH = 50


@dataclass(frozen=True)
class StageActor:
    fn: Handler
    actor_name: str
    queue: str
    # False only for a handler whose effect is itself keyed by the event (a notification row keyed by
    # event, recipient and channel, say): a second delivery then finds that key, and a separate
    # processed_messages row would be a second write of the same fact.
    dedupe: bool = True
    # True for a handler `fn(session, events, ctx)` of a list of events, which costs less for each when
    # it takes several: deliveries that arrive together are then handled together (GroupCommit).
    batched: bool = False


@dataclass(frozen=True)
class Subscription:
    """Events of `event_type` (and, if given, for which `when(payload)` holds) go to `actor`.

    With `at(payload, settings)`, the actor runs no earlier than the time it returns (a delayed
    message: a reminder before a deadline, an escalation at it); None runs it at once. A time more than
    `deadline_message_horizon_seconds` away is left to the service's sweep (see `Route`).
    """

    event_type: str
    actor: StageActor
    when: Callable[[Mapping[str, Any]], bool] | None = field(default=None)
    at: Callable[[Mapping[str, Any], Settings], datetime | None] | None = field(default=None)


def stage_actor(
    *, queue: str, name: str | None = None, dedupe: bool = True, batched: bool = False
) -> Callable[[Handler], StageActor]:
    def wrap(fn: Handler) -> StageActor:
        actor_name = name or f"{queue}.{fn.__name__}"
        return StageActor(fn=fn, actor_name=actor_name, queue=queue, dedupe=dedupe, batched=batched)

    return wrap


def routes(subscriptions: list[Subscription], settings: Settings) -> list[Route]:
    return [
        Route(
            s.event_type,
            settings.queue(s.actor.queue),
            s.actor.actor_name,
            s.when,
            functools.partial(s.at, settings=settings) if s.at is not None else None,
            int(settings.deadline_message_horizon_seconds * 1000) if s.at is not None else None,
            BATCH if s.actor.batched else None,
        )
        for s in subscriptions
    ]


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def record_failure(session_factory: sessionmaker[Session], consumer: str, payload: Any, error: str) -> None:
    """Keep a message a consumer gave up on, whatever shape it has, for administrators.

    When it is about a known idea, a `message.failed` event in the same transaction tells them
    (unless the message was itself about a failure: a failing alert must not raise another).
    """
    fields: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
    idea_id, reference = _int_or_none(fields.get("idea_id")), fields.get("idea_reference")
    correlation_id = _uuid_or_none(fields.get("correlation_id"))
    with unit_of_work(session_factory) as session:
        failed_id = session.execute(
            FailedMessage.__table__.insert()
            .values(
                consumer=consumer,
                event_id=_uuid_or_none(fields.get("event_id")),
                idea_id=idea_id,
                error=error[-4000:],
                payload=json.dumps(payload, default=str),
                failed_at=utcnow(),
            )
            .returning(FailedMessage.__table__.c.id)
        ).scalar_one()
        about_a_failure = str(fields.get("type", "")).startswith(("message.failed.", "notification.failed."))
        if idea_id is not None and isinstance(reference, str) and correlation_id is not None and not about_a_failure:
            outbox.emit(
                session,
                MessageFailedV1(
                    idea_id=idea_id,
                    idea_reference=reference,
                    correlation_id=correlation_id,
                    causation_id=_uuid_or_none(fields.get("event_id")),
                    failed_message_id=failed_id,
                    consumer=consumer,
                    error=error[-500:],
                ),
            )


class Delivery:
    """One message's event on its way through a handler, and how it ended: done, refused, or an error to raise."""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.payload = payload
        self.event: Event | None = None
        self.finished = False
        self.error: BaseException | None = None

    def finish(self, error: BaseException | None = None) -> None:
        self.finished, self.error = True, error

    def outcome(self) -> None:
        """Return if the event was handled (or refused for good); raise what the broker should retry on."""
        if self.error is not None:
            raise self.error


def run_handler(
    stage: StageActor, session_factory: sessionmaker[Session], ctx: StageContext, payload: Mapping[str, Any]
) -> None:
    """Handle one delivery of an event: at most one effect per (consumer, event), whatever is redelivered."""
    delivery = Delivery(payload)
    handle_deliveries(stage, session_factory, ctx, [delivery])
    delivery.outcome()


def handle_deliveries(
    stage: StageActor, session_factory: sessionmaker[Session], ctx: StageContext, deliveries: Sequence[Delivery]
) -> None:
    """Handle these deliveries in one transaction, and finish each: a batch is all or nothing.

    A malformed payload is recorded for administrators and leaves the others. If the handler refuses
    (PermanentError), the batch is rolled back and each delivery is handled again alone, so that only the
    one at fault is recorded as failed. Any other error (the database went away, say) is every delivery's
    error, for the broker to retry each.
    """
    parsed = []
    for delivery in deliveries:
        try:
            delivery.event = parse_event(dict(delivery.payload))
        except (ValidationError, TypeError, ValueError) as exc:  # not even a mapping, or not an event
            log.error("message.malformed", consumer=stage.actor_name, error=str(exc))
            record_failure(session_factory, stage.actor_name, delivery.payload, f"malformed event: {exc}")
            delivery.finish()
            continue
        parsed.append(delivery)
    if not parsed:
        return
    events = [delivery.event for delivery in parsed if delivery.event is not None]
    bind(consumer=stage.actor_name, **(about(events[0]) | {"event_type": events[0].type} if len(events) == 1 else {}))
    try:
        with unit_of_work(session_factory) as session:
            fresh = _first_deliveries(session, stage, events)
            for event in events:
                if event.event_id not in fresh:
                    log.info("message.duplicate_ignored", **about(event))
            todo = [event for event in events if event.event_id in fresh]
            if todo:
                stage.fn(session, todo if stage.batched else todo[0], ctx)
    except PermanentError as exc:
        if len(parsed) > 1:
            log.warning("message.batch_split", events=len(parsed), error=str(exc))
            clear()
            for delivery in parsed:
                handle_deliveries(stage, session_factory, ctx, [delivery])
            return
        log.error("message.refused", error=str(exc))
        record_failure(session_factory, stage.actor_name, parsed[0].payload, f"{type(exc).__name__}: {exc}")
        parsed[0].finish()
        return
    except Exception as exc:
        for delivery in parsed:
            delivery.finish(exc)
        return
    finally:
        clear()
    for delivery in parsed:
        assert delivery.event is not None
        log.info("message.handled", consumer=stage.actor_name, **about(delivery.event))
        delivery.finish()


def _first_deliveries(session: Session, stage: StageActor, events: list[Event]) -> set[uuid.UUID]:
    """The ids of the events this consumer had not handled before, recorded now as handled."""
    if not stage.dedupe:
        return {event.event_id for event in events}
    now = utcnow()
    rows = [{"consumer": stage.actor_name, "event_id": event.event_id, "processed_at": now} for event in events]
    inserted = insert_ignore_many(session, ProcessedMessage.__table__, rows, ProcessedMessage.event_id)
    return {row.event_id for row in inserted}


class GroupCommit:
    """A batched stage actor's deliveries, handled together when they arrive together (a group commit).

    Each worker thread hands in its message and waits. One thread at a time leads: it takes its own
    delivery and those waiting (up to `limit`), and handles them in one transaction while the deliveries
    that arrive meanwhile wait for the next leader. Under light load a delivery is handled alone and at
    once; when every thread is busy, one transaction handles about as many events as there are threads.
    A thread returns only when its own delivery is finished, raising its error if it had one, so the
    broker acknowledges, retries or dead-letters each message as it would without the grouping.
    """

    def __init__(
        self, stage: StageActor, session_factory: sessionmaker[Session], ctx: StageContext, *, limit: int = 64
    ) -> None:
        self.stage = stage
        self.session_factory = session_factory
        self.ctx = ctx
        self.limit = limit
        self._turn = threading.Condition()
        self._waiting: list[Delivery] = []
        self._leading = False

    @property
    def queued(self) -> int:
        """Deliveries waiting for a leader to take them."""
        with self._turn:
            return len(self._waiting)

    def __call__(self, message: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
        """Handle a message's events (one, or the list the relay grouped): return when all are finished."""
        mine = [Delivery(payload) for payload in payloads_of(message)]
        with self._turn:
            self._waiting.extend(mine)
            while self._leading and not all(d.finished for d in mine):
                self._turn.wait()
            if all(d.finished for d in mine):  # a leader handled them
                return _outcome(mine)
            self._leading = True
            batch = self._take(mine)
        try:
            handle_deliveries(self.stage, self.session_factory, self.ctx, batch)
        finally:
            with self._turn:
                for delivery in batch:  # interrupted (a time limit, say): the others are retried by the broker
                    if not delivery.finished:
                        delivery.finish(RuntimeError("interrupted while handling a batch"))
                self._leading = False
                self._turn.notify_all()
        return _outcome(mine)

    def _take(self, mine: list[Delivery]) -> list[Delivery]:
        """The leader's batch, in the order the deliveries arrived: its own, and others up to `limit`."""
        own = {id(d) for d in mine}
        room = self.limit - len(mine)
        batch, left = [], []
        for delivery in self._waiting:
            if id(delivery) in own or room > 0:
                room -= id(delivery) not in own
                batch.append(delivery)
            else:
                left.append(delivery)
        self._waiting = left
        return batch


def payloads_of(message: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A batched actor's message holds a list of events (the relay's grouping), or one event."""
    return [message] if isinstance(message, Mapping) else list(message)


def _outcome(deliveries: list[Delivery]) -> None:
    """Raise the first error among a message's events, for the broker to retry the message (the others are
    recorded as handled, and skipped then)."""
    for delivery in deliveries:
        delivery.outcome()


class RecordFinalFailures(Middleware):
    """After the last retry, put the message where administrators can see it."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        if exception is None or not getattr(message, "failed", False):
            return
        error = "".join(traceback.format_exception(exception))
        for payload in payloads_of(message.args[0] if message.args else {}):
            try:
                record_failure(self.session_factory, message.actor_name, payload, error)
            except Exception:  # the database is the likely cause; the broker's dead-letter queue still has it
                log.exception("message.failure_not_recorded", actor=message.actor_name)


def register(
    broker: dramatiq.Broker,
    stages: list[StageActor],
    session_factory: sessionmaker[Session],
    ctx: StageContext,
) -> list[dramatiq.Actor[Any, Any]]:
    """Declare each stage actor on `broker`, wrapped in the unit of work and dedupe."""
    broker.add_middleware(RecordFinalFailures(session_factory))
    actors = []
    for stage in stages:
        if stage.batched:
            run = GroupCommit(stage, session_factory, ctx)
        else:
            run = functools.partial(run_handler, stage, session_factory, ctx)

        actors.append(
            dramatiq.Actor(
                run,
                broker=broker,
                actor_name=stage.actor_name,
                queue_name=ctx.settings.queue(stage.queue),
                priority=0,
                options={},
            )
        )
    return actors
