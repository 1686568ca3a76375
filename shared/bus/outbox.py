"""`emit()` writes an event into the outbox in the caller's transaction; only the relay publishes it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shared.contracts.events import EventBase
from shared.db.models import OutboxMessage

_INSERT = OutboxMessage.__table__.insert()


def emit(session: Session, *events: EventBase) -> None:
    if not events:
        return
    session.connection().execute(
        _INSERT,
        [
            {
                "event_id": event.event_id,
                "event_type": event.type,
                "idea_id": event.idea_id,
                "payload": event.model_dump_json(),
                "created_at": event.occurred_at,
            }
            for event in events
        ],
    )
