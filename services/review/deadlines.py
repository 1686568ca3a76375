"""Review deadlines: reminders before them, escalation at them, and the pause while a question is open.

Each deadline is timed twice: by a delayed message that runs at the reminder or due time
(`subscriptions.py`), and by `sweep`, which every review worker runs periodically and which
finds anything overdue whose message was lost (a broker restarted without its data). Both
call the same functions here, and every effect is a conditional UPDATE (`reminded_at IS NULL`,
`state = 'open'`, ...): whichever comes first acts, the other finds nothing to do. A message
that arrives early (its deadline moved on by a question) does nothing either; the event that
moved the deadline brings its own messages.

What happened is kept in the idea's history as the events emitted here (the outbox keeps
every event with its idea), and the tasks' `reminded_at` and `escalated_at`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.review import decision, handlers
from shared import lifecycle
from shared.bus import outbox
from shared.clock import utcnow
from shared.config import Duration, Settings
from shared.contracts.events import (
    EventBase,
    IdeaStatusChangedV1,
    QuestionReminderV1,
    ReviewEscalatedV1,
    ReviewReminderV1,
    ReviewResumedV1,
)
from shared.db.models import QUESTION, TASK, WAITING, Idea, Question, QuestionState, ReviewTask, TaskState
from shared.db.states import claim, claimed_one
from shared.db.uow import unit_of_work
from shared.errors import StaleStatus
from shared.logging import get_logger
from shared.workdays import before

log = get_logger("ideahub.review.deadlines")
Status = lifecycle.Status


def horizon(duration: Duration) -> timedelta:
    """At least the calendar time `duration` can span: a bound for finding what is due for a reminder."""
    if duration.unit == "s":
        return timedelta(seconds=duration.amount)
    # Five working days a week, plus the longest run of bank holidays around Christmas.
    return timedelta(days=duration.amount * 7 // 5 + 7 + 4)


_tasks = ReviewTask.__table__
_questions = Question.__table__


# Review tasks


def remind_task(
    session: Session, task_id: int, *, settings: Settings, now: datetime, cause: EventBase | None = None
) -> int:
    """Remind the reviewer of an open task once, when its reminder time has come and its deadline has not."""
    task = session.get(ReviewTask, task_id)
    if task is None or task.state != TaskState.OPEN or task.reminded_at is not None:
        return 0
    if not before(task.due_at, settings.review_reminder) <= now < task.due_at:
        return 0
    idea = lifecycle.load(session, task.idea_id)
    if idea.status is not Status.IN_REVIEW:  # paused by a question: the clock does not run
        return 0
    open_ = TaskState.OPEN
    if not claimed_one(
        session,
        TASK.update(_tasks, open_, open_, _tasks.c.id == task_id, _tasks.c.reminded_at.is_(None), reminded_at=now),
    ):
        return 0
    outbox.emit(
        session,
        ReviewReminderV1.about(idea, cause=cause, task_id=task_id, reviewer_id=task.reviewer_id, due_at=task.due_at),
    )
    log.info("review.reminded", task_id=task_id)
    return 1


def escalate_idea(
    session: Session, idea_id: int, *, settings: Settings, now: datetime, cause: EventBase | None = None
) -> int:
    """At a review deadline: decide with the reviews in, or, with none in, replace each late reviewer.

    With at least one review in, every task still awaited closes as `expired` and the decision rule
    runs on the reviews in. With none, each late task becomes `replaced` (escalated_at set), a
    reviewer who never had the idea gets a new task with a fresh deadline, and administrators are
    told (ReviewEscalatedV1, with no replacement when nobody could be found).
    """
    idea = lifecycle.load(session, idea_id)
    if idea.status is not Status.IN_REVIEW:
        return 0
    late = session.execute(
        select(ReviewTask.id, ReviewTask.reviewer_id).where(
            ReviewTask.idea_id == idea_id,
            ReviewTask.state == TaskState.OPEN,
            ReviewTask.due_at <= now,
            ReviewTask.escalated_at.is_(None),
        )
    ).all()
    if not late:
        return 0
    if decision.reviews_in(session, idea_id):
        return _decide_at_deadline(session, idea, settings=settings, cause=cause)
    return sum(
        _replace(session, idea, task_id, reviewer_id, settings=settings, now=now, cause=cause)
        for task_id, reviewer_id in late
    )


def _close_awaited(session: Session, idea_id: int, *, state: TaskState) -> list[int]:
    """Close the idea's awaited tasks as `state`; the reviewers whose task this call closed (a racer closes none)."""
    awaited = session.execute(
        select(ReviewTask.id, ReviewTask.reviewer_id).where(
            ReviewTask.idea_id == idea_id, ReviewTask.state.in_(WAITING)
        )
    ).all()
    return [
        reviewer_id
        for task_id, reviewer_id in awaited
        if claimed_one(session, TASK.update(_tasks, WAITING, state, _tasks.c.id == task_id))
    ]


