"""Failed messages: what a consumer gave up on, listed for administrators, retried or discarded by them.

A failure is kept with its event, its "handled" record (so that nothing tries it again by itself) and, when it
is about an idea, a `message.failed` event that told the administrators (docs/decisions/0004). Retrying removes
that record and hands the event to the same consumer again, here and now, through the same exactly-once
core as the worker: it is handled once, or it fails again and is recorded again. Discarding keeps the row,
with who discarded it and why. Either is recorded on the idea's timeline.

This lives in the composition root because it must know every consumer: the stage actors and notify.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from infra.composition import all_subscriptions
from services.notify.handlers import CONSUMER as NOTIFY
from services.notify.handlers import handle_events, notifier_for
from shared import lifecycle
from shared.bus import outbox
from shared.bus.exactly_once import Delivery, handle_once
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import AdminActionV1
from shared.db.models import FailedMessage, Idea, ProcessedMessage
from shared.db.states import claim
from shared.db.uow import unit_of_work
from shared.errors import Conflict, NotFound
from shared.paging import Page, PageRequest
from shared.principal import Principal
from shared.worker.declare import StageContext
from shared.worker.stage import consumer_of

_failures = FailedMessage.__table__
State = Literal["open", "resolved", "all"]


@dataclass(frozen=True)
class FailureView:
    id: int
    consumer: str
    event_id: str | None
    event_type: str | None
    idea_id: int | None
    idea_reference: str | None
    error: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    resolution: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_reason: str | None


def _view(row: FailedMessage) -> FailureView:
    payload: dict[str, Any] = {}
    try:
        loaded = json.loads(row.payload)
        payload = loaded if isinstance(loaded, dict) else {}
    except ValueError:
        pass
    return FailureView(
        id=row.id,
        consumer=row.consumer,
        event_id=str(row.event_id) if row.event_id else None,
        event_type=str(payload.get("type")) if payload.get("type") else None,
        idea_id=row.idea_id,
        idea_reference=str(payload.get("idea_reference")) if payload.get("idea_reference") else None,
        error=row.error,
        attempts=row.attempts,
        first_failed_at=row.failed_at,
        last_failed_at=row.last_failed_at or row.failed_at,
        resolution=row.resolution,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution_reason=row.resolution_reason,
    )


def failures(
    session: Session, *, state: State = "open", consumer: str | None = None, page: PageRequest
) -> Page[FailureView]:
    """Failed messages, newest first: those still to be dealt with, those resolved, or all."""
    query = select(FailedMessage).order_by(FailedMessage.id.desc())
    if state == "open":
        query = query.where(FailedMessage.resolved_at.is_(None))
    elif state == "resolved":
        query = query.where(FailedMessage.resolved_at.is_not(None))
    if consumer:
        query = query.where(FailedMessage.consumer == consumer)
    rows = page.page(session.scalars(query.limit(page.limit).offset(page.offset)).all())
    return Page([_view(row) for row in rows.items], rows.number, rows.size, rows.has_next)


def consumers() -> list[str]:
    """The consumers a message can fail in today: each stage actor, and notify."""
    return sorted({s.actor.actor_name for s in all_subscriptions()} | {NOTIFY})


def count_open(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(FailedMessage.resolved_at.is_(None))) or 0)


def one(session: Session, failure_id: int) -> FailureView:
    return _view(_row(session, failure_id))


def _row(session: Session, failure_id: int) -> FailedMessage:
    row = session.get(FailedMessage, failure_id)
    if row is None:
        raise NotFound(f"there is no failed message {failure_id}")
    return row


def _resolve(
    session: Session, row: FailedMessage, resolution: str, *, admin: Principal, reason: str | None
) -> dict[str, Any] | None:
    """Mark the failure resolved (once: a second administrator is told it already was); its payload if an event."""
    resolve = (
        _failures.update()
        .where(_failures.c.id == row.id, _failures.c.resolved_at.is_(None))
        .values(resolved_at=utcnow(), resolution=resolution, resolved_by=admin.email, resolution_reason=reason)
    )
    if claim(session, resolve) != 1:
        raise Conflict(f"failed message {row.id} was {row.resolution or 'resolved'} already")
    try:
        payload = json.loads(row.payload)
    except ValueError:
        return None
    idea_known = row.idea_id is not None and session.get(Idea, row.idea_id) is not None
    if isinstance(payload, dict) and row.idea_id is not None and idea_known:
        idea = lifecycle.load(session, row.idea_id)
        outbox.emit(
            session,
            AdminActionV1.about(
                idea,
                action=f"failure_{resolution}",
                by_id=admin.id,
                by_name=admin.name,
                reason=reason,
                detail={"failed_message_id": row.id, "consumer": row.consumer, "event_type": payload.get("type")},
            ),
        )
    return payload if isinstance(payload, dict) else None


def discard(session: Session, failure_id: int, *, admin: Principal, reason: str) -> None:
    """Give up on a failed message for good, with the reason; the row stays as a record."""
    _resolve(session, _row(session, failure_id), "discarded", admin=admin, reason=reason)


Handle = Callable[[dict[str, Any]], bool]


def _handler(settings: Settings, session_factory: sessionmaker[Session], consumer: str) -> Handle:
    """The consumer's handling of one event, as its worker does it; True if handled, False if it failed again."""
    if consumer == NOTIFY:
        notifier = notifier_for(settings, session_factory)

        def notify(payload: dict[str, Any]) -> bool:
            handle_events(notifier, [payload])
            return True

        return notify
    actors = {s.actor.actor_name: s.actor for s in all_subscriptions()}
    if consumer not in actors:
        raise Conflict(f"no consumer is called {consumer!r} any more: discard the message instead")
    core = consumer_of(actors[consumer], StageContext(settings))

    def stage(payload: dict[str, Any]) -> bool:
        delivery = Delivery(payload)
        handle_once(core, session_factory, [delivery])
        delivery.outcome()
        return True

    return stage


