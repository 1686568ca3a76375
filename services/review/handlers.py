"""Screening, assignment, scoring and the decision rule. Handlers take a session and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import Select, and_, bindparam, case, func, select, update
from sqlalchemy.orm import Session

from services.review import similarity
from services.review.schemas import ReviewIn, TaskView
from shared import lifecycle
from shared.bus import outbox
from shared.config import Settings
from shared.contracts.events import IdeaReceivedV1, ReviewAssignedV1, ReviewSubmittedV1, utcnow
from shared.db.models import Idea, Person, Review, ReviewTask
from shared.errors import Conflict, NotFound
from shared.logging import get_logger
from shared.web.deps import Principal
from shared.workdays import deadline

log = get_logger("ideahub.review")
_NEW_TASKS = ReviewTask.__table__.insert().returning(ReviewTask.__table__.c.id)
Status = lifecycle.Status


_people = Person.__table__


@cache
def _reviewer_choice(count: int) -> Select[tuple[int]]:
    """Built once per count: a NULL department or theme matches nobody, so it sorts everyone alike."""
    return (
        select(_people.c.id)
        .where(_people.c.role == "reviewer", _people.c.active.is_(True), _people.c.email != bindparam("exclude"))
        .order_by(
            case((_people.c.department == bindparam("department"), 0), else_=1),
            case((_people.c.themes.contains(bindparam("theme")), 0), else_=1),
            _people.c.open_tasks,
            _people.c.id,
        )
        .limit(count)
    )


# Run last in a transaction: the row lock on each reviewer is held until commit.
_LOAD_CHANGE = (
    update(_people)
    .where(_people.c.id == bindparam("reviewer_id"))
    .values(open_tasks=_people.c.open_tasks + bindparam("by"))
)


def change_load(session: Session, reviewer_ids: list[int], by: int) -> None:
    """Count tasks opened (+1) or closed (-1) against their reviewers.

    One row at a time in id order: a single `UPDATE ... WHERE id IN (...)` locks rows in
    the table's physical order, and two screenings could then deadlock.
    """
    connection = session.connection()
    for reviewer_id in sorted(reviewer_ids):
        connection.execute(_LOAD_CHANGE, {"reviewer_id": reviewer_id, "by": by})


def choose_reviewers(
    session: Session, *, count: int, department: str | None, theme: str | None, exclude_email: str | None
) -> list[int]:
    """Reviewers of the idea's department and theme first, then the least loaded; never the submitter."""
    parameters = {"department": department, "theme": theme, "exclude": (exclude_email or "").lower()}
    return list(session.connection().execute(_reviewer_choice(count), parameters).scalars())


def screen_idea(session: Session, event: IdeaReceivedV1, *, settings: Settings) -> None:
    """Check a received idea, assign its reviewers and put it in review."""
    idea = lifecycle.load(session, event.idea_id)
    if idea.status is not Status.RECEIVED:
        log.info("review.screen_skipped", status=idea.status.value)  # withdrawn meanwhile, say
        return
    reviewers = choose_reviewers(
        session,
        count=settings.reviewers_per_idea,
        department=event.department,
        theme=event.theme,
        exclude_email=event.submitter.email,
    )
    now = utcnow()
    due = deadline(now, settings.review_deadline)
    assigned = []
    if reviewers:
        task_ids = (
            session.connection()
            .execute(
                ReviewTask.__table__.insert().returning(ReviewTask.id),
                [
                    {"idea_id": idea.id, "reviewer_id": r, "state": "open", "assigned_at": now, "due_at": due}
                    for r in reviewers
                ],
            )
            .scalars()
        )
        assigned = [
            ReviewAssignedV1.caused_by(event, task_id=task_id, reviewer_id=reviewer_id, due_at=due)
            for task_id, reviewer_id in zip(task_ids, reviewers, strict=True)
        ]
    else:
        log.warning("review.no_reviewers_available")
    # Recorded for reviewers to judge; a likely duplicate changes neither status nor assignment.
    duplicates = similarity.find_and_index(session, idea.id, threshold=settings.duplicate_threshold, now=now)
    lifecycle.transition(
        session,
        idea,
        Status.IN_REVIEW,
        reason=f"{len(reviewers)} reviewer(s) assigned",
        actor="screening",
        cause=event,
    )
    outbox.emit(session, *assigned)
    change_load(session, reviewers, +1)
    log.info("review.idea_screened", reviewers=len(reviewers), duplicates=len(duplicates))


