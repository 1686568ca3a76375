"""The staff directory's pages: everyone, found by role, whether active and words (`/admin/people`); adding a person
(`/admin/people/new`); changing one (`/admin/people/{id}`); deactivating one, after a page that says what follows
(`.../deactivate`), and reactivating them.

`infra.console.people` does the work, as for the API; these pages turn its refusals into words for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from infra.console import people
from infra.console.api import PersonIn
from infra.console.web import PAGES, Admin
from shared.errors import Conflict, InvalidField
from shared.principal import Principal
from shared.text import Printable
from shared.web import pages
from shared.web.deps import settings_of, uow
from shared.web.paging import Paging, pagination
from shared.web.params import RowId

router = PAGES.router()
_page = PAGES.render

RoleFilter = Literal["", "reviewer", "sponsor", "admin"]
ActiveFilter = Literal["", "yes", "no"]
Words = Annotated[str, Query(max_length=200), Printable]

ROLES = {"reviewer": "Reviewer", "sponsor": "Sponsor", "admin": "Administrator"}
ROLE_HINTS = {
    "reviewer": "Scores the ideas given to them, and may ask the submitter a question.",
    "sponsor": "Is offered ideas that fit their interests, and runs the incubations they take on.",
    "admin": "Manages people, watches the pipeline, and puts right what went wrong.",
}
_ROLE: dict[str, people.Role] = {"reviewer": "reviewer", "sponsor": "sponsor", "admin": "admin"}
ACTIVE = {"": "Everyone", "yes": "Active", "no": "Deactivated"}
_ACTIVE = {"yes": True, "no": False}
# The fields of the form, in the order of the page: an error summary lists them in this order.
FIELDS = ("email", "name", "role", "department", "themes", "interests", "capacity", "reason")
LABELS = {
    "email": "email address",
    "name": "full name",
    "department": "department",
    "themes": "themes",
    "interests": "interests",
    "reason": "reason",
}
EMAIL_FORMAT = "Enter an email address in the correct format, like name@example.gov.uk"
DONE = {
    "added": "They have been added. They can sign in with their email address now.",
    "changed": "Their details have been saved.",
    "deactivated": "They have been deactivated. They can no longer sign in or use the API, their waiting reviews"
    " have gone to other reviewers, and their open offers have lapsed to the next sponsor. Each idea records it"
    " on its timeline.",
    "reactivated": "They are active again and can sign in. Their old API tokens stay revoked: make a new one with"
    " ideahub users token if they need one.",
}


# --- words for people -----------------------------------------------------------------------------------------------


def _message(field: str, error: ErrorDetails) -> str:
    kind, said = error["type"], str(error.get("msg", ""))
    if "control characters" in said:
        return f"Remove the control characters (such as NUL) from the {LABELS.get(field, field)}"
    if field == "capacity":
        if kind in ("greater_than_equal", "less_than_equal"):
            return "Capacity must be between 0 and 1,000"
        return "Capacity must be a whole number, like 3"
    if field == "role":
        return "Select their role"
    if kind == "string_too_long":
        longest = int(error.get("ctx", {}).get("max_length", 0))
        return f"The {LABELS.get(field, field)} must be {longest:,} characters or fewer"
    if field == "email":
        return EMAIL_FORMAT
    if field == "name":
        return "Enter their full name"
    return f"Check the {LABELS.get(field, field)}"


def _errors(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        found.setdefault(field, _message(field, error))
    return found


def _in_order(errors: Mapping[str, str]) -> dict[str, str]:
    return {field: errors[field] for field in sorted(errors, key=lambda f: FIELDS.index(f) if f in FIELDS else 99)}


def _blank(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def _details(
    form: Mapping[str, str], *, departments: list[str], current: str | None = None, adding: bool = False
) -> dict[str, str]:
    """What the form's fields break before any model sees them: required answers, and a department from the list."""
    errors = {}
    if adding and not form.get("email", "").strip():
        errors["email"] = "Enter their email address"
    if not form.get("name", "").strip():
        errors["name"] = "Enter their full name"
    if form.get("role", "") not in ROLES:
        errors["role"] = "Select their role"
    department = form.get("department", "").strip()
    if department and department not in departments and department != current:
        errors["department"] = "Select a department from the list"
    if not form.get("capacity", "").strip():
        errors["capacity"] = "Enter their capacity, like 3"
    return errors