def _decide_at_deadline(
    session: Session, idea: lifecycle.IdeaState, *, settings: Settings, cause: EventBase | None
) -> int:
    closed = _close_awaited(session, idea.id, state=TaskState.EXPIRED)
    if not closed:
        return 0
    reviews = decision.reviews_in(session, idea.id)
    decision.apply_decision(
        session,
        idea,
        reviews,
        settings=settings,
        cause=cause,
        note=f"; the review deadline passed with {len(reviews)} of {len(reviews) + len(closed)} reviews in",
    )
    return 1


def _replace(
    session: Session,
    idea: lifecycle.IdeaState,
    task_id: int,
    reviewer_id: int,
    *,
    settings: Settings,
    now: datetime,
    cause: EventBase | None,
) -> int:
    late = TASK.update(
        _tasks,
        TaskState.OPEN,
        TaskState.REPLACED,
        _tasks.c.id == task_id,
        _tasks.c.escalated_at.is_(None),
        escalated_at=now,
    )
    if not claimed_one(session, late):
        return 0
    replacement = handlers.assign_replacement(session, idea.id, now=now, settings=settings)
    events: list[EventBase] = [
        ReviewEscalatedV1.about(
            idea,
            cause=cause,
            task_id=task_id,
            reviewer_id=reviewer_id,
            replacement_id=replacement.reviewer_id if replacement else None,
        )
    ]
    if replacement is not None:
        events.append(handlers.assigned_event(idea, replacement, cause))
    outbox.emit(session, *events)
    log.warning("review.escalated", task_id=task_id, replaced=replacement is not None)
    return 1


# Questions to the submitter


def remind_question(
    session: Session, question_id: int, *, settings: Settings, now: datetime, cause: EventBase | None = None
) -> int:
    """Remind the submitter once of an open question, when its reminder time has come."""
    question = session.get(Question, question_id)
    if (
        question is None
        or question.state != QuestionState.OPEN
        or question.reminded_at is not None
        or question.due_at is None
    ):
        return 0
    if not before(question.due_at, settings.info_reminder) <= now < question.due_at:
        return 0
    open_ = QuestionState.OPEN
    if not claimed_one(
        session,
        QUESTION.update(
            _questions,
            open_,
            open_,
            _questions.c.id == question_id,
            _questions.c.reminded_at.is_(None),
            reminded_at=now,
        ),
    ):
        return 0
    idea = lifecycle.load(session, question.idea_id)
    outbox.emit(
        session,
        QuestionReminderV1.about(
            idea, cause=cause, question_id=question_id, question=question.text, due_at=question.due_at
        ),
    )
    log.info("review.question_reminded", question_id=question_id)
    return 1


NO_ANSWER = "No answer by the deadline"


def expire_question(session: Session, question_id: int, *, now: datetime, cause: EventBase | None = None) -> int:
    """An open question past its deadline lapses; the idea goes back to review without the answer."""
    lapse = QUESTION.update(
        _questions,
        QuestionState.OPEN,
        QuestionState.EXPIRED,
        _questions.c.id == question_id,
        _questions.c.due_at <= now,
    )
    if not claimed_one(session, lapse):
        return 0
    idea_id = session.scalar(select(Question.idea_id).where(Question.id == question_id))
    assert idea_id is not None
    idea = lifecycle.load(session, idea_id)
    if idea.status is Status.NEEDS_INFO:
        lifecycle.transition(session, idea, Status.IN_REVIEW, reason=NO_ANSWER, actor="review", cause=cause)
    log.info("review.question_expired", question_id=question_id)
    return 1


