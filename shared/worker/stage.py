"""Stage actors: how a service declares the work it does for each event it subscribes to.

A service writes `@stage_actor(queue="review")` over a handler `fn(session, event, ctx)`
and lists in its `subscriptions.py` which events reach it. The composition root
registers the actors with the broker (`register`) and gives the relay its routes
(`routes`); nothing here is bound to a broker at import time.

The wrapper owns the transaction: it records the event id for this consumer in
the same transaction as the handler's effect, so a redelivered message is a no-op.
A PermanentError is not retried: it is rolled back and recorded in
`failed_messages` for administrators.
"""

from __future__ import annotations

import functools
import json
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from shared.bus import outbox
from shared.bus.relay import Route
from shared.config import Settings
from shared.contracts.events import Event, MessageFailedV1, parse_event, utcnow
from shared.db.models import FailedMessage, ProcessedMessage
from shared.db.uow import unit_of_work
from shared.db.util import insert_ignore
from shared.errors import PermanentError
from shared.logging import bind, clear, get_logger

log = get_logger("ideahub.worker")


@dataclass(frozen=True)
class StageContext:
    """What every handler may use besides its session: the settings (and through them, the clock)."""

    settings: Settings


Handler = Callable[[Session, Any, StageContext], None]


@dataclass(frozen=True)
class StageActor:
    fn: Handler
    actor_name: str
    queue: str
    # False only for a handler whose effect is itself keyed by the event (a notification row keyed by
    # event, recipient and channel, say): a second delivery then finds that key, and a separate
    # processed_messages row would be a second write of the same fact.
    dedupe: bool = True


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


def stage_actor(*, queue: str, name: str | None = None, dedupe: bool = True) -> Callable[[Handler], StageActor]:
    def wrap(fn: Handler) -> StageActor:
        return StageActor(fn=fn, actor_name=name or f"{queue}.{fn.__name__}", queue=queue, dedupe=dedupe)

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


def record_failure(
    session_factory: sessionmaker[Session], consumer: str, payload: Mapping[str, Any], error: str
) -> None:
    """Keep a message a consumer gave up on, whatever shape it has, for administrators.

    When it is about a known idea, a `message.failed` event in the same transaction tells them
    (unless the message was itself about a failure: a failing alert must not raise another).
    """
    idea_id, reference = _int_or_none(payload.get("idea_id")), payload.get("idea_reference")
    correlation_id = _uuid_or_none(payload.get("correlation_id"))
    with unit_of_work(session_factory) as session:
        failed_id = session.execute(
            FailedMessage.__table__.insert()
            .values(
                consumer=consumer,
                event_id=_uuid_or_none(payload.get("event_id")),
                idea_id=idea_id,
                error=error[-4000:],
                payload=json.dumps(payload, default=str),
                failed_at=utcnow(),
            )
            .returning(FailedMessage.__table__.c.id)
        ).scalar_one()
        about_a_failure = str(payload.get("type", "")).startswith(("message.failed.", "notification.failed."))
        if idea_id is not None and isinstance(reference, str) and correlation_id is not None and not about_a_failure:
            outbox.emit(
                session,
                MessageFailedV1(
                    idea_id=idea_id,
                    idea_reference=reference,
                    correlation_id=correlation_id,
                    causation_id=_uuid_or_none(payload.get("event_id")),
                    failed_message_id=failed_id,
                    consumer=consumer,
                    error=error[-500:],
                ),
            )


def run_handler(
    stage: StageActor, session_factory: sessionmaker[Session], ctx: StageContext, payload: Mapping[str, Any]
) -> None:
    """Handle one delivery of an event: at most one effect per (consumer, event), whatever is redelivered."""
    try:
        event: Event = parse_event(dict(payload))
    except ValidationError as exc:
        log.error("message.malformed", consumer=stage.actor_name, error=str(exc))
        record_failure(session_factory, stage.actor_name, payload, f"malformed event: {exc}")
        return
    bind(
        consumer=stage.actor_name,
        event_id=str(event.event_id),
        event_type=event.type,
        idea_reference=event.idea_reference,
        correlation_id=str(event.correlation_id),
    )
    try:
        with unit_of_work(session_factory) as session:
            first = not stage.dedupe or insert_ignore(
                session,
                ProcessedMessage.__table__,
                {"consumer": stage.actor_name, "event_id": event.event_id, "processed_at": utcnow()},
            )
            if not first:
                log.info("message.duplicate_ignored")
                return
            stage.fn(session, event, ctx)
        log.info("message.handled")
    except PermanentError as exc:
        log.error("message.refused", error=str(exc))
        record_failure(session_factory, stage.actor_name, payload, f"{type(exc).__name__}: {exc}")
    finally:
        clear()


class RecordFinalFailures(Middleware):
    """After the last retry, put the message where administrators can see it."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        if exception is None or not getattr(message, "failed", False):
            return
        payload = message.args[0] if message.args else {}
        error = "".join(traceback.format_exception(exception))
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

        def run(payload: dict[str, Any], _stage: StageActor = stage) -> None:
            run_handler(_stage, session_factory, ctx, payload)

        run.__name__ = stage.actor_name
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
