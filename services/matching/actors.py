"""Thin actors: each calls one handler with the settings it needs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.matching import handlers
from shared.contracts.events import IdeaStatusChangedV1, OfferAnsweredV1
from shared.worker.stage import StageContext, stage_actor

QUEUE = "matching"


@stage_actor(queue=QUEUE)
def start_matching(session: Session, event: IdeaStatusChangedV1, ctx: StageContext) -> None:
    handlers.offer_next(session, event.idea_id, settings=ctx.settings, cause=event)


@stage_actor(queue=QUEUE)
def offer_declined(session: Session, event: OfferAnsweredV1, ctx: StageContext) -> None:
    handlers.offer_next(session, event.idea_id, settings=ctx.settings, cause=event)
