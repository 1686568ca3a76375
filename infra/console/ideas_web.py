"""The console's ideas: `/admin/ideas` finds them (the page twin of GET /api/v1/ideas), and `/admin/ideas/{reference}`
shows one in full with what an administrator may do to it, each action recorded on its timeline with their name
and reason. The actions are `infra/console/actions.py`'s, as the API's are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from infra.console import actions, ideas
from infra.console.idea_page import idea_page
from infra.console.web import PAGES, Admin
from services.notify.handlers import resend
from shared import lifecycle
from shared.db.models import Idea, Notification
from shared.errors import Conflict, IllegalTransition, InvalidField, NotFound, StaleStatus
from shared.paging import DEFAULT_SIZE, PageRequest
from shared.text import has_control_characters
from shared.web import pages
from shared.web.deps import settings_of, uow
from shared.web.paging import Paging, pagination
from shared.web.params import RowId

router = PAGES.router()
_page = PAGES.render
Reference = Annotated[str, Path(pattern=r"^IH-\d{4}-\d{6}$", description="An idea's reference, IH-YYYY-NNNNNN.")]
Status = lifecycle.Status

STATUS_NAMES = {
    "received": "Received",
    "in_review": "In review",
    "needs_info": "Needs information",
    "matching": "Matching",
    "unmatched": "Unmatched",
    "incubating": "Incubating",
    "implemented": "Implemented",
    "closed": "Closed",
    "rejected": "Rejected",
    "duplicate": "Duplicate",
    "withdrawn": "Withdrawn",
}
CHANNELS = {"web": "Web form", "email": "Email", "api": "API", "import": "Import"}
SORTS = {"newest": "Newest first", "oldest": "Oldest first", "updated": "Recently changed", "reference": "Reference"}


# --- finding ideas --------------------------------------------------------------------------------------------------


def _date(params: Mapping[str, str], prefix: str, label: str, errors: dict[str, str]) -> date | None:
    parts = [params.get(f"{prefix}-{part}", "").strip() for part in ("day", "month", "year")]
    if not any(parts):
        return None
    try:
        day, month, year = (int(part) for part in parts)
        return date(year, month, day)
    except ValueError:
        errors[f"{prefix}-day"] = f"{label} must be a real date, like 27 3 2026"
        return None


def _filter(request: Request) -> tuple[ideas.IdeaFilter, dict[str, Any], dict[str, str]]:
    """The search form's filter, the values to show back in it, and what is wrong with them."""
    params = request.query_params
    errors: dict[str, str] = {}
    texts = {key: params.get(key, "") for key in ("q", "department", "theme", "channel", "sort")}
    for key in ("from", "to"):
        for part in ("day", "month", "year"):
            texts[f"{key}-{part}"] = params.get(f"{key}-{part}", "")
    statuses = [value for value in params.getlist("status") if value]
    overdue = params.get("overdue") == "true"
    form: dict[str, Any] = {**texts, "status": statuses, "overdue": overdue}
    if any(len(value) > 200 or has_control_characters(value) for value in [*texts.values(), *statuses]):
        errors["q"] = "Search for words of up to 200 letters, without control characters"
    if any(status not in STATUS_NAMES for status in statuses):
        errors["status"] = "Choose statuses from the list"
    if form["channel"] and form["channel"] not in CHANNELS:
        errors["channel"] = "Choose a channel from the list"
    if form["sort"] and form["sort"] not in SORTS:
        errors["sort"] = "Choose an order from the list"
    departments = settings_of(request).departments
    if form["department"] and form["department"] not in departments:
        errors["department"] = "Choose a department from the list"
    submitted_from = _date(params, "from", "The first date", errors)
    submitted_to = _date(params, "to", "The last date", errors)
    if submitted_from and submitted_to and submitted_to < submitted_from:
        errors["to-day"] = "The last date must be the same as or after the first date"
    if errors:
        return ideas.IdeaFilter(), form, errors
    return (
        ideas.IdeaFilter(
            statuses=tuple(Status(s) for s in statuses),
            department=form["department"] or None,
            theme=form["theme"].strip() or None,
            channel=form["channel"] or None,
            overdue=overdue,
            text=form["q"].strip() or None,
            submitted_from=submitted_from,
            submitted_to=submitted_to,
            sort=ideas.Sort(form["sort"] or "newest"),
        ),
        form,
        errors,
    )


@router.get("/admin/ideas")
def ideas_page(request: Request, admin: Admin, paging: Paging) -> Response:
    """Filters on the left, the ideas found on the right, 20 a page; without JavaScript, a GET form."""
    found, form, errors = _filter(request)
    context: dict[str, Any] = {
        "form": form,
        "errors": errors,
        "statuses": STATUS_NAMES,
        "channels": CHANNELS,
        "sorts": SORTS,
        "departments": settings_of(request).departments,
        "filtered": any(v for k, v in form.items() if k != "sort"),
    }
    if errors:
        return _page(request, "ideas/list.html", context | {"ideas": [], "pages": {}}, status_code=400)
    with uow(request) as session:
        page = ideas.search(session, found, viewer=admin, page=paging)
    return _page(request, "ideas/list.html", context | {"ideas": page.items, "pages": pagination(request, page)})


# --- one idea -------------------------------------------------------------------------------------------------------

DONE = {
    "reassigned": "The review has been given to the reviewer you chose. We have emailed them.",
    "reviewer-added": "The reviewer you chose has been added. We have emailed them.",
    "duplicate": "The idea is marked as a duplicate. We have told the submitter which idea it repeats.",
    "withdrawn": "The idea is withdrawn. We have told the submitter, with your reason.",
    "resent": "The notification will be sent again in a moment.",
}
MESSAGES = {
    "task_id": "Choose the review to give to someone else",
    "reviewer_email": "Choose a reviewer",
    "of_reference": "Enter the reference of the idea this one repeats, like IH-2026-000123",
    "reason": "Say why, in up to 2,000 characters: it is kept on the idea's timeline",
}
_REFUSED = (Conflict, IllegalTransition, StaleStatus)


