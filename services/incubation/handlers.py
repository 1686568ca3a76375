"""What a sponsor (or an administrator) does with an incubation: plan, report progress, reach milestones, record
the outcome. Handlers take a session and never commit; the caller's unit of work does.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.incubation.schemas import Figures, MilestoneChange, MilestoneIn, OutcomeIn, PlanIn, UpdateIn
from shared import lifecycle
from shared.bus import outbox
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import IncubationStartedV1, MilestoneReachedV1, MilestoneScheduledV1, OfferAnsweredV1
from shared.db.models import MILESTONE, Incubation, Milestone, MilestoneState, Outcome, ProgressUpdate
from shared.db.states import claimed_one
from shared.db.util import insert_ignore
from shared.errors import Conflict, NotFound
from shared.logging import get_logger
from shared.principal import Principal
from shared.workdays import deadline

log = get_logger("ideahub.incubation")
Status = lifecycle.Status
UK = ZoneInfo("Europe/London")
_milestones = Milestone.__table__
# A milestone still to be reached: its date may change, and it may be dropped from the plan.
PENDING = (MilestoneState.OPEN, MilestoneState.OVERDUE)


def start(session: Session, event: OfferAnsweredV1) -> None:
    """Open the incubation record for the sponsor who accepted."""
    if insert_ignore(
        session,
        Incubation.__table__,
        {"idea_id": event.idea_id, "sponsor_id": event.sponsor_id, "started_at": utcnow()},
    ):
        outbox.emit(session, IncubationStartedV1.caused_by(event, sponsor_id=event.sponsor_id))


def incubation_of(session: Session, reference: str, who: Principal) -> tuple[lifecycle.IdeaState, Incubation]:
    """The idea and its incubation, if `who` is its sponsor or an administrator (404 to anyone else)."""
    idea = lifecycle.load_by_reference(session, reference)
    incubation = session.get(Incubation, idea.id)
    if incubation is None:
        if idea.status is Status.INCUBATING:
            raise Conflict("the incubation is being set up; try again in a moment")
        raise NotFound(f"{reference} is not being incubated")
    if incubation.sponsor_id != who.id and not who.is_admin:
        raise NotFound(f"{reference} is not one of your incubations")
    return idea, incubation


def _incubating(session: Session, reference: str, who: Principal) -> tuple[lifecycle.IdeaState, Incubation]:
    """`incubation_of`, for a change: refused once the idea has its outcome."""
    idea, incubation = incubation_of(session, reference, who)
    if idea.status is not Status.INCUBATING:
        raise Conflict(f"{reference} is {idea.status.value}, not incubating: its plan can no longer change")
    return idea, incubation


def end_of(day: date) -> datetime:
    """The moment a due date ends: midnight after it, UK time, as an aware UTC datetime."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UK).astimezone(ZoneInfo("UTC"))


def _due(milestone: MilestoneIn | MilestoneChange) -> tuple[date, datetime] | None:
    if milestone.due_at is not None:
        return milestone.due_at.astimezone(UK).date(), milestone.due_at
    if milestone.due_on is not None:
        return milestone.due_on, end_of(milestone.due_on)
    return None


def scheduled(
    idea: lifecycle.IdeaState, milestone_id: int, title: str, due_at: datetime, *, sponsor_id: int, settings: Settings
) -> MilestoneScheduledV1:
    """The event that keeps a milestone's deadlines: its reminder before `due_at`, overdue after the grace."""
    overdue_at = deadline(due_at, settings.milestone_grace)
    return MilestoneScheduledV1.about(
        idea, milestone_id=milestone_id, sponsor_id=sponsor_id, title=title, due_at=due_at, overdue_at=overdue_at
    )


def _set_figures(incubation: Incubation, figures: Figures) -> None:
    for name in Figures.model_fields:
        value = getattr(figures, name)
        if name in figures.model_fields_set:
            setattr(incubation, name, (value or None) if isinstance(value, str) else value)
    incubation.updated_at = utcnow()


def add_plan(session: Session, reference: str, plan: PlanIn, *, sponsor: Principal, settings: Settings) -> list[int]:
    """Add milestones (and set the figures given); the new milestones' ids, in order."""
    idea, incubation = _incubating(session, reference, sponsor)
    _set_figures(incubation, plan)
    now = utcnow()
    planned = []
    for milestone in plan.milestones:
        due = _due(milestone)
        assert due is not None  # MilestoneIn requires one
        planned.append((milestone.title, *due))
    rows = [
        {
            "idea_id": idea.id,
            "title": title,
            "due_on": on,
            "due_at": at,
            "state": MilestoneState.OPEN,
            "created_at": now,
        }
        for title, on, at in planned
    ]
    ids = list(
        session.execute(_milestones.insert().returning(_milestones.c.id, sort_by_parameter_order=True), rows).scalars()
    )
    outbox.emit(
        session,
        *(
            scheduled(idea, id_, title, at, sponsor_id=incubation.sponsor_id, settings=settings)
            for id_, (title, _, at) in zip(ids, planned, strict=True)
        ),
    )
    log.info("incubation.planned", milestones=len(ids), idea_reference=idea.reference)
    return ids


