"""What reviewers and administrators read: a reviewer's open tasks, one task in full, an idea's reviews."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.review import similarity
from services.review.schemas import (
    AdminTaskView,
    IdeaReviews,
    QuestionView,
    ReviewView,
    Scores,
    TaskDetail,
    TaskView,
)
from shared.db.models import (
    Idea,
    Person,
    Question,
    Review,
    ReviewTask,
    TaskState,
)
from shared.errors import NotFound
from shared.principal import Principal


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


def own_task(session: Session, task_id: int, reviewer: Principal) -> ReviewTask:
    task = session.get(ReviewTask, task_id)
    if task is None or task.reviewer_id != reviewer.id:
        raise NotFound("you have no review task with that id")
    return task


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
    task = own_task(session, task_id, reviewer)
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
