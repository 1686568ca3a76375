"""Thin actors: each calls one handler with the settings it needs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.notify import handlers
from shared.contracts.events import IdeaReceivedV1, IdeaStatusChangedV1
from shared.worker.stage import StageContext, stage_actor

QUEUE = "notify"
# Each send is keyed by (event, recipient, channel) in `notifications`: that row is the record that the
# event was handled, so the generic processed_messages row is not written as well.


@stage_actor(queue=QUEUE, dedupe=False)
def idea_received(session: Session, event: IdeaReceivedV1, ctx: StageContext) -> None:
    handlers.idea_received(session, event, settings=ctx.settings)


@stage_actor(queue=QUEUE, dedupe=False)
def status_changed(session: Session, event: IdeaStatusChangedV1, ctx: StageContext) -> None:
    handlers.status_changed(session, event, settings=ctx.settings)
