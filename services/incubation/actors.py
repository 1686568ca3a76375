"""Thin actors: each calls one handler."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.incubation import handlers
from shared.contracts.events import OfferAnsweredV1
from shared.worker.declare import StageContext, stage_actor

QUEUE = "incubation"


@stage_actor(queue=QUEUE)
def start_incubation(session: Session, event: OfferAnsweredV1, ctx: StageContext) -> None:
    handlers.start(session, event)
