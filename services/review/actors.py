"""Thin actors: each calls one handler with the settings it needs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.review import handlers
from shared.contracts.events import IdeaReceivedV1, ReviewSubmittedV1
from shared.worker.stage import StageContext, stage_actor

QUEUE = "review"


@stage_actor(queue=QUEUE)
def screen_idea(session: Session, event: IdeaReceivedV1, ctx: StageContext) -> None:
    handlers.screen_idea(session, event, settings=ctx.settings)


@stage_actor(queue=QUEUE)
def decide(session: Session, event: ReviewSubmittedV1, ctx: StageContext) -> None:
    handlers.decide(session, event, settings=ctx.settings)
