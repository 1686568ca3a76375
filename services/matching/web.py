"""Matching's pages for sponsors: the ideas offered to me, one offer in full, accepting and declining it.

The same handlers and queries as the API do the work and the same `DeclineIn` model checks what was typed;
these routes add GOV.UK markup, a CSRF check on every form and messages in plain words. Another sponsor's
offer is not found. Administrators' matching by hand is in `admin_web.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from services.matching import handlers, queries
from services.matching.schemas import DeclineIn
from shared.errors import Conflict
from shared.principal import Principal
from shared.web import pages
from shared.web.deps import require, uow
from shared.web.paging import Paging, pagination
from shared.web.params import RowId

PAGES = pages.Pages(
    "services.matching",
    site_name="Ideahub staff",
    home_url="/staff",
    private=True,
    forbidden="It is for sponsors.",
    navigation=True,
)
_page = PAGES.render
router = PAGES.router()
Sponsor = Annotated[Principal, Depends(require("sponsor"))]

DONE = {
    "declined": "You have declined this idea. We will offer it to another sponsor.",
}
DECLINE_REASON = "Say why you are declining this idea, in up to 2,000 characters"


def worded(exc: ValidationError, message: str) -> str:
    """The message for a refused reason: `message`, unless the refusal was for control characters."""
    if any("control characters" in str(error.get("msg", "")) for error in exc.errors()):
        return "Remove the control characters (such as NUL) from the text: they cannot be stored"
    return message


def days_left(days: int) -> str:
    """ "3 working days left", as a person counts them; 0 is the day it is due."""
    if days <= 0:
        return "due today"
    return f"{days} working day{'s' if days != 1 else ''} left"


@router.get("/offers")
def offers_page(request: Request, sponsor: Sponsor, paging: Paging) -> Response:
    with uow(request) as session:
        page = queries.open_offers(session, sponsor=sponsor, page=paging)
    context = {"offers": page.items, "pages": pagination(request, page), "person": sponsor, "days_left": days_left}
    return _page(request, "offers.html", context)


def _offer_page(
    request: Request,
    sponsor: Principal,
    offer_id: int,
    *,
    done: str | None = None,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    conflict: str | None = None,
) -> Response:
    with uow(request) as session:
        offer = queries.offer_detail(session, offer_id, sponsor=sponsor)
    context: dict[str, Any] = {
        "offer": offer,
        "done": DONE.get(done or ""),
        "form": dict(form or {}),
        "errors": dict(errors or {}),
        "conflict": conflict,
        "days_left": days_left,
    }
    return _page(request, "offer.html", context, status_code=422 if errors else 409 if conflict else 200)


@router.get("/offers/{offer_id}")
def offer_page(request: Request, offer_id: RowId, sponsor: Sponsor, done: str | None = None) -> Response:
    return _offer_page(request, sponsor, offer_id, done=done)


@router.post("/offers/{offer_id}/accept")
def accept(request: Request, offer_id: RowId, sponsor: Sponsor, _form: pages.PostedForm) -> Response:
    try:
        with uow(request) as session:
            reference = handlers.accept_offer(session, offer_id, sponsor=sponsor)
    except Conflict as exc:
        return _offer_page(request, sponsor, offer_id, conflict=str(exc))
    return RedirectResponse(f"/incubations/{reference}?done=accepted", status_code=303)


@router.post("/offers/{offer_id}/decline")
def decline(request: Request, offer_id: RowId, sponsor: Sponsor, form: pages.PostedForm) -> Response:
    try:
        body = DeclineIn(reason=form.get("reason", ""))
    except ValidationError as exc:
        errors = {"reason": worded(exc, DECLINE_REASON)}
        return _offer_page(request, sponsor, offer_id, form=form, errors=errors)
    try:
        with uow(request) as session:
            handlers.decline_offer(session, offer_id, sponsor=sponsor, reason=body.reason)
    except Conflict as exc:
        return _offer_page(request, sponsor, offer_id, form=form, conflict=str(exc))
    return RedirectResponse(f"/offers/{offer_id}?done=declined", status_code=303)