def set_figures(session: Session, reference: str, figures: Figures, *, sponsor: Principal) -> None:
    """Change the plan's budget, staff days or projected benefits."""
    _, incubation = _incubating(session, reference, sponsor)
    _set_figures(incubation, figures)


def _milestone(session: Session, idea: lifecycle.IdeaState, milestone_id: int) -> Milestone:
    milestone = session.get(Milestone, milestone_id)
    if milestone is None or milestone.idea_id != idea.id:
        raise NotFound(f"{idea.reference} has no milestone {milestone_id}")
    return milestone


def change_milestone(
    session: Session,
    reference: str,
    milestone_id: int,
    change: MilestoneChange,
    *,
    sponsor: Principal,
    settings: Settings,
) -> None:
    """Rename a milestone still to be reached, or give it a new date (an overdue one is open again)."""
    idea, incubation = _incubating(session, reference, sponsor)
    milestone = _milestone(session, idea, milestone_id)
    current = MilestoneState(milestone.state)
    if current not in PENDING:
        raise Conflict(f"this milestone is {current.value}: only one still to be reached can change")
    values: dict[str, object] = {}
    if change.title is not None:
        values["title"] = change.title
    due = _due(change)
    if due is not None:
        values |= {"due_on": due[0], "due_at": due[1], "reminded_at": None, "overdue_at": None}
    target = MilestoneState.OPEN if due is not None else current
    if not claimed_one(
        session, MILESTONE.update(_milestones, current, target, _milestones.c.id == milestone_id, **values)
    ):
        raise Conflict("this milestone changed meanwhile: reload and try again")
    if due is not None:
        title = change.title or milestone.title
        outbox.emit(
            session, scheduled(idea, milestone_id, title, due[1], sponsor_id=incubation.sponsor_id, settings=settings)
        )


def drop_milestone(session: Session, reference: str, milestone_id: int, *, sponsor: Principal) -> None:
    """Take a milestone still to be reached out of the plan."""
    idea, _ = _incubating(session, reference, sponsor)
    milestone = _milestone(session, idea, milestone_id)
    if not claimed_one(
        session, MILESTONE.update(_milestones, PENDING, MilestoneState.DROPPED, _milestones.c.id == milestone_id)
    ):
        raise Conflict(f"this milestone is {milestone.state}: only one still to be reached can be dropped")


def reach_milestone(session: Session, reference: str, milestone_id: int, *, sponsor: Principal) -> bool:
    """Mark a milestone reached and tell the submitter; False if it already was (nothing changes)."""
    idea, _ = _incubating(session, reference, sponsor)
    milestone = _milestone(session, idea, milestone_id)
    if milestone.state == MilestoneState.REACHED:
        return False
    if milestone.state == MilestoneState.DROPPED:
        raise Conflict("this milestone was dropped from the plan")
    reached = claimed_one(
        session,
        MILESTONE.update(
            _milestones, PENDING, MilestoneState.REACHED, _milestones.c.id == milestone_id, done_at=utcnow()
        ),
    )
    if reached:
        outbox.emit(session, MilestoneReachedV1.about(idea, milestone_id=milestone_id, title=milestone.title))
    return reached


def add_update(session: Session, reference: str, update: UpdateIn, *, sponsor: Principal) -> int:
    """Record progress (on track, at risk, blocked) in words; private words are for staff only."""
    idea, _ = _incubating(session, reference, sponsor)
    row = ProgressUpdate(
        idea_id=idea.id, state=update.state, note=update.note, private=update.private, author_id=sponsor.id, at=utcnow()
    )
    session.add(row)
    session.flush()
    return row.id


def record_outcome(session: Session, reference: str, outcome: OutcomeIn, *, sponsor: Principal) -> str:
    """Record the result, and move the idea to `implemented` or `closed`; the submitter is told."""
    idea, _ = _incubating(session, reference, sponsor)
    if session.scalar(select(Outcome.idea_id).where(Outcome.idea_id == idea.id)) is not None:
        raise Conflict(f"{reference} has its outcome already")
    session.add(
        Outcome(
            idea_id=idea.id,
            result=outcome.result,
            summary=outcome.summary,
            benefits_text=outcome.benefits or None,
            money_saved_a_year=outcome.money_saved_a_year,
            hours_saved_a_year=outcome.hours_saved_a_year,
            people_affected=outcome.people_affected,
            lessons=outcome.lessons or None,
            recorded_by=sponsor.email,
            at=utcnow(),
        )
    )
    lifecycle.transition(session, idea, Status(outcome.result), reason=outcome.summary, actor=sponsor.email)
    return outcome.result
