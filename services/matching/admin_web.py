"""Matching's page for administrators: an idea's offers with the ranking behind each, and, for an unmatched idea,
matching by hand (offer it to a named sponsor, match it again, or close it).

The "idea unmatched" email links here. The same handlers and models as the API do the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from services.matching import handlers, queries
from services.matching.schemas import CloseIn, OfferToIn
from services.matching.web import worded
from shared.errors import Conflict, IllegalTransition, InvalidField, StaleStatus
from shared.principal import Principal
from shared.web import pages
from shared.web.deps import require, settings_of, uow

PAGES = pages.Pages(
    "services.matching",
    site_name="Ideahub staff",
    home_url="/staff",
    private=True,
    forbidden="It is for administrators.",
    navigation=True,
)
_page = PAGES.render
router = PAGES.router()
Admin = Annotated[Principal, Depends(require("admin"))]
# An idea's reference (IH-2026-000123); anything else names no idea, and is not looked up.
Reference = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9-]+$")]

DONE = {
    "offered": "The idea has been offered to the sponsor you chose. We have emailed them.",
    "rematched": "The idea is being matched again: it will be offered to the best-fitting sponsor not asked yet.",
    "closed": "The idea is closed. We have told the submitter, with your reason.",
}
# Why the actions are not shown, for each status an idea may be in.
_IN_REVIEW = "The idea is still with its reviewers: it is offered to sponsors once they recommend it."
_OVER = "Its matching is over: there is nothing more to do here."
NO_ACTIONS = {
    "received": _IN_REVIEW,
    "in_review": _IN_REVIEW,
    "needs_info": _IN_REVIEW,
    "matching": "An offer is out, and the sponsor has until its deadline to answer. If nobody takes the idea on,"
    " it becomes unmatched and you can act here.",
    "incubating": "A sponsor has taken the idea on. " + _OVER,
}
MESSAGES = {
    "sponsor_email": "Choose the sponsor to offer the idea to",
    "reason": "Say why you are closing the idea, in up to 2,000 characters: the submitter is told",
}


def _matching_page(
    request: Request,
    reference: str,
    *,
    done: str | None = None,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    conflict: str | None = None,
) -> Response:
    with uow(request) as session:
        view = queries.matching(session, reference)
    context: dict[str, Any] = {
        "view": view,
        "done": DONE.get(done or ""),
        "form": dict(form or {}),
        "errors": dict(errors or {}),
        "conflict": conflict,
        "no_actions": NO_ACTIONS.get(view.status, _OVER),
    }
    return _page(request, "matching.html", context, status_code=422 if errors else 409 if conflict else 200)


MATCHING = "/admin/ideas/{reference}/matching"


@router.get(MATCHING)
def matching_page(request: Request, reference: Reference, _admin: Admin, done: str | None = None) -> Response:
    return _matching_page(request, reference, done=done)


def _done(reference: str, what: str) -> Response:
    return RedirectResponse(f"/admin/ideas/{reference}/matching?done={what}", status_code=303)


_REFUSED = (Conflict, IllegalTransition, StaleStatus)


@router.post(f"{MATCHING}/offer")
def offer_to(request: Request, reference: Reference, admin: Admin, form: pages.PostedForm) -> Response:
    try:
        body = OfferToIn(sponsor_email=form.get("sponsor_email", ""))
    except ValidationError:
        return _matching_page(request, reference, form=form, errors={"sponsor_email": MESSAGES["sponsor_email"]})
    try:
        with uow(request) as session:
            handlers.offer_to(session, reference, body.sponsor_email, admin=admin, settings=settings_of(request))
    except InvalidField:
        return _matching_page(request, reference, form=form, errors={"sponsor_email": MESSAGES["sponsor_email"]})
    except _REFUSED as exc:
        return _matching_page(request, reference, form=form, conflict=str(exc))
    return _done(reference, "offered")


@router.post(f"{MATCHING}/rematch")
def rematch(request: Request, reference: Reference, admin: Admin, _form: pages.PostedForm) -> Response:
    try:
        with uow(request) as session:
            handlers.rematch(session, reference, admin=admin)
    except _REFUSED as exc:
        return _matching_page(request, reference, conflict=str(exc))
    return _done(reference, "rematched")


@router.post(f"{MATCHING}/close")
def close(request: Request, reference: Reference, admin: Admin, form: pages.PostedForm) -> Response:
    try:
        body = CloseIn(reason=form.get("reason", ""))
    except ValidationError as exc:
        return _matching_page(request, reference, form=form, errors={"reason": worded(exc, MESSAGES["reason"])})
    try:
        with uow(request) as session:
            handlers.close_unmatched(session, reference, body.reason, admin=admin)
    except _REFUSED as exc:
        return _matching_page(request, reference, form=form, conflict=str(exc))
    return _done(reference, "closed")
