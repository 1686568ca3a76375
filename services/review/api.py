"""Review's HTTP routes: a reviewer's open tasks and posting a review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from services.review import handlers
from services.review.schemas import ReviewIn, TaskView
from shared.web.deps import Principal, require, uow

router = APIRouter(prefix="/api/v1/reviews", tags=["review"])
Reviewer = Annotated[Principal, Depends(require("reviewer"))]


@router.get("/tasks", response_model=list[TaskView])
def my_tasks(request: Request, reviewer: Reviewer) -> list[TaskView]:
    with uow(request) as session:
        return handlers.open_tasks(session, reviewer=reviewer)


@router.post("/tasks/{task_id}", status_code=status.HTTP_202_ACCEPTED)
def post_review(request: Request, task_id: int, review: ReviewIn, reviewer: Reviewer) -> dict[str, str]:
    with uow(request) as session:
        handlers.submit_review(session, task_id, review, reviewer=reviewer)
    return {"result": "review recorded"}
