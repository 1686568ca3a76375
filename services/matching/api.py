"""Matching's HTTP routes: a sponsor's open offers, accept and decline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.matching import handlers
from services.matching.schemas import DeclineIn, OfferView
from shared.principal import Principal
from shared.web.deps import require, uow

router = APIRouter(prefix="/api/v1/offers", tags=["matching"])
Sponsor = Annotated[Principal, Depends(require("sponsor"))]


@router.get("", response_model=list[OfferView])
def my_offers(request: Request, sponsor: Sponsor) -> list[OfferView]:
    with uow(request) as session:
        return handlers.open_offers(session, sponsor=sponsor)


@router.post("/{offer_id}/accept")
def accept(request: Request, offer_id: int, sponsor: Sponsor) -> dict[str, str]:
    with uow(request) as session:
        reference = handlers.accept_offer(session, offer_id, sponsor=sponsor)
    return {"idea_reference": reference, "status": "incubating"}


@router.post("/{offer_id}/decline")
def decline(request: Request, offer_id: int, body: DeclineIn, sponsor: Sponsor) -> dict[str, str]:
    with uow(request) as session:
        reference = handlers.decline_offer(session, offer_id, sponsor=sponsor, reason=body.reason)
    return {"idea_reference": reference, "result": "declined; the idea goes to the next sponsor"}
