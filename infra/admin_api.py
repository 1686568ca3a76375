"""Administration: the pipeline at a glance. It reads across every stage, so it lives in the composition root."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.contracts.events import utcnow
from shared.db.models import FailedMessage, Idea, Notification, Offer, ReviewTask
from shared.lifecycle import Status
from shared.web.deps import Principal, require, uow
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


def ping_broker(runtime: Any) -> None:
    from kombu import Connection

    with Connection(runtime.settings.effective_broker_url, connect_timeout=2) as connection:
        connection.ensure_connection(max_retries=1)


def pipeline(session: Session, *, now: datetime, depths: dict[str, int]) -> Pipeline:
    counts = dict(session.execute(select(Idea.status, func.count()).group_by(Idea.status)).all())
    overdue_reviews = session.scalar(select(func.count()).where(ReviewTask.state == "open", ReviewTask.due_at < now))
    overdue_offers = session.scalar(select(func.count()).where(Offer.state == "open", Offer.due_at < now))
    failed = session.scalars(
        select(FailedMessage).where(FailedMessage.resolved_at.is_(None)).order_by(FailedMessage.id.desc()).limit(50)
    ).all()
    failed_notifications = session.scalar(select(func.count()).where(Notification.state.in_(("failed", "unconfirmed"))))
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
