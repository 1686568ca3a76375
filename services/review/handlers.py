"""What reviewers do: score a task (or ask the submitter a question), hand a task back; and replacing a reviewer.

Handlers take a session and never commit; the caller's unit of work does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.review.assignment import NEW_TASKS, ReviewerPool
from services.review.decision import decide_if_complete
from services.review.queries import own_task
from services.review.schemas import (
    ReviewIn,
)
from shared import lifecycle
from shared.bus import outbox
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import (
    EventBase,
    QuestionAskedV1,
    ReviewAssignedV1,
    ReviewEscalatedV1,
    ReviewSubmittedV1,
)
from shared.db.models import (
    TASK,
    WAITING,
    Idea,
    Person,
    Question,
    QuestionState,
    Review,
    ReviewTask,
    TaskState,
)
from shared.db.states import claimed_one
from shared.errors import Conflict, InvalidField, NotFound
from shared.logging import get_logger
from shared.principal import Principal
from shared.workdays import deadline

log = get_logger("ideahub.review")
Status = lifecycle.Status


def _claim(session: Session, task_id: int, *, state: TaskState, **values: object) -> None:
    """Move an open task to `state`; whoever moved it first wins, the other is told."""
    _tasks = ReviewTask.__table__
    if not claimed_one(session, TASK.update(_tasks, TaskState.OPEN, state, _tasks.c.id == task_id, **values)):
        raise Conflict("this task was answered meanwhile")


def _record(session: Session, task_id: int, idea_id: int, review: ReviewIn) -> None:
    """Store the review; a reviewer who asked a question and scores again after the answer replaces it."""
    values = {
        "impact": review.scores.impact,
        "feasibility": review.scores.feasibility,
        "cost": review.scores.cost,
        "evidence": review.scores.evidence,
        "recommendation": review.recommendation,
        "comment": review.comment,
        "private_note": review.private_note,
        "submitted_at": utcnow(),
    }
    existing = session.scalar(select(Review).where(Review.task_id == task_id))
    if existing is None:
        session.add(Review(task_id=task_id, idea_id=idea_id, **values))
    else:
        for name, value in values.items():
            setattr(existing, name, value)
    session.flush()


def submit_review(session: Session, task_id: int, review: ReviewIn, *, reviewer: Principal, settings: Settings) -> None:
    """Record a reviewer's scores; the decision is taken by the review worker when the event arrives.

    A `needs_info` review also asks the submitter its question: the idea goes to `needs_info`,
    the task waits (`asked`, still counted in the reviewer's load) and reopens when the idea
    returns to review, so that the reviewer scores again with the answer.
    """
    task = own_task(session, task_id, reviewer)
    if task.state != TaskState.OPEN:
        raise Conflict(f"this task is already {task.state}")
    idea = lifecycle.load(session, task.idea_id)
    if idea.status is not Status.IN_REVIEW:
        raise Conflict(f"this idea is {idea.status.value}, not in review")
    asking = review.recommendation == "needs_info"
    _claim(session, task_id, state=TaskState.ASKED if asking else TaskState.DONE)
    _record(session, task_id, idea.id, review)
    submitted = ReviewSubmittedV1.about(
        idea,
        task_id=task_id,
        reviewer_id=reviewer.id,
        recommendation=review.recommendation,
        overall=review.scores.overall,
    )
    if asking:
        assert review.question is not None  # ReviewIn requires it with needs_info
        _ask(session, idea, task_id, review.question, reviewer=reviewer, settings=settings, cause=submitted)
        outbox.emit(session, submitted)
        return
    outbox.emit(session, submitted)


def _ask(
    session: Session,
    idea: lifecycle.IdeaState,
    task_id: int,
    text: str,
    *,
    reviewer: Principal,
    settings: Settings,
    cause: ReviewSubmittedV1,
) -> None:
    """Open the question and move the idea to needs_info, whose status message emails it to the submitter."""
    now = utcnow()
    due = deadline(now, settings.info_deadline)
    question_id = session.execute(
        Question.__table__.insert()
        .values(
            idea_id=idea.id,
            task_id=task_id,
            text=text,
            asked_at=now,
            due_at=due,
            state=QuestionState.OPEN,
            asked_by=reviewer.id,
        )
        .returning(Question.__table__.c.id)
    ).scalar_one()
    lifecycle.transition(session, idea, Status.NEEDS_INFO, reason=text, actor="reviewer", cause=cause)
    outbox.emit(session, QuestionAskedV1.caused_by(cause, question_id=question_id, task_id=task_id, due_at=due))


def decline_task(session: Session, task_id: int, reason: str, *, reviewer: Principal, settings: Settings) -> int | None:
    """A reviewer hands a task back with a reason; someone else gets it. Returns the new task's id, if any."""
    task = own_task(session, task_id, reviewer)
    if task.state != TaskState.OPEN:
        raise Conflict(f"this task is already {task.state}")
    idea = lifecycle.load(session, task.idea_id)
    if idea.status not in (Status.IN_REVIEW, Status.NEEDS_INFO):
        raise Conflict(f"this idea is {idea.status.value}, not in review")
    _claim(session, task_id, state=TaskState.DECLINED, decline_reason=reason)
    now = utcnow()
    replacement = assign_replacement(session, idea.id, now=now, settings=settings)
    events: list[EventBase] = []
    if replacement is not None:
        events.append(assigned_event(idea, replacement))
    else:
        # Nobody left to ask: administrators must find someone (the same alert as a late review).
        events.append(ReviewEscalatedV1.about(idea, task_id=task_id, reviewer_id=reviewer.id, reason="declined"))
    outbox.emit(session, *events)
    log.info("review.task_declined", replaced=replacement is not None)
    if replacement is None and idea.status is Status.IN_REVIEW:
        decide_if_complete(session, idea, settings=settings, cause=None)
    return replacement.task_id if replacement else None


@dataclass(frozen=True)
class NewTask:
    task_id: int
    reviewer_id: int
    due_at: datetime


def assign_replacement(session: Session, idea_id: int, *, now: datetime, settings: Settings) -> NewTask | None:
    """A new task, with a fresh deadline, for a reviewer who never had this idea and is not its submitter.

    The caller emits ReviewAssignedV1 (`assigned_event`).
    """
    idea = session.execute(select(Idea.department, Idea.theme, Idea.submitter_email).where(Idea.id == idea_id)).one()
    had = set(session.scalars(select(ReviewTask.reviewer_id).where(ReviewTask.idea_id == idea_id)))
    chosen = ReviewerPool.read(session).choose(
        1, department=idea.department, theme=idea.theme, exclude_email=idea.submitter_email, exclude_ids=had
    )
    if not chosen:
        log.warning("review.no_replacement_available")
        return None
    (reviewer_id,) = chosen
    due = deadline(now, settings.review_deadline)
    task_id = session.execute(
        NEW_TASKS,
        {"idea_id": idea_id, "reviewer_id": reviewer_id, "state": TaskState.OPEN, "assigned_at": now, "due_at": due},
    ).scalar_one()
    return NewTask(task_id, reviewer_id, due)


def assigned_event(idea: lifecycle.IdeaState, task: NewTask, cause: EventBase | None = None) -> ReviewAssignedV1:
    return ReviewAssignedV1.about(
        idea, cause=cause, task_id=task.task_id, reviewer_id=task.reviewer_id, due_at=task.due_at
    )


# Administrators


def _task_for(session: Session, idea_id: int, reviewer_id: int, *, now: datetime, settings: Settings) -> NewTask:
    """A new task for a named reviewer: active, not the idea's submitter, and never given this idea before."""
    reviewer = session.get(Person, reviewer_id)
    if reviewer is None or reviewer.role != "reviewer" or not reviewer.active:
        raise InvalidField("reviewer", "choose an active reviewer")
    submitter = session.scalar(select(Idea.submitter_email).where(Idea.id == idea_id))
    if submitter and submitter.lower() == reviewer.email.lower():
        raise Conflict(f"{reviewer.name} sent this idea: they cannot review it")
    had = session.scalar(
        select(ReviewTask.id).where(ReviewTask.idea_id == idea_id, ReviewTask.reviewer_id == reviewer_id)
    )
    if had is not None:
        raise Conflict(f"{reviewer.name} has had this idea to review already")
    due = deadline(now, settings.review_deadline)
    task_id = session.execute(
        NEW_TASKS,
        {"idea_id": idea_id, "reviewer_id": reviewer_id, "state": TaskState.OPEN, "assigned_at": now, "due_at": due},
    ).scalar_one()
    return NewTask(task_id, reviewer_id, due)


def _in_review(session: Session, idea_id: int) -> lifecycle.IdeaState:
    idea = lifecycle.load(session, idea_id)
    if idea.status not in (Status.IN_REVIEW, Status.NEEDS_INFO):
        raise Conflict(f"{idea.reference} is {idea.status.value}, not in review")
    return idea


def reassign_task(
    session: Session, task_id: int, reviewer_id: int, *, settings: Settings, now: datetime
) -> tuple[lifecycle.IdeaState, NewTask]:
    """Take a waiting task from its reviewer (`replaced`) and give the idea to the named reviewer, with a fresh
    deadline; the caller records why. The new reviewer is told (ReviewAssignedV1)."""
    task = session.get(ReviewTask, task_id)
    if task is None:
        raise NotFound(f"there is no review task {task_id}")
    idea = _in_review(session, task.idea_id)
    if task.state not in WAITING:
        raise Conflict(f"this task is already {task.state}")
    replace = TASK.update(
        ReviewTask.__table__, WAITING, TaskState.REPLACED, ReviewTask.__table__.c.id == task_id, escalated_at=now
    )
    new = _task_for(session, idea.id, reviewer_id, now=now, settings=settings)
    if not claimed_one(session, replace):
        raise Conflict("this task was answered meanwhile")
    outbox.emit(session, assigned_event(idea, new))
    return idea, new


def add_reviewer(
    session: Session, idea_id: int, reviewer_id: int, *, settings: Settings, now: datetime
) -> tuple[lifecycle.IdeaState, NewTask]:
    """Give an idea in review to one more, named reviewer; the decision then waits for their review too."""
    idea = _in_review(session, idea_id)
    new = _task_for(session, idea.id, reviewer_id, now=now, settings=settings)
    outbox.emit(session, assigned_event(idea, new))
    return idea, new


def hand_over_tasks(
    session: Session, reviewer_id: int, *, settings: Settings, now: datetime
) -> list[tuple[int, int | None]]:
    """A reviewer leaves: each of their waiting tasks is `replaced` and goes to another reviewer when one is free.

    Returns (idea id, the new reviewer's id or None) for each task handed over; the caller records it. An idea
    left with nobody to review it is decided on the reviews in, if every other review is in.
    """
    waiting = session.execute(
        select(ReviewTask.id, ReviewTask.idea_id).where(
            ReviewTask.reviewer_id == reviewer_id, ReviewTask.state.in_(WAITING)
        )
    ).all()
    handed = []
    for task_id, idea_id in waiting:
        replace = TASK.update(
            ReviewTask.__table__, WAITING, TaskState.REPLACED, ReviewTask.__table__.c.id == task_id, escalated_at=now
        )
        if not claimed_one(session, replace):
            continue
        idea = lifecycle.load(session, idea_id)
        replacement = assign_replacement(session, idea_id, now=now, settings=settings)
        if replacement is not None:
            outbox.emit(session, assigned_event(idea, replacement))
        elif idea.status is Status.IN_REVIEW:
            decide_if_complete(session, idea, settings=settings, cause=None)
        handed.append((idea_id, replacement.reviewer_id if replacement else None))
    return handed
