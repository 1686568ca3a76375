"""The decision rule: when every awaited review is in (or a deadline passed with some in), accept or reject.

The rule and its thresholds are configuration (`IDEAHUB_DECISION_MIN_MEAN`, `..._MIN_ACCEPT_SHARE`); the
reasons given are the reviewers' comments, never their names or private notes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from shared import lifecycle
from shared.config import Settings
from shared.contracts.events import (
    EventBase,
    ReviewSubmittedV1,
)
from shared.db.models import (
    WAITING,
    Review,
    ReviewTask,
    TaskState,
)
from shared.logging import get_logger

log = get_logger("ideahub.review")
Status = lifecycle.Status


@dataclass(frozen=True)
class Decision:
    accept: bool
    mean: float
    accept_share: float
    reasons: list[str]


def decide_rule(reviews: list[Review], *, min_mean: float, min_accept_share: float) -> Decision:
    """Mean overall score at least `min_mean` and more than `min_accept_share` recommending accept."""
    overall = [(r.impact + r.feasibility + r.cost + r.evidence) / 4 for r in reviews]
    mean = sum(overall) / len(overall)
    share = sum(r.recommendation == "accept" for r in reviews) / len(reviews)
    return Decision(
        accept=mean >= min_mean and share > min_accept_share,
        mean=round(mean, 2),
        accept_share=share,
        reasons=[r.comment for r in reviews],
    )


def reviews_in(session: Session, idea_id: int) -> list[Review]:
    """The reviews that count: those of finished tasks (a question's review waits for the answer)."""
    return list(
        session.scalars(
            select(Review)
            .join(ReviewTask, ReviewTask.id == Review.task_id)
            .where(Review.idea_id == idea_id, ReviewTask.state == TaskState.DONE)
            .order_by(Review.id)
        )
    )


def apply_decision(
    session: Session,
    idea: lifecycle.IdeaState,
    reviews: list[Review],
    *,
    settings: Settings,
    cause: EventBase | None,
    note: str = "",
) -> None:
    """Move the idea on by the decision rule; the reasons are the reviewers' comments, never names or notes."""
    decision = decide_rule(
        reviews, min_mean=settings.decision_min_mean, min_accept_share=settings.decision_min_accept_share
    )
    target = Status.MATCHING if decision.accept else Status.REJECTED
    lifecycle.transition(
        session,
        idea,
        target,
        reason=f"mean score {decision.mean}, {decision.accept_share:.0%} recommended accepting{note}",
        reasons=decision.reasons,
        actor="review",
        cause=cause,
    )
    log.info("review.decided", outcome=target.value, mean=decision.mean, reviews=len(reviews))


def decide_if_complete(
    session: Session, idea: lifecycle.IdeaState, *, settings: Settings, cause: EventBase | None
) -> bool:
    """When no assigned review is still awaited, apply the decision rule; True if it was applied."""
    if idea.status is not Status.IN_REVIEW:
        return False
    waiting = session.scalar(
        select(func.count()).where(and_(ReviewTask.idea_id == idea.id, ReviewTask.state.in_(WAITING)))
    )
    if waiting:
        log.info("review.waiting_for_reviews", open=waiting)
        return False
    reviews = reviews_in(session, idea.id)
    if not reviews:
        return False
    apply_decision(session, idea, reviews, settings=settings, cause=cause)
    return True


def decide(session: Session, event: ReviewSubmittedV1, *, settings: Settings) -> None:
    """When every assigned review is in, apply the decision rule."""
    decide_if_complete(session, lifecycle.load(session, event.idea_id), settings=settings, cause=event)
