"""The incubation record, plan, progress and outcome. Handlers take a session and never commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.incubation.schemas import OutcomeIn, PlanIn, UpdateIn
from shared import lifecycle
from shared.bus import outbox
from shared.clock import utcnow
from shared.contracts.events import IncubationStartedV1, MilestoneReachedV1, OfferAnsweredV1
from shared.db.models import Incubation, Milestone, Outcome, ProgressUpdate
from shared.db.states import claim
from shared.db.util import insert_ignore
from shared.errors import Conflict, NotFound
from shared.principal import Principal

Status = lifecycle.Status


def start(session: Session, event: OfferAnsweredV1) -> None:
    """Open the incubation record for the sponsor who accepted."""
    if insert_ignore(
        session,
        Incubation.__table__,
        {"idea_id": event.idea_id, "sponsor_id": event.sponsor_id, "started_at": utcnow()},
    ):
        outbox.emit(session, IncubationStartedV1.caused_by(event, sponsor_id=event.sponsor_id))


def _incubating(session: Session, reference: str, who: Principal) -> tuple[lifecycle.IdeaState, Incubation]:
    idea = lifecycle.load_by_reference(session, reference)
    incubation = session.get(Incubation, idea.id)
    if incubation is None:
        if idea.status is Status.INCUBATING:
            raise Conflict("the incubation is being set up; try again in a moment")
        raise NotFound(f"{reference} is not being incubated")
    if incubation.sponsor_id != who.id and not who.is_admin:
        raise NotFound(f"{reference} is not one of your incubations")
    if idea.status is not Status.INCUBATING:
        raise Conflict(f"{reference} is {idea.status.value}, not incubating")
    return idea, incubation


def add_plan(session: Session, reference: str, plan: PlanIn, *, sponsor: Principal) -> list[int]:
    """Add milestones (and set the budget and staff days, when given); the new milestones' ids, in order."""
    idea, incubation = _incubating(session, reference, sponsor)
    if plan.budget is not None:
        incubation.budget = plan.budget
    if plan.staff_days is not None:
        incubation.staff_days = plan.staff_days
    ids = session.execute(
        Milestone.__table__.insert().returning(Milestone.__table__.c.id, sort_by_parameter_order=True),
        [{"idea_id": idea.id, "title": m.title, "due_on": m.due_on} for m in plan.milestones],
    ).scalars()
    return list(ids)


def reach_milestone(session: Session, reference: str, milestone_id: int, *, sponsor: Principal) -> bool:
    """Mark a milestone reached and tell the submitter; False if it already was (nothing changes)."""
    idea, _ = _incubating(session, reference, sponsor)
    title = session.scalar(select(Milestone.title).where(Milestone.id == milestone_id, Milestone.idea_id == idea.id))
    if title is None:
        raise NotFound(f"{reference} has no milestone {milestone_id}")
    milestones = Milestone.__table__
    reached = claim(
        session,
        milestones.update()
        .where(milestones.c.id == milestone_id, milestones.c.done_at.is_(None))
        .values(done_at=utcnow()),
    )
    if reached:
        outbox.emit(
            session,
            MilestoneReachedV1.about(idea, milestone_id=milestone_id, title=title),
        )
    return bool(reached)


def add_update(session: Session, reference: str, update: UpdateIn, *, sponsor: Principal) -> None:
    idea, _ = _incubating(session, reference, sponsor)
    session.add(ProgressUpdate(idea_id=idea.id, state=update.state, note=update.note, at=utcnow()))


def record_outcome(session: Session, reference: str, outcome: OutcomeIn, *, sponsor: Principal) -> str:
    idea, _ = _incubating(session, reference, sponsor)
    session.add(
        Outcome(
            idea_id=idea.id,
            result=outcome.result,
            summary=outcome.summary,
            benefits=outcome.benefits,
            publish=outcome.publish,
            at=utcnow(),
        )
    )
    lifecycle.transition(session, idea, Status(outcome.result), reason=outcome.summary, actor=sponsor.email)
    return outcome.result
