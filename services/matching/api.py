"""Matching's HTTP routes: a sponsor's offers (list, one in full, accept, decline), and administrators'
matching by hand for an unmatched idea (offer to a named sponsor, match again, close)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.matching import handlers, queries
from services.matching.schemas import CloseIn, DeclineIn, MatchingView, OfferDetail, OfferToIn, OfferView
from shared.principal import Principal
from shared.web.deps import require, settings_of, uow
from shared.web.paging import Paging, link_next
from shared.web.params import RowId

router = APIRouter(tags=["matching"])
Sponsor = Annotated[Principal, Depends(require("sponsor"))]
Admin = Annotated[Principal, Depends(require("admin"))]


@router.get("/api/v1/offers", response_model=list[OfferView])
def my_offers(request: Request, response: Response, sponsor: Sponsor, paging: Paging) -> list[OfferView]:
    """My open offers, soonest deadline first, with the reasons I was chosen; paginated."""
    with uow(request) as session:
        page = queries.open_offers(session, sponsor=sponsor, page=paging)
    link_next(request, response, page)
    return page.items


@router.get("/api/v1/offers/{offer_id}", response_model=OfferDetail)
def one_offer(request: Request, offer_id: RowId, sponsor: Sponsor) -> OfferDetail:
    """One of my offers in full: the idea, its reviews' scores and comments, likely duplicates, why me."""
    with uow(request) as session:
        return queries.offer_detail(session, offer_id, sponsor=sponsor)


@router.post("/api/v1/offers/{offer_id}/accept")
def accept(request: Request, offer_id: RowId, sponsor: Sponsor) -> dict[str, str]:
    with uow(request) as session:
        reference = handlers.accept_offer(session, offer_id, sponsor=sponsor)
    return {"idea_reference": reference, "status": "incubating"}


@router.post("/api/v1/offers/{offer_id}/decline")
def decline(request: Request, offer_id: RowId, body: DeclineIn, sponsor: Sponsor) -> dict[str, str]:
    with uow(request) as session:
        reference = handlers.decline_offer(session, offer_id, sponsor=sponsor, reason=body.reason)
    return {"idea_reference": reference, "result": "declined; the idea goes to the next sponsor"}


@router.get("/api/v1/admin/ideas/{reference}/matching", response_model=MatchingView)
def idea_matching(request: Request, reference: str, admin: Admin) -> MatchingView:
    """An idea's offers with the ranking behind each, and the sponsors it could still be offered to."""
    with uow(request) as session:
        return queries.matching(session, reference)


@router.post("/api/v1/admin/ideas/{reference}/offer", status_code=201)
def offer_to(request: Request, reference: str, body: OfferToIn, admin: Admin) -> dict[str, object]:
    """Offer an unmatched idea to a named sponsor (who was not asked before and has a place free)."""
    with uow(request) as session:
        offer_id = handlers.offer_to(session, reference, body.sponsor_email, admin=admin, settings=settings_of(request))
    return {"idea_reference": reference, "status": "matching", "offer_id": offer_id}


@router.post("/api/v1/admin/ideas/{reference}/rematch")
def rematch(request: Request, reference: str, admin: Admin) -> dict[str, str]:
    """Match an unmatched idea again: a new round of offers, to sponsors not asked before."""
    with uow(request) as session:
        handlers.rematch(session, reference, admin=admin)
    return {"idea_reference": reference, "status": "matching"}


@router.post("/api/v1/admin/ideas/{reference}/close")
def close(request: Request, reference: str, body: CloseIn, admin: Admin) -> dict[str, str]:
    """Close an unmatched idea, with the reason its submitter is told."""
    with uow(request) as session:
        handlers.close_unmatched(session, reference, body.reason, admin=admin)
    return {"idea_reference": reference, "status": "closed"}