def open_tasks(session: Session, *, reviewer: Principal) -> list[TaskView]:
    rows = session.execute(
        select(ReviewTask, Idea.reference, Idea.title)
        .join(Idea, Idea.id == ReviewTask.idea_id)
        .where(ReviewTask.reviewer_id == reviewer.id, ReviewTask.state == "open")
        .order_by(ReviewTask.due_at)
    ).all()
    duplicates = similarity.shown_duplicates(session, (task.idea_id for task, _, _ in rows))
    return [
        TaskView(
            id=task.id,
            idea_reference=reference,
            idea_title=title,
            state=task.state,
            due_at=task.due_at,
            assigned_at=task.assigned_at,
            duplicates=duplicates[task.idea_id],
        )
        for task, reference, title in rows
    ]


def submit_review(session: Session, task_id: int, review: ReviewIn, *, reviewer: Principal) -> None:
    """Record a reviewer's scores; the decision is taken by the review worker when the event arrives."""
    task = session.get(ReviewTask, task_id)
    if task is None or task.reviewer_id != reviewer.id:
        raise NotFound("you have no review task with that id")
    if task.state != "open":
        raise Conflict(f"this task is already {task.state}")
    idea = lifecycle.load(session, task.idea_id)
    if idea.status is not Status.IN_REVIEW:
        raise Conflict(f"this idea is {idea.status.value}, not in review")
    claimed = session.execute(
        update(ReviewTask)
        .where(ReviewTask.id == task_id, ReviewTask.state == "open")
        .values(state="done")
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("this task was answered meanwhile")
    session.add(
        Review(
            task_id=task_id,
            idea_id=idea.id,
            impact=review.scores.impact,
            feasibility=review.scores.feasibility,
            cost=review.scores.cost,
            evidence=review.scores.evidence,
            recommendation=review.recommendation,
            comment=review.comment,
        )
    )
    session.flush()
    outbox.emit(
        session,
        ReviewSubmittedV1(
            idea_id=idea.id,
            idea_reference=idea.reference,
            correlation_id=idea.correlation_id,
            task_id=task_id,
            reviewer_id=reviewer.id,
            recommendation=review.recommendation,
            overall=review.scores.overall,
        ),
    )
    change_load(session, [reviewer.id], -1)


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


def decide(session: Session, event: ReviewSubmittedV1, *, settings: Settings) -> None:
    """When every assigned review is in, apply the decision rule."""
    idea = lifecycle.load(session, event.idea_id)
    if idea.status is not Status.IN_REVIEW:
        return
    waiting = session.scalar(
        select(func.count()).where(and_(ReviewTask.idea_id == idea.id, ReviewTask.state == "open"))
    )
    if waiting:
        log.info("review.waiting_for_reviews", open=waiting)
        return
    reviews = list(session.scalars(select(Review).where(Review.idea_id == idea.id).order_by(Review.id)))
    if not reviews:
        return
    decision = decide_rule(
        reviews, min_mean=settings.decision_min_mean, min_accept_share=settings.decision_min_accept_share
    )
    target = Status.MATCHING if decision.accept else Status.REJECTED
    lifecycle.transition(
        session,
        idea,
        target,
        reason=f"mean score {decision.mean}, {decision.accept_share:.0%} recommended accepting",
        reasons=decision.reasons,
        actor="review",
        cause=event,
    )
    log.info("review.decided", outcome=target.value, mean=decision.mean)
