"""Incubation's case study page: the write-up of an idea's outcome, a preview of how it will read when published,
and, for administrators, publishing and withdrawing it.

The sponsor or an administrator writes it, starting from `case_studies.draft()`; only an administrator
publishes or withdraws it, and only an administrator changes one that is published. The `CaseStudyIn` model
decides what may be published (never an email address).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from services.incubation import case_studies, queries
from services.incubation.schemas import CaseStudyIn
from services.incubation.web import REFUSED
from services.incubation.web_common import (
    PAGES,
    Admin,
    Reference,
    SponsorOrAdmin,
    checked,
    plain_number,
    render,
    status_of,
    typed_number,
    typed_text,
)
from shared.errors import Conflict
from shared.principal import Principal
from shared.web import pages
from shared.web.deps import uow

router = PAGES.router()
CASE_STUDY = "/incubations/{reference}/case-study"

FIELDS = {
    "title": "Enter a title, in up to 200 characters",
    "summary": "Write a one-line summary, in up to 300 characters",
    "problem": "Describe the problem the idea solved, in up to 5,000 characters",
    "what_was_done": "Say what was done, in up to 5,000 characters",
    "benefits": "Keep the benefits under 5,000 characters",
    "money_saved_a_year": "Enter the money saved a year in pounds, as a number of 0 or more, or leave it empty",
    "hours_saved_a_year": "Enter the staff hours saved a year as a number of 0 or more, or leave it empty",
    "people_affected": "Enter how many people it affected as a whole number of 0 or more, or leave it empty",
    "lessons": "Keep the lessons under 5,000 characters",
}
NUMBERS = ("money_saved_a_year", "hours_saved_a_year", "people_affected")
DONE = {
    "saved": "The case study has been saved",
    "published": "The case study is published: anyone can read it",
    "withdrawn": "The case study has been withdrawn: it is no longer public",
}


def _values(draft: CaseStudyIn) -> dict[str, str]:
    values = {name: getattr(draft, name, None) for name in FIELDS}
    return {name: plain_number(value) if name in NUMBERS else (value or "") for name, value in values.items()}


def _page(
    request: Request,
    person: Principal,
    reference: str,
    *,
    done: str | None = None,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    conflict: str | None = None,
) -> Response:
    with uow(request) as session:
        try:
            view = queries.incubation(session, reference, person=person)
            draft = case_studies.draft(session, reference, author=person)
        except Conflict as exc:  # no outcome yet (or the incubation is being set up): nothing to write up
            waiting = {"reference": reference, "message": str(exc)}
            return render(request, "case_study_not_ready.html", waiting, status_code=409)
        found = case_studies.preview(session, reference, author=person)
    context: dict[str, Any] = {
        "view": view,
        "person": person,
        "values": _values(draft) | dict(form or {}),
        "errors": dict(errors or {}),
        "conflict": conflict,
        "done": DONE.get(done or ""),
        "state": found[1] if found else None,
        "preview": found[2] if found else None,
    }
    return render(request, "case_study_edit.html", context, status_code=status_of(errors=errors, conflict=conflict))


@router.get(CASE_STUDY)
def case_study_page(
    request: Request, reference: Reference, person: SponsorOrAdmin, done: str | None = None
) -> Response:
    return _page(request, person, reference, done=done)


def _done(reference: str, what: str) -> Response:
    return RedirectResponse(f"/incubations/{reference}/case-study?done={what}", status_code=303)


@router.post(CASE_STUDY)
def write(request: Request, reference: Reference, person: SponsorOrAdmin, form: pages.PostedForm) -> Response:
    body: dict[str, Any] = {name: form.get(name, "") for name in ("title", "summary", "problem", "what_was_done")}
    body |= {name: typed_text(form, name) for name in ("benefits", "lessons")}
    body |= {name: typed_number(form, name) for name in NUMBERS}
    text = checked(CaseStudyIn, body, FIELDS)
    if isinstance(text, dict):
        return _page(request, person, reference, form=form, errors=text)
    try:
        with uow(request) as session:
            case_studies.write(session, reference, text, author=person)
    except REFUSED as exc:
        return _page(request, person, reference, form=form, conflict=str(exc))
    return _done(reference, "saved")


def _case_study_id(request: Request, admin: Principal, reference: str) -> int:
    with uow(request) as session:
        found = case_studies.preview(session, reference, author=admin)
    if found is None:
        raise Conflict("there is no case study yet: write it and save it first")
    return found[0]


@router.post(f"{CASE_STUDY}/publish")
def publish(request: Request, reference: Reference, admin: Admin, _form: pages.PostedForm) -> Response:
    try:
        case_study_id = _case_study_id(request, admin, reference)
        with uow(request) as session:
            case_studies.publish(session, case_study_id, admin=admin)
    except REFUSED as exc:
        return _page(request, admin, reference, conflict=str(exc))
    return _done(reference, "published")


@router.post(f"{CASE_STUDY}/withdraw")
def withdraw(request: Request, reference: Reference, admin: Admin, _form: pages.PostedForm) -> Response:
    try:
        case_study_id = _case_study_id(request, admin, reference)
        with uow(request) as session:
            case_studies.withdraw(session, case_study_id, admin=admin)
    except REFUSED as exc:
        return _page(request, admin, reference, conflict=str(exc))
    return _done(reference, "withdrawn")
