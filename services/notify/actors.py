"""Thin actors: each calls one handler with the settings it needs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.notify import handlers
from shared.contracts.events import IdeaReceivedV1, IdeaStatusChangedV1
from shared.worker.stage import StageContext, stage_actor

QUEUE = "notify"


@stage_actor(queue=QUEUE)
def idea_received(session: Session, event: IdeaReceivedV1, ctx: StageContext) -> None:
    handlers.idea_received(session, event, settings=ctx.settings)


@stage_actor(queue=QUEUE)
def status_changed(session: Session, event: IdeaStatusChangedV1, ctx: StageContext) -> None:
    handlers.status_changed(session, event, settings=ctx.settings)