# --- the list -------------------------------------------------------------------------------------------------------


def shortened(text: str | None, longest: int = 60) -> str:
    whole = " ".join((text or "").split())
    return whole if len(whole) <= longest else whole[: longest - 1].rstrip() + "…"


@router.get("/admin/people")
def people_page(
    request: Request,
    _admin: Admin,
    paging: Paging,
    role: RoleFilter = "",
    active: ActiveFilter = "",
    q: Words = "",
) -> Response:
    words = q.strip()
    with uow(request) as session:
        found = people.people(
            session, page=paging, role=_ROLE.get(role), active=_ACTIVE.get(active), text=words or None
        )
    context: dict[str, Any] = {
        "people": found.items,
        "pages": pagination(request, found),
        "filters": {"role": role, "active": active, "q": words},
        "filtered": bool(role or active or words),
        "roles": ROLES,
        "actives": ACTIVE,
        "shortened": shortened,
    }
    return _page(request, "people/list.html", context)


# --- adding ---------------------------------------------------------------------------------------------------------


def _new_page(request: Request, form: Mapping[str, str], errors: Mapping[str, str] | None = None) -> Response:
    context: dict[str, Any] = {
        "form": dict(form),
        "errors": _in_order(errors or {}),
        "roles": ROLES,
        "role_hints": ROLE_HINTS,
        "departments": settings_of(request).departments,
    }
    return _page(request, "people/new.html", context, status_code=422 if errors else 200)


@router.get("/admin/people/new")
def new_person_page(request: Request, _admin: Admin) -> Response:
    return _new_page(request, {"capacity": "3"})


@router.post("/admin/people/new")
def add_person(request: Request, admin: Admin, form: pages.PostedForm) -> Response:
    errors = _details(form, departments=settings_of(request).departments, adding=True)
    fields = {
        "email": form.get("email", "").strip(),
        "name": form.get("name", ""),
        "role": form.get("role", ""),
        "department": _blank(form, "department"),
        "themes": _blank(form, "themes"),
        "interests": _blank(form, "interests"),
        "capacity": form.get("capacity", "").strip(),
    }
    try:
        body = PersonIn.model_validate(fields)
    except ValidationError as exc:
        return _new_page(request, form, _errors(exc) | errors)
    if errors:
        return _new_page(request, form, errors)
    try:
        with uow(request) as session:
            person_id = people.add(session, admin=admin, **body.model_dump())
    except InvalidField as exc:  # the address: taken already, or not the shape of one
        if "already registered" in exc.message:
            return _new_page(request, form, {"email": "Someone with this email address is already registered"})
        if exc.field == "email":
            return _new_page(request, form, {"email": EMAIL_FORMAT})
        return _new_page(request, form, {exc.field: f"Check the {LABELS.get(exc.field, exc.field)}"})
    return RedirectResponse(f"/admin/people/{person_id}?done=added", status_code=303)


# --- one person -----------------------------------------------------------------------------------------------------


def _form_of(view: people.PersonView) -> dict[str, str]:
    return {
        "name": view.name,
        "role": view.role,
        "department": view.department or "",
        "themes": view.themes or "",
        "interests": view.interests or "",
        "capacity": str(view.capacity),
    }


