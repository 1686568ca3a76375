"""Screening, assignment, scoring and the decision rule. Handlers take a session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from services.review import similarity
from services.review.assignment import ReviewerPool
from services.review.schemas import (
    AdminTaskView,
    IdeaReviews,
    QuestionView,
    ReviewIn,
    ReviewView,
    Scores,
    TaskDetail,
    TaskView,
)
from shared import lifecycle
from shared.bus import outbox
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import (
    EventBase,
    IdeaReceivedV1,
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
from shared.errors import Conflict, NotFound
from shared.logging import about, get_logger
from shared.principal import Principal
from shared.workdays import deadline

log = get_logger("ideahub.review")
_NEW_TASKS = ReviewTask.__table__.insert().returning(
    ReviewTask.__table__.c.id, ReviewTask.__table__.c.idea_id, ReviewTask.__table__.c.reviewer_id
)
Status = lifecycle.Status


def screen_idea(session: Session, event: IdeaReceivedV1, *, settings: Settings) -> None:
    """Check a received idea, assign its reviewers and put it in review."""
    screen_ideas(session, [event], settings=settings)


def screen_ideas(session: Session, events: Sequence[IdeaReceivedV1], *, settings: Settings) -> None:
    """Check received ideas, assign their reviewers and put them in review, in the caller's transaction.

    However many ideas there are, it costs the same few statements (read the ideas, read the reviewers,
    add the tasks, search and index for duplicates, move the ideas), so that a worker that takes several
    at once (`shared.worker.stage.GroupCommit`) does less for each. The ideas are screened in order, each
    as if the earlier ones had been screened and committed before it.
    """
    found = lifecycle.load_many_with_text(session, [event.idea_id for event in events])
    todo = []
    for event in events:
        if event.idea_id not in found:
            raise NotFound(f"no idea with id {event.idea_id}")
        idea, text = found[event.idea_id]
        if idea.status is not Status.RECEIVED:
            log.info("review.screen_skipped", status=idea.status.value, **about(event))  # withdrawn meanwhile, say
            continue
        todo.append((event, idea, text))
    if not todo:
        return
    pool = ReviewerPool.read(session)
    chosen = [
        pool.choose(
            settings.reviewers_per_idea,
            department=event.department,
            theme=event.theme,
            exclude_email=event.submitter.email,
        )
        for event, _, _ in todo
    ]
    now = utcnow()
    due = deadline(now, settings.review_deadline)
    rows = [
        {"idea_id": idea.id, "reviewer_id": r, "state": TaskState.OPEN, "assigned_at": now, "due_at": due}
        for (_, idea, _), reviewers in zip(todo, chosen, strict=True)
        for r in reviewers
    ]
    task_ids = (
        {(row.idea_id, row.reviewer_id): row.id for row in session.connection().execute(_NEW_TASKS, rows)}
        if rows
        else {}
    )
    # Recorded for reviewers to judge; a likely duplicate changes neither status nor assignment.
    duplicates = similarity.find_and_index_many(
        session, [(idea.id, text) for _, idea, text in todo], threshold=settings.duplicate_threshold, now=now
    )
    moves = []
    for (event, idea, _), reviewers in zip(todo, chosen, strict=True):
        assigned = [
            ReviewAssignedV1.caused_by(event, task_id=task_ids[idea.id, r], reviewer_id=r, due_at=due)
            for r in reviewers
        ]
        moves.append(
            lifecycle.Move(
                idea,
                Status.IN_REVIEW,
                reason=f"{len(reviewers)} reviewer(s) assigned",
                actor="screening",
                cause=event,
                with_events=assigned,
            )
        )
    lifecycle.transition_many(session, moves)
    for (event, _, _), reviewers in zip(todo, chosen, strict=True):
        if not reviewers:
            log.warning("review.no_reviewers_available", **about(event))
        log.info(
            "review.idea_screened", reviewers=len(reviewers), duplicates=len(duplicates[event.idea_id]), **about(event)
        )


def open_tasks(session: Session, *, reviewer: Principal) -> list[TaskView]:
    rows = session.execute(
        select(ReviewTask, Idea.reference, Idea.title)
        .join(Idea, Idea.id == ReviewTask.idea_id)
        .where(ReviewTask.reviewer_id == reviewer.id, ReviewTask.state == TaskState.OPEN)
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


def _own_task(session: Session, task_id: int, reviewer: Principal) -> ReviewTask:
    task = session.get(ReviewTask, task_id)
    if task is None or task.reviewer_id != reviewer.id:
        raise NotFound("you have no review task with that id")
    return task


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
    task = _own_task(session, task_id, reviewer)
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
    task = _own_task(session, task_id, reviewer)
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
        _NEW_TASKS,
        {"idea_id": idea_id, "reviewer_id": reviewer_id, "state": TaskState.OPEN, "assigned_at": now, "due_at": due},
    ).scalar_one()
    return NewTask(task_id, reviewer_id, due)


def assigned_event(idea: lifecycle.IdeaState, task: NewTask, cause: EventBase | None = None) -> ReviewAssignedV1:
    return ReviewAssignedV1.about(
        idea, cause=cause, task_id=task.task_id, reviewer_id=task.reviewer_id, due_at=task.due_at
    )


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


def _review_view(review: Review, *, reviewer_name: str | None = None) -> ReviewView:
    return ReviewView(
        task_id=review.task_id,
        scores=Scores(impact=review.impact, feasibility=review.feasibility, cost=review.cost, evidence=review.evidence),
        recommendation=review.recommendation,
        comment=review.comment,
        private_note=review.private_note,
        submitted_at=review.submitted_at,
        reviewer_name=reviewer_name,
    )


def _questions(session: Session, idea_id: int) -> list[QuestionView]:
    rows = session.scalars(select(Question).where(Question.idea_id == idea_id).order_by(Question.id))
    return [
        QuestionView(text=q.text, state=q.state, asked_at=q.asked_at, due_at=q.due_at, answer=q.answer) for q in rows
    ]


def task_detail(session: Session, task_id: int, *, reviewer: Principal) -> TaskDetail:
    """One of the reviewer's tasks (any state) with the idea, its duplicates, questions and their own review."""
    task = _own_task(session, task_id, reviewer)
    idea = session.get(Idea, task.idea_id)
    assert idea is not None
    review = session.scalar(select(Review).where(Review.task_id == task.id))
    return TaskDetail(
        id=task.id,
        idea_reference=idea.reference,
        idea_title=idea.title,
        state=task.state,
        due_at=task.due_at,
        assigned_at=task.assigned_at,
        duplicates=similarity.shown_duplicates(session, [idea.id])[idea.id],
        idea_status=idea.status,
        problem=idea.problem,
        proposal=idea.proposal,
        benefit=idea.benefit,
        department=idea.department,
        theme=idea.theme,
        # The name only, and only of a submitter who did not ask to stay anonymous; never an email.
        submitted_by=None if idea.anonymous else idea.submitter_name,
        questions=_questions(session, idea.id),
        my_review=_review_view(review) if review is not None else None,
    )


