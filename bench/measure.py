"""What happened, read from the scratch database: progress of a batch of ideas, their timings, percentiles."""

# ruff: noqa: T201
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from shared.db.models import Idea, Notification, OutboxMessage, StatusChange

# Notify sends four emails an idea here: the acknowledgement, "your idea is in review", and one to each of
# the two reviewers assigned.
EMAILS_PER_IDEA = 4
ACKNOWLEDGEMENT = "submitter/received"


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def wait_for(check: Callable[[], bool], *, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


@dataclass
class Progress:
    in_review: int
    acknowledged: int

    def done(self, count: int) -> bool:
        return self.in_review >= count and self.acknowledged >= count


def progress(engine: Engine, lo: int, hi: int) -> Progress:
    with engine.connect() as conn:
        in_review = conn.scalar(
            select(func.count(func.distinct(StatusChange.idea_id))).where(
                StatusChange.idea_id.between(lo, hi), StatusChange.to_status == "in_review"
            )
        )
        acknowledged = conn.scalar(
            select(func.count()).where(
                Notification.idea_id.between(lo, hi),
                Notification.template == ACKNOWLEDGEMENT,
                Notification.state == "sent",
            )
        )
    return Progress(int(in_review or 0), int(acknowledged or 0))


def idle(engine: Engine) -> bool:
    """Nothing left to do: every event published, every idea screened and every email sent."""
    with engine.connect() as conn:
        unpublished = conn.scalar(select(func.count()).where(OutboxMessage.published_at.is_(None)))
        ideas = conn.scalar(select(func.count()).select_from(Idea))
        received = conn.scalar(select(func.count()).where(Idea.status == "received"))
        sent = conn.scalar(select(func.count()).where(Notification.state == "sent"))
    return not unpublished and not received and (sent or 0) >= EMAILS_PER_IDEA * (ideas or 0)


def wait_done(engine: Engine, ids: list[int], timeout: float, label: str, alive: Callable[[], bool]) -> Progress:
    """Until every idea in `ids` is in review and acknowledged, `timeout` passes, or `alive()` turns false."""
    lo, hi = (min(ids), max(ids)) if ids else (0, -1)
    deadline = time.monotonic() + timeout
    last_report = time.monotonic()
    state = progress(engine, lo, hi)
    while not state.done(len(ids)) and time.monotonic() < deadline and alive():
        time.sleep(0.25)
        state = progress(engine, lo, hi)
        if time.monotonic() - last_report > 15:
            print(f"  {label}: {state.in_review}/{len(ids)} in review, {state.acknowledged}/{len(ids)} acknowledged")
            last_report = time.monotonic()
    return state


@dataclass
class Timings:
    """Epoch seconds by idea id; `last_email` is the latest `sent_at` of any email about it."""

    created: dict[int, float]
    in_review: dict[int, float]
    acknowledged: dict[int, float]
    published: dict[int, float]
    last_email: float


def timings(engine: Engine, ids: list[int]) -> Timings:
    lo, hi = (min(ids), max(ids)) if ids else (0, -1)
    in_range = StatusChange.idea_id.between(lo, hi)
    with engine.connect() as conn:
        created = conn.execute(select(Idea.id, Idea.created_at).where(Idea.id.between(lo, hi))).all()
        in_review = conn.execute(
            select(StatusChange.idea_id, StatusChange.at).where(in_range, StatusChange.to_status == "in_review")
        ).all()
        emails = conn.execute(
            select(Notification.idea_id, Notification.template, Notification.sent_at).where(
                Notification.idea_id.between(lo, hi), Notification.state == "sent"
            )
        ).all()
        published = conn.execute(
            select(OutboxMessage.idea_id, OutboxMessage.published_at).where(
                OutboxMessage.idea_id.between(lo, hi),
                OutboxMessage.event_type == "idea.received.v1",
                OutboxMessage.published_at.is_not(None),
            )
        ).all()
    return Timings(
        created={i: at.timestamp() for i, at in created},
        in_review={i: at.timestamp() for i, at in in_review},
        acknowledged={i: at.timestamp() for i, template, at in emails if template == ACKNOWLEDGEMENT},
        published={i: at.timestamp() for i, at in published},
        last_email=max((at.timestamp() for _i, _t, at in emails), default=0.0),
    )


def delays(start: dict[int, float], end: dict[int, float]) -> list[float]:
    return [end[i] - start[i] for i in start if i in end]
