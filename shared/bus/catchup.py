"""Catching up with events a topic subscriber never received.

A message on the bus can be lost where the outbox cannot: kombu's Redis transport
takes a message off its list before it records it as unacknowledged, so a consumer
killed between the two loses it; a broker restarted without its data loses every
queued message. The outbox is the record of every event, so a subscriber that
writes a `processed_messages` row for each event it handles can check, from time
to time, that it has seen every event published more than `older_than` ago, and
handle any it has not straight from the outbox. A cursor per consumer remembers
how far it has checked, so each check reads only what is new.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.clock import utcnow
from shared.db.models import ConsumerCursor, OutboxMessage, ProcessedMessage
from shared.db.uow import unit_of_work
from shared.db.util import insert_ignore
from shared.logging import get_logger

log = get_logger("ideahub.bus")


def catch_up(
    session_factory: sessionmaker[Session],
    consumer: str,
    handle: Callable[[Mapping[str, Any]], None],
    *,
    older_than: timedelta,
    batch: int = 500,
) -> int:
    """Handle the published events `consumer` has no record of; how many it had missed."""
    with unit_of_work(session_factory) as session:
        insert_ignore(session, ConsumerCursor.__table__, {"consumer": consumer, "position": 0, "updated_at": utcnow()})
        position = session.scalar(select(ConsumerCursor.position).where(ConsumerCursor.consumer == consumer)) or 0
        rows = session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.payload,
                OutboxMessage.published_at,
                ProcessedMessage.event_id.label("seen"),
            )
            .outerjoin(
                ProcessedMessage,
                and_(ProcessedMessage.consumer == consumer, ProcessedMessage.event_id == OutboxMessage.event_id),
            )
            .where(OutboxMessage.id > position)
            .order_by(OutboxMessage.id)
            .limit(batch)
        ).all()
    horizon = utcnow() - older_than
    checked, missed = position, 0
    for row in rows:
        # The relay publishes in id order: stop at the first event the bus may still be delivering.
        if row.published_at is None or row.published_at > horizon:
            break
        if row.seen is None:
            payload = json.loads(row.payload)
            log.warning("bus.missed_event_caught_up", consumer=consumer, event_id=payload.get("event_id"))
            handle(payload)
            missed += 1
        checked = row.id
    if checked > position:
        with unit_of_work(session_factory) as session:
            session.execute(
                update(ConsumerCursor)
                .where(ConsumerCursor.consumer == consumer, ConsumerCursor.position < checked)
                .values(position=checked, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
    return missed
