"""Incubation's pages for sponsors and administrators: the incubations list, and one incubation with its plan,
figures, progress and outcome forms.

A sponsor sees their own incubations (another sponsor's is not found); an administrator sees every one.
The same handlers, queries and pydantic models as the API do the work and check what was typed; these routes
add GOV.UK markup, a CSRF check on every form and messages in plain words. A milestone's own pages (change,
remove, reached) are in `milestone_web.py`, the case study's in `case_study_web.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from services.incubation import handlers, queries
from services.incubation.schemas import Figures, IncubationView, MilestoneIn, OutcomeIn, PlanIn, UpdateIn
from services.incubation.web_common import (
    PAGES,
    DateProblem,
    Reference,
    SponsorOrAdmin,
    checked,
    plain_number,
    render,
    status_of,
    typed_date,
    typed_number,
    typed_text,
)
from shared.errors import Conflict, IllegalTransition, StaleStatus
from shared.principal import Principal
from shared.web import pages
from shared.web.deps import settings_of, uow
from shared.web.paging import Paging, pagination

router = PAGES.router()

TAGS = {
    "on track": "govuk-tag--green",
    "at risk": "govuk-tag--yellow",
    "blocked": "govuk-tag--red",
    "milestone overdue": "govuk-tag--red",
    "no update yet": "govuk-tag--grey",
    "implemented": "",  # GOV.UK's tag is blue unless told otherwise
    "closed": "",
}
UPDATE_STATES = (
    ("on_track", "On track", "The work is going as planned"),
    ("at_risk", "At risk", "Something may stop it going as planned"),
    ("blocked", "Blocked", "It cannot go on until something changes"),
)
DONE = {
    "accepted": "You are sponsoring this idea, and we have told the submitter. Start by adding its milestones.",
    "milestone-added": "The milestone has been added to the plan",
    "milestone-changed": "The milestone has been changed",
    "milestone-unchanged": "Nothing was changed: the milestone's title and due date are as they were",
    "milestone-removed": "The milestone has been removed from the plan",
    "milestone-reached": "The milestone is marked as reached, and we have told the submitter",
    "milestone-already-reached": "The milestone was already marked as reached",
    "plan": "The budget and expected benefits have been saved",
    "update": "Your progress update has been recorded",
    "implemented": "The outcome is recorded: the idea is implemented, and we have told the submitter",
    "closed": "The outcome is recorded: the idea is closed, and we have told the submitter",
}
# Refusals that mean "not now": shown on the page, with nothing changed.
REFUSED = (Conflict, IllegalTransition, StaleStatus)


@router.get("/incubations")
def incubations_page(request: Request, person: SponsorOrAdmin, paging: Paging) -> Response:
    with uow(request) as session:
        page = queries.incubations(session, person=person, page=paging)
    context = {"incubations": page.items, "pages": pagination(request, page), "person": person, "tags": TAGS}
    return render(request, "incubations.html", context)


def _form_values(view: IncubationView) -> dict[str, str]:
    """The figures form filled with what is saved."""
    return {
        "budget": plain_number(view.budget),
        "staff_days": plain_number(view.staff_days),
        "projected_benefits": view.projected.words or "",
        "projected_money_a_year": plain_number(view.projected.money_a_year),
        "projected_hours_a_year": plain_number(view.projected.hours_a_year),
        "projected_people": plain_number(view.projected.people),
    }


def incubation_page(
    request: Request,
    person: Principal,
    reference: str,
    *,
    done: str | None = None,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    date_parts: Mapping[str, tuple[str, ...]] | None = None,
    conflict: str | None = None,
) -> Response:
    """The incubation, with what was just done, or with the form that was sent, its errors or why it was refused."""
    try:
        with uow(request) as session:
            view = queries.incubation(session, reference, person=person)
    except Conflict as exc:  # accepted a moment ago: the incubation worker has not opened its record yet
        waiting = {"reference": reference, "message": str(exc), "done": DONE.get(done or "")}
        return render(request, "setting_up.html", waiting, status_code=409)
    context: dict[str, Any] = {
        "view": view,
        "person": person,
        "done": DONE.get(done or ""),
        "values": _form_values(view) | dict(form or {}),
        "errors": dict(errors or {}),
        "date_parts": dict(date_parts or {}),
        "conflict": conflict,
        "tags": TAGS,
        "update_states": UPDATE_STATES,
        "running": view.idea_status == "incubating",
    }
    return render(request, "incubation.html", context, status_code=status_of(errors=errors, conflict=conflict))


INCUBATION = "/incubations/{reference}"


@router.get(INCUBATION)
def incubation(request: Request, reference: Reference, person: SponsorOrAdmin, done: str | None = None) -> Response:
    return incubation_page(request, person, reference, done=done)


def done(reference: str, what: str) -> Response:
    return RedirectResponse(f"/incubations/{reference}?done={what}", status_code=303)


MILESTONE_TITLE = "Enter the milestone's title, in up to 200 characters"


@router.post(f"{INCUBATION}/milestones")
def add_milestone(request: Request, reference: Reference, person: SponsorOrAdmin, form: pages.PostedForm) -> Response:
    due = typed_date(form, "due", "The due date")
    # The title is checked even when the date is wrong, so that every error is shown at once.
    milestone = checked(
        MilestoneIn,
        {"title": form.get("milestone_title", ""), "due_on": due if isinstance(due, date) else date.min},
        {"title": MILESTONE_TITLE},
    )
    errors = {"milestone_title": MILESTONE_TITLE} if isinstance(milestone, dict) else {}
    if isinstance(due, DateProblem):
        errors[due.anchor] = due.message
    if errors or isinstance(milestone, dict):
        parts = {"due": due.parts} if isinstance(due, DateProblem) else {}
        return incubation_page(request, person, reference, form=form, errors=errors, date_parts=parts)
    try:
        with uow(request) as session:
            handlers.add_plan(
                session, reference, PlanIn(milestones=[milestone]), sponsor=person, settings=settings_of(request)
            )
    except REFUSED as exc:
        return incubation_page(request, person, reference, form=form, conflict=str(exc))
    return done(reference, "milestone-added")


FIGURES = {
    "budget": "Enter the budget in pounds, as a number of 0 or more, like 1500",
    "staff_days": "Enter the staff days as a number of 0 or more, like 12.5",
    "projected_benefits": "Keep the expected benefits under 5,000 characters",
    "projected_money_a_year": "Enter the money it should save a year in pounds, as a number of 0 or more",
    "projected_hours_a_year": "Enter the staff hours it should save a year, as a number of 0 or more",
    "projected_people": "Enter how many people it should affect, as a whole number of 0 or more",
}


@router.post(f"{INCUBATION}/plan")
def set_figures(request: Request, reference: Reference, person: SponsorOrAdmin, form: pages.PostedForm) -> Response:
    body: dict[str, Any] = {name: typed_number(form, name) for name in FIGURES}
    body["projected_benefits"] = typed_text(form, "projected_benefits")
    figures = checked(Figures, body, FIGURES)
    if isinstance(figures, dict):
        return incubation_page(request, person, reference, form=form, errors=figures)
    try:
        with uow(request) as session:
            handlers.set_figures(session, reference, figures, sponsor=person)
    except REFUSED as exc:
        return incubation_page(request, person, reference, form=form, conflict=str(exc))
    return done(reference, "plan")


UPDATE = {
    "state": "Choose how the work is going: on track, at risk or blocked",
    "note": "Write what has happened since the last update, in up to 5,000 characters",
}


@router.post(f"{INCUBATION}/updates")
def add_update(request: Request, reference: Reference, person: SponsorOrAdmin, form: pages.PostedForm) -> Response:
    body = {"state": form.get("state", ""), "note": form.get("note", ""), "private": "private" in form}
    update = checked(UpdateIn, body, UPDATE)
    if isinstance(update, dict):
        return incubation_page(request, person, reference, form=form, errors=update)
    try:
        with uow(request) as session:
            handlers.add_update(session, reference, update, sponsor=person)
    except REFUSED as exc:
        return incubation_page(request, person, reference, form=form, conflict=str(exc))
    return done(reference, "update")


OUTCOME = {
    "result": "Choose how it ended: implemented or closed",
    "benefits": "Say in words what benefits the idea brought, in up to 5,000 characters",
    "money_saved_a_year": "Enter the money saved a year in pounds, as a number of 0 or more, or leave it empty",
    "hours_saved_a_year": "Enter the staff hours saved a year as a number of 0 or more, or leave it empty",
    "people_affected": "Enter how many people it affected as a whole number of 0 or more, or leave it empty",
    "lessons": "Say what was learned, in up to 5,000 characters, so that others can learn it too",
    "summary": "Write a summary of how it ended, in up to 5,000 characters: the submitter reads it",
}


@router.post(f"{INCUBATION}/outcome")
def record_outcome(request: Request, reference: Reference, person: SponsorOrAdmin, form: pages.PostedForm) -> Response:
    result = form.get("result", "")
    implemented, closed = result == "implemented", result == "closed"
    body = {
        "result": result,
        "summary": form.get("summary", ""),
        # Only what the chosen result reveals: without JavaScript both are shown, and either may hold words.
        "benefits": typed_text(form, "benefits") if implemented else None,
        "money_saved_a_year": typed_number(form, "money_saved_a_year") if implemented else None,
        "hours_saved_a_year": typed_number(form, "hours_saved_a_year") if implemented else None,
        "people_affected": typed_number(form, "people_affected") if implemented else None,
        "lessons": typed_text(form, "lessons") if closed else None,
    }
    # The model's rule across fields, worded here so that it is shown with every other error at once.
    required = {"benefits": implemented, "lessons": closed}
    errors = {name: OUTCOME[name] for name, needed in required.items() if needed and not body[name]}
    outcome = checked(OutcomeIn, body, OUTCOME)
    if isinstance(outcome, dict) or errors:
        refused = outcome if isinstance(outcome, dict) else {}
        found = errors | {name: message for name, message in refused.items() if name} or refused
        order = [*OUTCOME, ""]
        ordered = dict(sorted(found.items(), key=lambda item: order.index(item[0])))
        return incubation_page(request, person, reference, form=form, errors=ordered)
    try:
        with uow(request) as session:
            handlers.record_outcome(session, reference, outcome, sponsor=person)
    except REFUSED as exc:
        return incubation_page(request, person, reference, form=form, conflict=str(exc))
    return done(reference, outcome.result)