def idea_reviews(session: Session, reference: str) -> IdeaReviews:
    """For administrators: every task of an idea, who had it, and every review with its private note."""
    idea = session.scalar(select(Idea).where(Idea.reference == reference))
    if idea is None:
        raise NotFound(f"no idea with reference {reference}")
    names = dict(
        session.execute(
            select(Person.id, Person.name)
            .join(ReviewTask, ReviewTask.reviewer_id == Person.id)
            .where(ReviewTask.idea_id == idea.id)
        ).all()
    )
    tasks = session.scalars(select(ReviewTask).where(ReviewTask.idea_id == idea.id).order_by(ReviewTask.id)).all()
    reviewer_of = {t.id: t.reviewer_id for t in tasks}
    reviews = session.scalars(select(Review).where(Review.idea_id == idea.id).order_by(Review.id)).all()
    return IdeaReviews(
        idea_reference=reference,
        status=idea.status,
        tasks=[
            AdminTaskView(
                id=t.id,
                reviewer_name=names.get(t.reviewer_id, ""),
                state=t.state,
                assigned_at=t.assigned_at,
                due_at=t.due_at,
                reminded_at=t.reminded_at,
                escalated_at=t.escalated_at,
                decline_reason=t.decline_reason,
            )
            for t in tasks
        ],
        reviews=[_review_view(r, reviewer_name=names.get(reviewer_of.get(r.task_id, 0))) for r in reviews],
        questions=_questions(session, idea.id),
    )
