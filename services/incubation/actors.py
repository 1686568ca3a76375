"""Thin actors: each calls one handler."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.incubation import deadlines, handlers
from shared.clock import utcnow
from shared.contracts.events import MilestoneScheduledV1, OfferAnsweredV1
from shared.worker.declare import StageContext, stage_actor

QUEUE = "incubation"


@stage_actor(queue=QUEUE)
def start_incubation(session: Session, event: OfferAnsweredV1, ctx: StageContext) -> None:
    handlers.start(session, event)


@stage_actor(queue=QUEUE)
def remind_milestone(session: Session, event: MilestoneScheduledV1, ctx: StageContext) -> None:
    """Runs at the milestone's reminder time (a delayed message)."""
    deadlines.remind_milestone(session, event.milestone_id, settings=ctx.settings, now=utcnow(), cause=event)


@stage_actor(queue=QUEUE)
def milestone_overdue(session: Session, event: MilestoneScheduledV1, ctx: StageContext) -> None:
    """Runs at the milestone's due time plus the grace (a delayed message)."""
    deadlines.mark_overdue(session, event.milestone_id, settings=ctx.settings, now=utcnow(), cause=event)
