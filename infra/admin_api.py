"""Administration: the pipeline at a glance. It reads across every stage, so it lives in the composition root."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.db.models import (
    RESENDABLE,
    FailedMessage,
    Idea,
    Notification,
    Offer,
    OfferState,
    OutboxMessage,
    ReviewTask,
    TaskState,
)
from shared.errors import NotFound
from shared.lifecycle import Status
from shared.paging import Page, PageRequest
from shared.principal import Principal
from shared.web.deps import require, uow
from shared.web.paging import Paging, link_next
from shared.worker.broker import queue_depths

router = APIRouter(prefix="/api/v1/admin", tags=["administration"])


class FailedView(BaseModel):
    id: int
    consumer: str
    idea_id: int | None
    error: str
    failed_at: datetime


class Pipeline(BaseModel):
    ideas_by_status: dict[str, int]
    overdue: dict[str, int]
    queue_depths: dict[str, int]
    failed_messages: list[FailedView]
    # Failed or unconfirmed notifications: listed at /api/v1/admin/notifications, resendable there.
    failed_notifications: int


class TimelineEntry(BaseModel):
    """One event of an idea, as committed: what happened, when, and whether it has been published yet."""

    event_id: str
    type: str
    occurred_at: datetime
    published: bool
    data: dict[str, Any]


# The envelope every event carries: shown once per entry, not repeated in `data`.
_ENVELOPE = {"event_id", "type", "version", "occurred_at", "idea_id", "idea_reference", "correlation_id"}


def timeline(session: Session, reference: str, *, page: PageRequest) -> Page[TimelineEntry]:
    """Every event about an idea in the order it was committed, a page at a time: status changes, assignments,
    reminders, escalations, offers, administrators' actions, notifications that failed. The outbox is the idea's
    full history."""
    idea_id = session.scalar(select(Idea.id).where(Idea.reference == reference))
    if idea_id is None:
        raise NotFound(f"no idea with reference {reference}")
    rows = page.page(
        session.execute(
            select(OutboxMessage.payload, OutboxMessage.published_at)
            .where(OutboxMessage.idea_id == idea_id)
            .order_by(OutboxMessage.id)
            .limit(page.limit)
            .offset(page.offset)
        ).all()
    )
    entries = []
    for payload, published_at in rows.items:
        event = json.loads(payload)
        entries.append(
            TimelineEntry(
                event_id=event["event_id"],
                type=event["type"],
                occurred_at=event["occurred_at"],
                published=published_at is not None,
                data={k: v for k, v in event.items() if k not in _ENVELOPE},
            )
        )
    return Page(entries, rows.number, rows.size, rows.has_next)


def ping_broker(runtime: Any) -> None:
    from kombu import Connection

    with Connection(runtime.settings.effective_broker_url, connect_timeout=2) as connection:
        connection.ensure_connection(max_retries=1)


def pipeline(session: Session, *, now: datetime, depths: dict[str, int]) -> Pipeline:
    counts = dict(session.execute(select(Idea.status, func.count()).group_by(Idea.status)).all())
    overdue_reviews = session.scalar(
        select(func.count()).where(ReviewTask.state == TaskState.OPEN, ReviewTask.due_at < now)
    )
    overdue_offers = session.scalar(select(func.count()).where(Offer.state == OfferState.OPEN, Offer.due_at < now))
    failed = session.scalars(
        select(FailedMessage).where(FailedMessage.resolved_at.is_(None)).order_by(FailedMessage.id.desc()).limit(50)
    ).all()
    failed_notifications = session.scalar(select(func.count()).where(Notification.state.in_(RESENDABLE)))
    return Pipeline(
        ideas_by_status={s.value: int(counts.get(s.value, 0)) for s in Status},
        overdue={"review_tasks": overdue_reviews or 0, "offers": overdue_offers or 0},
        queue_depths=depths,
        failed_notifications=failed_notifications or 0,
        failed_messages=[
            FailedView(id=f.id, consumer=f.consumer, idea_id=f.idea_id, error=f.error[:500], failed_at=f.failed_at)
            for f in failed
        ],
    )


def current_depths(runtime: Any) -> dict[str, int]:
    from kombu import Connection

    from infra.composition import queue_names

    try:
        depths = queue_depths(runtime.broker, queue_names(runtime.settings))
        with Connection(runtime.settings.effective_broker_url, connect_timeout=2) as connection:
            channel = connection.default_channel
            for queue in runtime.topic_queues():  # subscribers on the topic exchange, such as notify
                # Declaring is idempotent (the relay declares the same queue); a passive check fails on Redis
                # for an empty queue, which has no key.
                depths[queue.name] = int(queue(channel).queue_declare().message_count)
        return depths
    except Exception:  # the broker is away: say so by leaving the depths out
        return {}


@router.get("/pipeline", response_model=Pipeline)
def get_pipeline(request: Request, _admin: Annotated[Principal, Depends(require("admin"))]) -> Pipeline:
    depths = current_depths(request.app.state.runtime)
    with uow(request) as session:
        return pipeline(session, now=utcnow(), depths=depths)


@router.get("/ideas/{reference}/timeline", response_model=list[TimelineEntry])
def get_timeline(
    request: Request,
    response: Response,
    reference: str,
    paging: Paging,
    _admin: Annotated[Principal, Depends(require("admin"))],
) -> list[TimelineEntry]:
    """An idea's events, oldest first, a page at a time (a `Link` header names the next page)."""
    with uow(request) as session:
        page = timeline(session, reference, page=paging)
    link_next(request, response, page)
    return page.items