def resume(session: Session, event: IdeaStatusChangedV1, *, settings: Settings) -> None:
    """The idea is back from needs_info: the review clock runs again and the reviewers hear the answer.

    Each awaited task's deadline becomes at least now plus the time it had left when the question
    was asked; the asking reviewer's task reopens for them to score again. One ReviewResumedV1 per
    task tells its reviewer (and times its new reminder and deadline).
    """
    idea = lifecycle.load(session, event.idea_id)
    if idea.status is not Status.IN_REVIEW:
        return
    question = session.scalar(
        select(Question)
        .where(Question.idea_id == idea.id, Question.state.in_((QuestionState.ANSWERED, QuestionState.EXPIRED)))
        .order_by(Question.id.desc())
        .limit(1)
    )
    if question is None:
        return
    now = utcnow()
    tasks = session.scalars(
        select(ReviewTask).where(ReviewTask.idea_id == idea.id, ReviewTask.state.in_(WAITING))
    ).all()
    resumed = []
    for task in tasks:
        left = max(task.due_at - question.asked_at, timedelta(0))
        due = max(task.due_at, now + left)
        # An asked task reopens; an open one keeps its state and gets its new deadline.
        reopen = TASK.update(_tasks, TaskState(task.state), TaskState.OPEN, _tasks.c.id == task.id, due_at=due)
        if claimed_one(session, reopen):
            resumed.append(
                ReviewResumedV1.caused_by(
                    event,
                    task_id=task.id,
                    reviewer_id=task.reviewer_id,
                    due_at=due,
                    question=question.text,
                    answer=question.answer if question.state == QuestionState.ANSWERED else None,
                )
            )
    outbox.emit(session, *resumed)
    log.info("review.resumed", tasks=len(resumed), answered=question.state == QuestionState.ANSWERED)
    if not resumed:
        decision.decide_if_complete(session, idea, settings=settings, cause=event)


def close_for_final(session: Session, event: IdeaStatusChangedV1) -> None:
    """An idea withdrawn (or otherwise final) while in review: its awaited tasks close and free their reviewers."""
    _close_awaited(session, event.idea_id, state=TaskState.CANCELLED)
    claim(
        session,
        QUESTION.update(_questions, QuestionState.OPEN, QuestionState.EXPIRED, _questions.c.idea_id == event.idea_id),
    )


# The sweep


def _each(session_factory: sessionmaker[Session], ids: list[int], act: Callable[[Session, int], int], what: str) -> int:
    """Act on each id in its own transaction: one failure (or a lost race) does not stop the others."""
    done = 0
    for item in ids:
        try:
            with unit_of_work(session_factory) as session:
                done += act(session, item)
        except StaleStatus:
            log.info("review.sweep_raced", what=what, id=item)  # someone else moved the idea meanwhile
        except Exception:
            log.exception("review.sweep_item_failed", what=what, id=item)
    return done


def sweep(session_factory: sessionmaker[Session], settings: Settings) -> int:
    """Find every deadline or reminder that is due and act on it; returns how many things were done."""
    now = utcnow()
    with unit_of_work(session_factory) as session:
        overdue_ideas = list(
            session.scalars(
                select(ReviewTask.idea_id)
                .join(Idea, Idea.id == ReviewTask.idea_id)
                .where(
                    ReviewTask.state == TaskState.OPEN,
                    ReviewTask.due_at <= now,
                    ReviewTask.escalated_at.is_(None),
                    Idea.status == Status.IN_REVIEW.value,
                )
                .distinct()
            )
        )
        lapsed = list(
            session.scalars(select(Question.id).where(Question.state == QuestionState.OPEN, Question.due_at <= now))
        )
        near_tasks = [
            row.id
            for row in session.execute(
                select(ReviewTask.id, ReviewTask.due_at)
                .join(Idea, Idea.id == ReviewTask.idea_id)
                .where(
                    ReviewTask.state == TaskState.OPEN,
                    ReviewTask.reminded_at.is_(None),
                    ReviewTask.due_at > now,
                    ReviewTask.due_at <= now + horizon(settings.review_reminder),
                    Idea.status == Status.IN_REVIEW.value,
                )
            )
            if before(row.due_at, settings.review_reminder) <= now
        ]
        near_questions = [
            row.id
            for row in session.execute(
                select(Question.id, Question.due_at).where(
                    Question.state == QuestionState.OPEN,
                    Question.reminded_at.is_(None),
                    Question.due_at > now,
                    Question.due_at <= now + horizon(settings.info_reminder),
                )
            )
            if before(row.due_at, settings.info_reminder) <= now
        ]
    done = _each(
        session_factory,
        overdue_ideas,
        lambda s, i: escalate_idea(s, i, settings=settings, now=now),
        "escalation",
    )
    done += _each(session_factory, lapsed, lambda s, i: expire_question(s, i, now=now), "question expiry")
    done += _each(
        session_factory, near_tasks, lambda s, i: remind_task(s, i, settings=settings, now=now), "review reminder"
    )
    done += _each(
        session_factory,
        near_questions,
        lambda s, i: remind_question(s, i, settings=settings, now=now),
        "question reminder",
    )
    return done
