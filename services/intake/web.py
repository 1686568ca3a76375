"""Intake's HTML pages: the idea form, its confirmation, and the submitter's status page.

The same handlers as the API do the work, and the same `Submission` model checks what was
typed; these routes add GOV.UK markup, a CSRF check on every form and error messages in
plain words. Whatever goes wrong on a page is answered with a page (404, the 400 "form
expired", 429), never the API's JSON.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from services.intake import handlers
from services.intake.schemas import OutcomeShown, Submission, Withdrawal
from shared import lifecycle
from shared.errors import Conflict, IllegalTransition, NotFound, StaleStatus
from shared.logging import get_logger
from shared.web import pages
from shared.web.deps import settings_of, uow, within_rate_limit

log = get_logger("ideahub.intake")

# A status token is `secrets.token_urlsafe(24)`; anything else is not looked up at all.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_SUBMISSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

STATUS_LABELS: dict[lifecycle.Status, str] = {
    lifecycle.Status.RECEIVED: "Received",
    lifecycle.Status.IN_REVIEW: "In review",
    lifecycle.Status.NEEDS_INFO: "Question for you",
    lifecycle.Status.MATCHING: "Finding a sponsor",
    lifecycle.Status.UNMATCHED: "Waiting for a sponsor",
    lifecycle.Status.INCUBATING: "Being tried out",
    lifecycle.Status.IMPLEMENTED: "Put into practice",
    lifecycle.Status.CLOSED: "Closed",
    lifecycle.Status.REJECTED: "Not taken forward",
    lifecycle.Status.DUPLICATE: "Duplicate",
    lifecycle.Status.WITHDRAWN: "Withdrawn",
}
DONE = {
    "answered": "Thank you: we have your answer",
    "withdrawn": "You have withdrawn your idea",
    "credit-yes": "Saved: a case study of your idea may name you",
    "credit-no": "Saved: a case study of your idea will not name you",
}
# (words, GOV.UK tag colour) for the states the submitter sees of their idea's incubation.
MILESTONE_TAGS = {
    "reached": ("Reached", "govuk-tag--green"),
    "overdue": ("Overdue", "govuk-tag--red"),
    "open": ("To do", "govuk-tag--grey"),
}
PROGRESS_TAGS = {
    "on_track": ("On track", "govuk-tag--green"),
    "at_risk": ("At risk", "govuk-tag--yellow"),
    "blocked": ("Blocked", "govuk-tag--red"),
}
OUTCOME_TAGS = {"implemented": ("Put into practice", "govuk-tag--green"), "closed": ("Closed", "govuk-tag--grey")}
CREDIT_CHOICES = {"yes": True, "no": False}


@dataclass(frozen=True)
class FormField:
    name: str
    named: str  # how an error message names it
    empty: str | None = None  # the message when left empty; None when it may be


# In page order, which is also the error summary's order.
FIELDS = {
    f.name: f
    for f in (
        FormField("title", "Title", "Enter a title"),
        FormField("problem", "The problem", "Describe the problem"),
        FormField("idea", "Your idea", "Describe your idea"),
        FormField("benefit", "The difference it would make"),
        FormField("department", "Department", "Select your department"),
        FormField("theme", "Theme"),
        FormField("name", "Your name"),
        FormField("email", "Email address", "Enter your email address"),
    )
}


PAGES = pages.Pages("services.intake", site_name="Ideahub", home_url="/ideas/new")
_page = PAGES.render
router = PAGES.router()


def _checked(token: str) -> str:
    """A token that cannot be one is not found, exactly like an unknown one."""
    if not _TOKEN.match(token):
        raise NotFound("no idea has that status link")
    return token


# The idea form


def _message(field: FormField, typed: str, error: Mapping[str, Any]) -> str:
    if field.empty and not typed.strip():
        return field.empty
    if error["type"] == "string_too_long":
        return f"{field.named} must be {error['ctx']['max_length']:,} characters or fewer"
    text = str(error["msg"]).removeprefix("Value error, ")
    if "single line" in text:
        return f"{field.named} must be on one line"
    return text[:1].upper() + text[1:]


def validate(values: Mapping[str, Any], departments: list[str]) -> tuple[Submission | None, dict[str, str]]:
    """The form's values through the API's `Submission` model; messages by field, in page order."""
    errors: dict[str, str] = {}
    department = values["department"].strip()
    if not department:
        errors["department"] = "Select your department"
    elif department not in departments:
        errors["department"] = "Select your department from the list"
    data: dict[str, Any] = {
        name: values[name] if values[name].strip() or FIELDS[name].empty else None for name in FIELDS
    }
    data["anonymous"] = values["anonymous"]
    submission = None
    try:
        submission = Submission.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            if name in FIELDS:
                errors.setdefault(name, _message(FIELDS[name], values[name], error))
    ordered = {name: errors[name] for name in FIELDS if name in errors}
    return (submission if not ordered else None), ordered


def _form_values(form: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {name: form.get(name, "") for name in FIELDS}
    values["anonymous"] = form.get("anonymous") == "yes"
    return values


def _form(
    request: Request, values: Mapping[str, Any], errors: Mapping[str, str], submission_id: str, status_code: int
) -> Response:
    context = {
        "values": values,
        "errors": errors,
        "submission_id": submission_id,
        "departments": settings_of(request).departments,
    }
    return _page(request, "new_idea.html", context, status_code=status_code)


@router.get("/")
def home() -> Response:
    """The front door is the form: most people who come here have an idea to send."""
    return RedirectResponse("/ideas/new", status_code=303)


@router.get("/ideas/new")
def new_idea(request: Request) -> Response:
    empty = {name: "" for name in FIELDS} | {"anonymous": False}
    # A fresh id for every form shown: sending the same one twice (a double click, a resend) makes one idea.
    return _form(request, empty, {}, secrets.token_urlsafe(16), 200)


@router.post("/ideas/new", dependencies=[Depends(within_rate_limit)])
def send_idea(request: Request, form: pages.PostedForm) -> Response:
    submission_id = form.get("submission_id", "")
    if not _SUBMISSION_ID.match(submission_id):
        raise pages.FormExpired
    settings = settings_of(request)
    values = _form_values(form)
    submission, errors = validate(values, settings.departments)
    if submission is None:
        return _form(request, values, errors, submission_id, 422)
    source = handlers.Source(
        key="web:" + handlers.digest(submission_id), fingerprint=handlers.fingerprint_of(submission)
    )
    try:
        with uow(request) as session:
            created = handlers.submit_idea(
                session, submission, channel="web", departments=settings.departments, source=source
            )
    except handlers.InvalidSubmission as exc:
        field = FIELDS.get(exc.field)
        message = "Select your department from the list" if exc.field == "department" else exc.message
        return _form(request, values, {field.name if field else "": message}, submission_id, 422)
    except Conflict:
        # The same form sent again with other words (back, edit, send): offer to send it as a new idea.
        message = "You have already sent an idea from this form. To send this one as a new idea, check it and send it."
        return _form(request, values, {"": message}, secrets.token_urlsafe(16), 409)
    log.info("intake.web_idea_sent", reference=created.reference, new=created.new)
    return RedirectResponse(f"/ideas/confirmation/{created.status_token}", status_code=303)


@router.get("/ideas/confirmation/{token}")
def confirmation(request: Request, token: str) -> Response:
    with uow(request) as session:
        view = handlers.status_view(session, _checked(token))
    status_path = f"/status/{token}"
    context = {
        "reference": view.reference,
        "status_path": status_path,
        "status_url": settings_of(request).public_url.rstrip("/") + status_path,
    }
    return _page(request, "confirmation.html", context, headers=pages.PRIVATE)


# The status page


def long_date(value: date) -> str:
    """`31 March 2027`, as GOV.UK writes a date."""
    return f"{value.day} {value:%B %Y}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}".rstrip("0").rstrip(".")


def figures(outcome: OutcomeShown | None) -> list[tuple[str, str]]:
    """The outcome's numbers that were given, with thousands separators, as the case-study pages write them."""
    if outcome is None:
        return []
    found = []
    if outcome.money_saved_a_year is not None:
        money = outcome.money_saved_a_year
        found.append(("Money saved a year", f"£{money:,.0f}" if money == int(money) else f"£{money:,.2f}"))
    if outcome.hours_saved_a_year is not None:
        found.append(("Staff hours saved a year", _number(outcome.hours_saved_a_year)))
    if outcome.people_affected is not None:
        found.append(("People affected", f"{outcome.people_affected:,}"))
    return found


