"""Exactly-once handling of events: one core for every consumer, the stage actors and notify alike.

At-least-once delivery (the relay may publish an event twice, a broker redelivers what a dead worker
held, notify's catch-up reads missed events from the outbox) becomes exactly-once effects here:

- the event id is recorded for the consumer in `processed_messages` in the same transaction as the
  handler's effect, so a second delivery finds its record and changes nothing
  (docs/decisions: exactly-once through handled-message records);
- deliveries that arrive together are handled in one transaction, all or nothing; when the handler
  refuses one of them for good (one of the consumer's `refusals`), the batch is rolled back and each
  is handled alone, so that only the one at fault fails;
- an event refused for good, or a payload that is not an event, is kept in `failed_messages` for
  administrators, with its "handled" record (so that a redelivery or the catch-up does not try it
  again) and, when it is about an idea, a `message.failed` event that tells them;
- any other error (the database went away, say) is every delivery's, for the caller to retry.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared.bus import outbox
from shared.bus.stats import STATS
from shared.clock import utcnow
from shared.contracts.events import EVENT_TYPES, Event, MessageFailedV1, parse_event
from shared.db.models import FailedMessage, ProcessedMessage
from shared.db.uow import unit_of_work
from shared.db.util import insert_ignore_many
from shared.errors import PermanentError
from shared.logging import about, bind, clear, get_logger

log = get_logger("ideahub.consumer")

R = TypeVar("R")


@dataclass(frozen=True)
class Consumer(Generic[R]):
    """A consumer of events: its name (the key of its "handled" records) and what it does with fresh events.

    `handle(session, events)` runs in the transaction that records the events as handled, with only
    those this consumer had not handled before, and never commits; what it returns is handed back
    to the caller once committed (notify returns the notifications to deliver). `refusals` are the
    errors retrying cannot mend. With `ignore_unknown`, an event type this code does not know (another
    system's event on a shared exchange, or a newer version) is skipped rather than recorded as failed.
    """

    name: str
    handle: Callable[[Session, list[Event]], R]
    refusals: tuple[type[BaseException], ...] = (PermanentError,)
    ignore_unknown: bool = False


class Delivery:
    """One message's event on its way through a consumer, and how it ended: done, refused, or an error to raise."""

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


def handle_once(
    consumer: Consumer[R], session_factory: sessionmaker[Session], deliveries: Sequence[Delivery]
) -> list[R]:
    """Handle these deliveries in one transaction, and finish each; the results of the transactions committed.

    Usually one transaction, so one result; after a refusal split the batch, one for each event handled.
    """
    parsed = [delivery for delivery in deliveries if _parse(consumer, session_factory, delivery)]
    if not parsed:
        return []
    events = list({d.event.event_id: d.event for d in parsed if d.event is not None}.values())
    started = time.perf_counter()
    bind(consumer=consumer.name, **(about(events[0]) | {"event_type": events[0].type} if len(events) == 1 else {}))
    try:
        with unit_of_work(session_factory) as session:
            fresh = _record_handled(session, consumer.name, events)
            for event in events:
                if event.event_id not in fresh:
                    log.info("message.duplicate_ignored", **about(event))
            todo = [event for event in events if event.event_id in fresh]
            result = consumer.handle(session, todo) if todo else None
    except consumer.refusals as exc:
        clear()
        if len(parsed) > 1:
            log.warning("message.batch_split", consumer=consumer.name, events=len(parsed), error=str(exc))
            return [r for delivery in parsed for r in handle_once(consumer, session_factory, [delivery])]
        log.error("message.refused", consumer=consumer.name, error=str(exc), **about(events[0]))
        record_failure(session_factory, consumer.name, parsed[0].payload, f"{type(exc).__name__}: {exc}")
        STATS.add(consumer.name, failures=1, seconds=time.perf_counter() - started)
        parsed[0].finish()
        return []
    except Exception as exc:
        clear()
        for delivery in parsed:
            delivery.finish(exc)
        return []
    clear()
    STATS.add(consumer.name, handled=len(parsed), seconds=time.perf_counter() - started)
    for delivery in parsed:
        assert delivery.event is not None
        log.info("message.handled", consumer=consumer.name, **about(delivery.event))
        delivery.finish()
    return [result] if result is not None else []


def _parse(consumer: Consumer[Any], session_factory: sessionmaker[Session], delivery: Delivery) -> bool:
    """Read the delivery's event; False (and the delivery finished) when there is none to handle."""
    payload = delivery.payload
    if consumer.ignore_unknown and isinstance(payload, Mapping) and payload.get("type") not in EVENT_TYPES:
        log.debug("message.unknown_type_ignored", consumer=consumer.name, type=payload.get("type"))
        delivery.finish()
        return False
    try:
        delivery.event = parse_event(dict(payload))
    except (ValidationError, TypeError, ValueError) as exc:  # not even a mapping, or not an event
        log.error("message.malformed", consumer=consumer.name, error=str(exc))
        record_failure(session_factory, consumer.name, payload, f"malformed event: {exc}")
        STATS.add(consumer.name, failures=1)
        delivery.finish()
        return False
    return True


def _record_handled(session: Session, consumer: str, events: Sequence[Event]) -> set[uuid.UUID]:
    """The ids of the events this consumer had not handled before, recorded now as handled (one statement)."""
    now = utcnow()
    rows = [{"consumer": consumer, "event_id": event.event_id, "processed_at": now} for event in events]
    inserted = insert_ignore_many(session, ProcessedMessage.__table__, rows, ProcessedMessage.event_id)
    return {row.event_id for row in inserted}


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def record_failure(session_factory: sessionmaker[Session], consumer: str, payload: Any, error: str) -> None:
    """Keep a message a consumer gave up on, whatever shape it has, for administrators.

    In the same transaction: its "handled" record, so that the event is not tried again by itself
    (an administrator retries it), and, when it is about a known idea, a `message.failed` event that
    tells them (unless the message was itself about a failure: a failing alert must not raise another).
    """
    fields: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
    idea_id, reference = _int_or_none(fields.get("idea_id")), fields.get("idea_reference")
    correlation_id = _uuid_or_none(fields.get("correlation_id"))
    event_id = _uuid_or_none(fields.get("event_id"))
    now = utcnow()
    with unit_of_work(session_factory) as session:
        table = FailedMessage.__table__
        open_row = (
            session.scalar(
                select(table.c.id).where(
                    table.c.consumer == consumer, table.c.event_id == event_id, table.c.resolved_at.is_(None)
                )
            )
            if event_id is not None
            else None
        )
        if open_row is not None:  # the same event failed again (a retry by dramatiq, say): one row, counted
            session.execute(
                table.update()
                .where(table.c.id == open_row)
                .values(attempts=table.c.attempts + 1, last_failed_at=now, error=error[-4000:])
            )
            return
        failed_id = session.execute(
            table.insert()
            .values(
                consumer=consumer,
                event_id=event_id,
                idea_id=idea_id,
                error=error[-4000:],
                payload=json.dumps(payload, default=str),
                failed_at=now,
                last_failed_at=now,
                attempts=1,
            )
            .returning(table.c.id)
        ).scalar_one()
        if event_id is not None:
            row = {"consumer": consumer, "event_id": event_id, "processed_at": utcnow()}
            insert_ignore_many(session, ProcessedMessage.__table__, [row], ProcessedMessage.event_id)
        about_a_failure = str(fields.get("type", "")).startswith(("message.failed.", "notification.failed."))
        if idea_id is not None and isinstance(reference, str) and correlation_id is not None and not about_a_failure:
            outbox.emit(
                session,
                MessageFailedV1(
                    idea_id=idea_id,
                    idea_reference=reference,
                    correlation_id=correlation_id,
                    causation_id=event_id,
                    failed_message_id=failed_id,
                    consumer=consumer,
                    error=error[-500:],
                ),
            )
