"""Review's HTML pages: my review tasks, one task (the idea, its duplicates, the rubric), declining a task.

The same handlers as the API do the work and the same `ReviewIn`/`DeclineIn` models check what was
typed; these routes add GOV.UK markup, a CSRF check on every form (a signed-in browser's cookie is
not enough) and error messages in plain words. Whatever goes wrong is answered with a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from services.review import handlers, queries
from services.review.schemas import DeclineIn, ReviewIn
from shared.errors import Conflict
from shared.logging import get_logger
from shared.principal import Principal
from shared.web import pages
from shared.web.deps import require, settings_of, uow

log = get_logger("ideahub.review.web")

RUBRIC = (
    ("impact", "Impact", "How much good it would do if it works"),
    ("feasibility", "Feasibility", "How likely it is to work here"),
    ("cost", "Cost to try", "5 is cheapest to try"),
    ("evidence", "Evidence", "How well the idea is supported"),
)
RECOMMENDATIONS = (
    ("accept", "Accept", "Take the idea forward to find a sponsor"),
    ("reject", "Reject", "Do not take it further this time"),
    ("needs_info", "Ask the submitter a question", "The review waits for their answer"),
)
DONE = {
    "reviewed": "Your review has been recorded",
    "asked": "Your question has been sent to the submitter",
    "declined": "You have handed the task back: another reviewer will be given it",
    "declined-unassigned": (
        "You have handed the task back. No other reviewer is free to take it,"
        " so we have told the administrators and they will find someone"
    ),
}


PAGES = pages.Pages(
    "services.review",
    site_name="Ideahub staff",
    home_url="/staff",
    private=True,
    forbidden="It is for reviewers.",
    navigation=True,
)
_page = PAGES.render
router = PAGES.router()
Reviewer = Annotated[Principal, Depends(require("reviewer"))]
# A task id no database column can hold is an address with no page, not a crash.
TaskId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/reviews")
def tasks_page(request: Request, reviewer: Reviewer, done: str | None = None) -> Response:
    with uow(request) as session:
        tasks = queries.open_tasks(session, reviewer=reviewer)
    return _page(request, "tasks.html", {"tasks": tasks, "person": reviewer, "done": DONE.get(done or "")})


def _task_page(
    request: Request,
    reviewer: Principal,
    task_id: int,
    *,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    conflict: str | None = None,
) -> Response:
    with uow(request) as session:
        task = queries.task_detail(session, task_id, reviewer=reviewer)
    context = {
        "task": task,
        "form": dict(form or {}),
        "errors": dict(errors or {}),
        "conflict": conflict,
        "rubric": RUBRIC,
        "recommendations": RECOMMENDATIONS,
    }
    return _page(request, "task.html", context, status_code=422 if errors else 409 if conflict else 200)


@router.get("/reviews/tasks/{task_id}")
def task_page(request: Request, task_id: TaskId, reviewer: Reviewer) -> Response:
    return _task_page(request, reviewer, task_id)


# Where each field's error is shown, and how it is worded when the field is missing or wrong.
MESSAGES = {
    "impact": "Choose a score from 1 to 5 for impact",
    "feasibility": "Choose a score from 1 to 5 for feasibility",
    "cost": "Choose a score from 1 to 5 for cost to try",
    "evidence": "Choose a score from 1 to 5 for evidence",
    "recommendation": "Choose your recommendation",
    "comment": "Write a comment of up to 5,000 characters: the submitter reads it",
    "question": "Write the question for the submitter, up to 2,000 characters",
    "private_note": "Keep the private note under 5,000 characters",
}


def _review_errors(exc: ValidationError, form: Mapping[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if form.get("recommendation") == "needs_info" and not form.get("question", "").strip():
        errors["question"] = MESSAGES["question"]  # the model says so only once every field is valid
    for error in exc.errors():
        location = [str(part) for part in error["loc"]]
        name = location[-1] if location else ""
        if name not in MESSAGES:  # the model's own rule: needs_info and the question go together
            name = "question"
        errors.setdefault(name, MESSAGES[name])
    order = list(MESSAGES)
    return dict(sorted(errors.items(), key=lambda item: order.index(item[0])))


@router.post("/reviews/tasks/{task_id}")
def post_review(request: Request, task_id: TaskId, reviewer: Reviewer, form: pages.PostedForm) -> Response:
    recommendation = form.get("recommendation", "")
    body = {
        "scores": {name: form.get(name, "") for name, _, _ in RUBRIC},
        "recommendation": recommendation,
        "comment": form.get("comment", ""),
        "question": (form.get("question") or None) if recommendation == "needs_info" else None,
        "private_note": form.get("private_note") or None,
    }
    try:
        review = ReviewIn.model_validate(body)
    except ValidationError as exc:
        return _task_page(request, reviewer, task_id, form=form, errors=_review_errors(exc, form))
    try:
        with uow(request) as session:
            handlers.submit_review(session, task_id, review, reviewer=reviewer, settings=settings_of(request))
    except Conflict as exc:
        return _task_page(request, reviewer, task_id, form=form, conflict=str(exc))
    done = "asked" if review.recommendation == "needs_info" else "reviewed"
    return RedirectResponse(f"/reviews?done={done}", status_code=303)


@router.get("/reviews/tasks/{task_id}/decline")
def decline_page(request: Request, task_id: TaskId, reviewer: Reviewer) -> Response:
    with uow(request) as session:
        task = queries.task_detail(session, task_id, reviewer=reviewer)
    return _page(request, "decline.html", {"task": task, "reason": "", "errors": {}})


@router.post("/reviews/tasks/{task_id}/decline")
def decline(request: Request, task_id: TaskId, reviewer: Reviewer, form: pages.PostedForm) -> Response:
    reason = form.get("reason", "")
    try:
        body = DeclineIn(reason=reason)
    except ValidationError:
        with uow(request) as session:
            task = queries.task_detail(session, task_id, reviewer=reviewer)
        errors = {"reason": "Say why you cannot review this idea, in up to 2,000 characters"}
        return _page(request, "decline.html", {"task": task, "reason": reason, "errors": errors}, status_code=422)
    try:
        with uow(request) as session:
            replacement = handlers.decline_task(
                session, task_id, body.reason, reviewer=reviewer, settings=settings_of(request)
            )
    except Conflict as exc:
        return _task_page(request, reviewer, task_id, conflict=str(exc))
    done = "declined" if replacement is not None else "declined-unassigned"
    return RedirectResponse(f"/reviews?done={done}", status_code=303)
