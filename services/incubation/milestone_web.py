"""Incubation's pages for one milestone: change its title or due date, remove it (after asking), mark it reached.

Only a milestone still to be reached changes, and only while the idea is incubating; otherwise the service's
refusal is shown and nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from services.incubation import handlers, queries
from services.incubation.schemas import IncubationView, MilestoneChange, MilestoneIn, MilestoneView
from services.incubation.web import MILESTONE_TITLE, REFUSED, done, incubation_page
from services.incubation.web_common import (
    PAGES,
    DateProblem,
    Reference,
    SponsorOrAdmin,
    checked,
    date_fields,
    render,
    status_of,
    typed_date,
)
from shared.errors import Conflict, NotFound
from shared.principal import Principal
from shared.web import pages
from shared.web.deps import settings_of, uow
from shared.web.params import RowId

router = PAGES.router()
MILESTONE = "/incubations/{reference}/milestones/{milestone_id}"


def _milestone(
    request: Request, person: Principal, reference: str, milestone_id: int
) -> tuple[IncubationView, MilestoneView]:
    """The incubation and one of its milestones (a dropped one, or another idea's, is not found)."""
    try:
        with uow(request) as session:
            view = queries.incubation(session, reference, person=person)
    except Conflict as exc:  # an incubation still being set up has no milestones yet
        raise NotFound(f"{reference} has no milestone {milestone_id}") from exc
    for milestone in view.milestones:
        if milestone.id == milestone_id:
            return view, milestone
    raise NotFound(f"{reference} has no milestone {milestone_id}")


def _change_page(
    request: Request,
    person: Principal,
    reference: str,
    milestone_id: int,
    *,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    date_parts: Mapping[str, tuple[str, ...]] | None = None,
    conflict: str | None = None,
) -> Response:
    view, milestone = _milestone(request, person, reference, milestone_id)
    values = {"milestone_title": milestone.title, **date_fields("due", milestone.due_on)} | dict(form or {})
    context = {
        "view": view,
        "milestone": milestone,
        "values": values,
        "errors": dict(errors or {}),
        "date_parts": dict(date_parts or {}),
        "conflict": conflict,
        "changeable": view.idea_status == "incubating" and milestone.state in ("open", "overdue"),
    }
    return render(request, "milestone.html", context, status_code=status_of(errors=errors, conflict=conflict))


@router.get(MILESTONE)
def change_page(request: Request, reference: Reference, milestone_id: RowId, person: SponsorOrAdmin) -> Response:
    return _change_page(request, person, reference, milestone_id)


@router.post(MILESTONE)
def change(
    request: Request, reference: Reference, milestone_id: RowId, person: SponsorOrAdmin, form: pages.PostedForm
) -> Response:
    due = typed_date(form, "due", "The due date")
    title = form.get("milestone_title", "")
    checked_title = checked(
        MilestoneIn, {"title": title, "due_on": due if isinstance(due, date) else date.min}, {"title": MILESTONE_TITLE}
    )
    errors = {"milestone_title": MILESTONE_TITLE} if isinstance(checked_title, dict) else {}
    if isinstance(due, DateProblem):
        errors[due.anchor] = due.message
    if errors or isinstance(checked_title, dict) or isinstance(due, DateProblem):
        parts = {"due": due.parts} if isinstance(due, DateProblem) else {}
        return _change_page(request, person, reference, milestone_id, form=form, errors=errors, date_parts=parts)
    _, current = _milestone(request, person, reference, milestone_id)
    # Only what changed: a date given again would reschedule the milestone's reminder for nothing.
    change: dict[str, Any] = {}
    if checked_title.title != current.title:
        change["title"] = checked_title.title
    if due != current.due_on:
        change["due_on"] = due
    if not change:
        return done(reference, "milestone-unchanged")
    try:
        with uow(request) as session:
            handlers.change_milestone(
                session,
                reference,
                milestone_id,
                MilestoneChange.model_validate(change),
                sponsor=person,
                settings=settings_of(request),
            )
    except REFUSED as exc:
        return _change_page(request, person, reference, milestone_id, form=form, conflict=str(exc))
    return done(reference, "milestone-changed")


@router.get(f"{MILESTONE}/remove")
def remove_page(request: Request, reference: Reference, milestone_id: RowId, person: SponsorOrAdmin) -> Response:
    view, milestone = _milestone(request, person, reference, milestone_id)
    context = {
        "view": view,
        "milestone": milestone,
        "removable": view.idea_status == "incubating" and milestone.state in ("open", "overdue"),
    }
    return render(request, "remove_milestone.html", context)


@router.post(f"{MILESTONE}/remove")
def remove(
    request: Request, reference: Reference, milestone_id: RowId, person: SponsorOrAdmin, _form: pages.PostedForm
) -> Response:
    try:
        with uow(request) as session:
            handlers.drop_milestone(session, reference, milestone_id, sponsor=person)
    except REFUSED as exc:
        return incubation_page(request, person, reference, conflict=str(exc))
    return done(reference, "milestone-removed")


@router.post(f"{MILESTONE}/reached")
def reached(
    request: Request, reference: Reference, milestone_id: RowId, person: SponsorOrAdmin, _form: pages.PostedForm
) -> Response:
    try:
        with uow(request) as session:
            changed = handlers.reach_milestone(session, reference, milestone_id, sponsor=person)
    except REFUSED as exc:
        return incubation_page(request, person, reference, conflict=str(exc))
    return done(reference, "milestone-reached" if changed else "milestone-already-reached")
