"""Thin actors: each calls one handler with the settings it needs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.matching import deadlines, handlers
from shared.clock import utcnow
from shared.contracts.events import IdeaStatusChangedV1, OfferAnsweredV1, OfferMadeV1
from shared.worker.declare import StageContext, stage_actor

QUEUE = "matching"


@stage_actor(queue=QUEUE)
def start_matching(session: Session, event: IdeaStatusChangedV1, ctx: StageContext) -> None:
    handlers.offer_next(session, event.idea_id, settings=ctx.settings, cause=event)


@stage_actor(queue=QUEUE)
def offer_declined(session: Session, event: OfferAnsweredV1, ctx: StageContext) -> None:
    """A decline or a lapse: the idea goes to the next sponsor."""
    handlers.offer_next(session, event.idea_id, settings=ctx.settings, cause=event)


@stage_actor(queue=QUEUE)
def idea_left_matching(session: Session, event: IdeaStatusChangedV1, ctx: StageContext) -> None:
    """Withdrawn or closed while offers were out: they lapse."""
    handlers.idea_left_matching(session, event)


@stage_actor(queue=QUEUE)
def remind_sponsor(session: Session, event: OfferMadeV1, ctx: StageContext) -> None:
    """Runs at the offer's reminder time (a delayed message)."""
    deadlines.remind_offer(session, event.offer_id, settings=ctx.settings, now=utcnow(), cause=event)


@stage_actor(queue=QUEUE)
def offer_deadline(session: Session, event: OfferMadeV1, ctx: StageContext) -> None:
    """Runs at the offer's deadline (a delayed message)."""
    deadlines.expire_offer(session, event.offer_id, now=utcnow(), cause=event)
