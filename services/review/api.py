"""Review's HTTP routes: a reviewer's tasks, posting or declining a review, and an idea's reviews for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from services.review import handlers, queries
from services.review.schemas import DeclineIn, IdeaReviews, ReviewIn, TaskDetail, TaskView
from shared.principal import Principal
from shared.web.deps import require, settings_of, uow

router = APIRouter(prefix="/api/v1/reviews", tags=["review"])
Reviewer = Annotated[Principal, Depends(require("reviewer"))]
Admin = Annotated[Principal, Depends(require("admin"))]


@router.get("/tasks", response_model=list[TaskView])
def my_tasks(request: Request, reviewer: Reviewer) -> list[TaskView]:
    with uow(request) as session:
        return queries.open_tasks(session, reviewer=reviewer)


@router.get("/tasks/{task_id}", response_model=TaskDetail)
def my_task(request: Request, task_id: int, reviewer: Reviewer) -> TaskDetail:
    """One of my tasks: the idea, its likely duplicates, any question and answer, and my review (with my note)."""
    with uow(request) as session:
        return queries.task_detail(session, task_id, reviewer=reviewer)


@router.post("/tasks/{task_id}", status_code=status.HTTP_202_ACCEPTED)
def post_review(request: Request, task_id: int, review: ReviewIn, reviewer: Reviewer) -> dict[str, str]:
    """Score the idea; `needs_info` also needs a `question`, which is emailed to the submitter."""
    with uow(request) as session:
        handlers.submit_review(session, task_id, review, reviewer=reviewer, settings=settings_of(request))
    if review.recommendation == "needs_info":
        return {"result": "question sent to the submitter"}
    return {"result": "review recorded"}


@router.post("/tasks/{task_id}/decline")
def decline(request: Request, task_id: int, body: DeclineIn, reviewer: Reviewer) -> dict[str, object]:
    """Hand a task back with a reason; another reviewer is given it when one is free."""
    with uow(request) as session:
        replacement = handlers.decline_task(
            session, task_id, body.reason, reviewer=reviewer, settings=settings_of(request)
        )
    return {"result": "task declined", "replaced": replacement is not None}


@router.get("/ideas/{reference}", response_model=IdeaReviews)
def reviews_of_idea(request: Request, reference: str, admin: Admin) -> IdeaReviews:
    """Every task and review of an idea, with reviewers' names and private notes: administrators only."""
    with uow(request) as session:
        return queries.idea_reviews(session, reference)