def _person_page(
    request: Request,
    admin: Principal,
    person_id: int,
    *,
    done: str | None = None,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    conflict: str | None = None,
) -> Response:
    with uow(request) as session:
        view = people.one(session, person_id)
    departments = list(settings_of(request).departments)
    if view.department and view.department not in departments:
        departments.append(view.department)  # registered before the list changed, or by a CSV import
    context: dict[str, Any] = {
        "person": view,
        "yourself": view.id == admin.id,
        "done": DONE.get(done or ""),
        "form": dict(form) if form is not None else _form_of(view),
        "errors": _in_order(errors or {}),
        "conflict": conflict,
        "roles": ROLES,
        "role_hints": ROLE_HINTS,
        "departments": departments,
    }
    return _page(request, "people/person.html", context, status_code=422 if errors else 409 if conflict else 200)


@router.get("/admin/people/{person_id}")
def person_page(request: Request, person_id: RowId, admin: Admin, done: str | None = None) -> Response:
    return _person_page(request, admin, person_id, done=done)


@router.post("/admin/people/{person_id}")
def change_person(request: Request, person_id: RowId, admin: Admin, form: pages.PostedForm) -> Response:
    with uow(request) as session:
        current = people.one(session, person_id).department
    errors = _details(form, departments=settings_of(request).departments, current=current)
    fields = {
        "name": form.get("name", ""),
        "role": form.get("role") or None,
        "department": form.get("department", "").strip(),  # empty: no department
        "themes": form.get("themes", "").strip(),
        "interests": form.get("interests", "").strip(),
        "capacity": form.get("capacity", "").strip() or None,
    }
    try:
        change = people.PersonChange.model_validate(fields)
    except ValidationError as exc:
        return _person_page(request, admin, person_id, form=form, errors=_errors(exc) | errors)
    if errors:
        return _person_page(request, admin, person_id, form=form, errors=errors)
    try:
        with uow(request) as session:
            people.change(session, person_id, change, admin=admin, settings=settings_of(request))
    except Conflict as exc:
        return _person_page(request, admin, person_id, form=form, conflict=str(exc))
    return RedirectResponse(f"/admin/people/{person_id}?done=changed", status_code=303)


# --- deactivating and reactivating ----------------------------------------------------------------------------------


def _deactivate_page(
    request: Request,
    admin: Principal,
    person_id: int,
    *,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    conflict: str | None = None,
) -> Response:
    with uow(request) as session:
        view = people.one(session, person_id)
    context: dict[str, Any] = {
        "person": view,
        "yourself": view.id == admin.id,
        "form": dict(form or {}),
        "errors": dict(errors or {}),
        "conflict": conflict,
        "roles": ROLES,
    }
    return _page(request, "people/deactivate.html", context, status_code=422 if errors else 409 if conflict else 200)


@router.get("/admin/people/{person_id}/deactivate")
def deactivate_page(request: Request, person_id: RowId, admin: Admin) -> Response:
    return _deactivate_page(request, admin, person_id)


@router.post("/admin/people/{person_id}/deactivate")
def deactivate(request: Request, person_id: RowId, admin: Admin, form: pages.PostedForm) -> Response:
    reason = form.get("reason", "").strip()
    try:
        change = people.PersonChange(active=False, reason=reason)
    except ValidationError as exc:
        return _deactivate_page(request, admin, person_id, form=form, errors={"reason": _errors(exc)["reason"]})
    if not reason:
        errors = {"reason": "Enter why you are deactivating them"}
        return _deactivate_page(request, admin, person_id, form=form, errors=errors)
    try:
        with uow(request) as session:
            if not people.one(session, person_id).active:
                raise Conflict("they are deactivated already")
            people.change(session, person_id, change, admin=admin, settings=settings_of(request))
    except Conflict as exc:
        return _deactivate_page(request, admin, person_id, form=form, conflict=str(exc))
    return RedirectResponse(f"/admin/people/{person_id}?done=deactivated", status_code=303)


@router.post("/admin/people/{person_id}/reactivate")
def reactivate(request: Request, person_id: RowId, admin: Admin, _form: pages.PostedForm) -> Response:
    with uow(request) as session:
        people.change(session, person_id, people.PersonChange(active=True), admin=admin, settings=settings_of(request))
    return RedirectResponse(f"/admin/people/{person_id}?done=reactivated", status_code=303)