@dataclass(frozen=True)
class Retried:
    failure_id: int
    handled: bool
    # When it failed again: the new failure's id (a new row to look at), or the error that will be retried.
    failed_again: int | None = None
    error: str | None = None


def retry(settings: Settings, session_factory: sessionmaker[Session], failure_id: int, *, admin: Principal) -> Retried:
    """Hand a failed message's event to its consumer again, idempotently: once handled, it has no second effect."""
    with unit_of_work(session_factory) as session:
        row = _row(session, failure_id)
        if row.event_id is None:
            raise Conflict(f"failed message {failure_id} is not an event that can be handled: discard it instead")
        consumer = row.consumer
        handle = _handler(settings, session_factory, consumer)
        payload = _resolve(session, row, "retried", admin=admin, reason=None)
        if payload is None:
            raise Conflict(f"failed message {failure_id} is not an event that can be handled: discard it instead")
        # The failure counted as handled; handled again, it must not find that record.
        session.execute(
            delete(ProcessedMessage).where(
                ProcessedMessage.consumer == consumer, ProcessedMessage.event_id == row.event_id
            )
        )
    try:
        handle(payload)
    except Exception as exc:  # not its fault (the database went away, say): open again for a later retry
        with unit_of_work(session_factory) as session:
            session.execute(
                _failures.update()
                .where(_failures.c.id == failure_id)
                .values(resolved_at=None, resolution=None, resolved_by=None, error=f"retry failed: {exc}"[-4000:])
            )
        return Retried(failure_id, handled=False, error=str(exc))
    with unit_of_work(session_factory) as session:
        again = session.scalar(
            select(FailedMessage.id).where(
                FailedMessage.consumer == consumer,
                FailedMessage.event_id == row.event_id,
                FailedMessage.resolved_at.is_(None),
            )
        )
    return Retried(failure_id, handled=again is None, failed_again=again)