def _idea_page(
    request: Request,
    reference: str,
    admin: Any,
    *,
    done: str | None = None,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    conflict: str | None = None,
    action: str | None = None,
    events: PageRequest | None = None,
) -> Response:
    with uow(request) as session:
        view = idea_page(session, reference, admin=admin, events=events or PageRequest(1, DEFAULT_SIZE))
    context: dict[str, Any] = {
        "view": view,
        "idea": view.idea,
        "statuses": STATUS_NAMES,
        "channels": CHANNELS,
        "done": DONE.get(done or ""),
        "form": dict(form or {}),
        "errors": dict(errors or {}),
        "conflict": conflict,
        "action": action,  # which form the errors belong to
        "pages": pagination(request, view.timeline),
    }
    status = 422 if errors else 409 if conflict else 200
    return _page(request, "ideas/idea.html", context, status_code=status)


@router.get("/admin/ideas/{reference}")
def one_idea(request: Request, reference: Reference, admin: Admin, paging: Paging, done: str | None = None) -> Response:
    return _idea_page(request, reference, admin, done=done, events=paging)


def _done(reference: str, what: str) -> Response:
    return RedirectResponse(f"/admin/ideas/{reference}?done={what}#top", status_code=303)


def _refused(exc: ValidationError) -> dict[str, str]:
    """Each refused field's message, worded for people; control characters said as such."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "reason"
        if "control characters" in str(error.get("msg", "")):
            errors[field] = "Remove the control characters (such as NUL) from the text: they cannot be stored"
        else:
            errors[field] = MESSAGES.get(field, "Check this answer")
    return errors


def _act(
    request: Request,
    reference: str,
    admin: Any,
    form: Mapping[str, str],
    action: str,
    model: type[actions.ReassignIn | actions.AddReviewerIn | actions.DuplicateIn | actions.ReasonIn],
    fields: tuple[str, ...],
    run: Any,
    done: str,
) -> Response:
    """Check the form, run the action, and answer: the page again with what is wrong, or a redirect on success."""
    values = {name: form.get(name, "") for name in fields}
    try:
        body = model.model_validate(values)
    except ValidationError as exc:
        return _idea_page(request, reference, admin, form=form, errors=_refused(exc), action=action)
    try:
        with uow(request) as session:
            run(session, body)
    except InvalidField as exc:
        # The service's own words where they say more than "choose one" (which idea does not exist).
        said = exc.message[:1].upper() + exc.message[1:]
        errors = {exc.field: said if exc.field == "of_reference" else MESSAGES.get(exc.field, said)}
        return _idea_page(request, reference, admin, form=form, errors=errors, action=action)
    except NotFound as exc:
        return _idea_page(request, reference, admin, form=form, conflict=str(exc), action=action)
    except _REFUSED as exc:
        return _idea_page(request, reference, admin, form=form, conflict=str(exc), action=action)
    return _done(reference, done)


@router.post("/admin/ideas/{reference}/reassign")
def reassign(request: Request, reference: Reference, admin: Admin, form: pages.PostedForm) -> Response:
    settings = settings_of(request)
    return _act(
        request,
        reference,
        admin,
        form,
        "reassign",
        actions.ReassignIn,
        ("task_id", "reviewer_email", "reason"),
        lambda session, body: actions.reassign_review(session, reference, body, admin=admin, settings=settings),
        "reassigned",
    )


@router.post("/admin/ideas/{reference}/reviewers")
def add_reviewer(request: Request, reference: Reference, admin: Admin, form: pages.PostedForm) -> Response:
    settings = settings_of(request)
    return _act(
        request,
        reference,
        admin,
        form,
        "add-reviewer",
        actions.AddReviewerIn,
        ("reviewer_email", "reason"),
        lambda session, body: actions.add_reviewer(session, reference, body, admin=admin, settings=settings),
        "reviewer-added",
    )


@router.post("/admin/ideas/{reference}/duplicate")
def mark_duplicate(request: Request, reference: Reference, admin: Admin, form: pages.PostedForm) -> Response:
    return _act(
        request,
        reference,
        admin,
        form,
        "duplicate",
        actions.DuplicateIn,
        ("of_reference", "reason"),
        lambda session, body: actions.mark_duplicate(session, reference, body, admin=admin),
        "duplicate",
    )


@router.post("/admin/ideas/{reference}/withdraw")
def withdraw(request: Request, reference: Reference, admin: Admin, form: pages.PostedForm) -> Response:
    return _act(
        request,
        reference,
        admin,
        form,
        "withdraw",
        actions.ReasonIn,
        ("reason",),
        lambda session, body: actions.withdraw(session, reference, body, admin=admin),
        "withdrawn",
    )


@router.post("/admin/ideas/{reference}/notifications/{notification_id}/resend")
def resend_notification(
    request: Request, reference: Reference, notification_id: RowId, admin: Admin, _form: pages.PostedForm
) -> Response:
    try:
        with uow(request) as session:
            about = session.scalar(
                select(Idea.reference)
                .join(Notification, Notification.idea_id == Idea.id)
                .where(Notification.id == notification_id)
            )
            if about != reference:
                raise NotFound(f"{reference} has no notification {notification_id}")
            resend(session, notification_id)
    except Conflict as exc:
        return _idea_page(request, reference, admin, conflict=str(exc), action="resend")
    return _done(reference, "resent")