def _status_page(
    request: Request,
    token: str,
    *,
    errors: Mapping[str, str] | None = None,
    answer: str = "",
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    with uow(request) as session:
        view = handlers.status_view(session, token)
    context = {
        "view": view,
        "token": token,
        "status_label": STATUS_LABELS[lifecycle.Status(view.status)],
        "history": list(reversed(view.history)),  # newest first
        "errors": errors or {},
        "answer": answer,
        "done": DONE.get(done or ""),
        "milestone_tags": MILESTONE_TAGS,
        "progress_tags": PROGRESS_TAGS,
        "outcome_tags": OUTCOME_TAGS,
        "figures": figures(view.incubation.outcome if view.incubation else None),
        "long_date": long_date,
    }
    return _page(request, "status.html", context, status_code=status_code, headers=pages.PRIVATE)


@router.get("/status/{token}")
def status_page(request: Request, token: str, done: str | None = None) -> Response:
    return _status_page(request, _checked(token), done=done)


def _answer_error(text: str) -> str:
    return "Enter your answer" if not text.strip() else "Your answer must be 10,000 characters or fewer"


@router.post("/status/{token}/answer", dependencies=[Depends(within_rate_limit)])
def answer(request: Request, token: str, form: pages.PostedForm) -> Response:
    text = form.get("answer", "")
    try:
        with uow(request) as session:
            handlers.answer(session, _checked(token), text, channel="web")
    except handlers.InvalidSubmission:
        return _status_page(request, token, errors={"answer": _answer_error(text)}, answer=text, status_code=422)
    except (Conflict, StaleStatus):
        message = "There is no question to answer now. Check your idea's status below."
        return _status_page(request, token, errors={"": message}, status_code=409)
    return RedirectResponse(f"/status/{token}?done=answered", status_code=303)


@router.post("/status/{token}/credit", dependencies=[Depends(within_rate_limit)])
def answer_credit(request: Request, token: str, form: pages.PostedForm) -> Response:
    """The submitter's answer to "may we name you in a case study?"; they may change it at any time."""
    _checked(token)
    choice = form.get("credit_by_name", "")
    if choice not in CREDIT_CHOICES:
        errors = {"credit_by_name": "Select yes if a case study may name you"}
        return _status_page(request, token, errors=errors, status_code=422)
    try:
        with uow(request) as session:
            handlers.answer_credit(session, token, credit_by_name=CREDIT_CHOICES[choice])
    except Conflict as exc:  # anonymous, or no outcome yet: the question is not asked
        message = str(exc)
        return _status_page(request, token, errors={"": message[:1].upper() + message[1:] + "."}, status_code=409)
    return RedirectResponse(f"/status/{token}?done=credit-{choice}", status_code=303)


def _withdraw_page(
    request: Request, token: str, *, reason: str = "", errors: Mapping[str, str] | None = None, status_code: int = 200
) -> Response:
    with uow(request) as session:
        view = handlers.status_view(session, token)
    if view.final:
        return RedirectResponse(f"/status/{token}", status_code=303)
    context = {"view": view, "token": token, "reason": reason, "errors": errors or {}}
    return _page(request, "withdraw.html", context, status_code=status_code, headers=pages.PRIVATE)


@router.get("/status/{token}/withdraw")
def confirm_withdrawal(request: Request, token: str) -> Response:
    return _withdraw_page(request, _checked(token))


@router.post("/status/{token}/withdraw", dependencies=[Depends(within_rate_limit)])
def withdraw(request: Request, token: str, form: pages.PostedForm) -> Response:
    _checked(token)
    reason = form.get("reason", "")
    try:
        withdrawal = Withdrawal(reason=reason.strip() or None)
    except ValidationError:
        errors = {"reason": "Your reason must be 2,000 characters or fewer"}
        return _withdraw_page(request, token, reason=reason, errors=errors, status_code=422)
    try:
        with uow(request) as session:
            reference = handlers.withdraw(session, token, reason=withdrawal.reason)
    except IllegalTransition:
        message = "Your idea has reached a final decision, so it can no longer be withdrawn."
        return _status_page(request, token, errors={"": message}, status_code=409)
    except StaleStatus:
        message = "Your idea's status changed as you sent that. Check it below, then try again."
        return _status_page(request, token, errors={"": message}, status_code=409)
    log.info("intake.web_idea_withdrawn", reference=reference)
    return RedirectResponse(f"/status/{token}?done=withdrawn", status_code=303)


@router.get("/status/{rest:path}")
def no_such_status_page(rest: str) -> Response:
    """Any other address under /status/ gets the same 404 page as an unknown token."""
    raise NotFound("no such page")
