"""Milestone deadlines: the sponsor is reminded before a milestone's due time, and, when it passes by
`IDEAHUB_MILESTONE_GRACE` with the milestone not reached, the sponsor and the administrators are told once.

As for reviews and offers (docs/decisions/0011-delayed-message-horizon.md), each deadline is timed twice:
by delayed messages the relay sends from `milestone.scheduled.v1` (at the reminder time and the overdue
time), and by `sweep`, which every incubation worker runs every `IDEAHUB_DEADLINE_SWEEP_SECONDS` and
which finds what is due whose message was lost or never sent (beyond the horizon). Both call the
functions here, which read the milestone's own times, so a message made stale by a new date does nothing,
and each effect is a conditional update (`reminded_at IS NULL`; `open` -> `overdue`; each only for the due
time it read, and while the idea is incubating): whichever comes first acts, the other finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from shared import lifecycle
from shared.bus import outbox
from shared.clock import utcnow
from shared.config import Duration, Settings
from shared.contracts.events import EventBase, MilestoneOverdueV1, MilestoneReminderV1
from shared.db.models import MILESTONE, Idea, Incubation, Milestone, MilestoneState
from shared.db.states import claimed_one
from shared.db.uow import unit_of_work
from shared.logging import get_logger
from shared.workdays import before, deadline

log = get_logger("ideahub.incubation.deadlines")
Status = lifecycle.Status
_milestones = Milestone.__table__
# A delayed message may run a little early (its delay is rounded, clocks differ): one that comes earlier than
# this does nothing, and the sweep acts at the right time instead.
EARLY = timedelta(seconds=2)


def reminder_time(due_at: datetime, settings: Settings) -> datetime:
    return before(due_at, settings.milestone_reminder)


def overdue_time(due_at: datetime, settings: Settings) -> datetime:
    return deadline(due_at, settings.milestone_grace)


def _span(duration: Duration) -> timedelta:
    """At least the calendar time `duration` can span: weekends, and the longest run of bank holidays."""
    if duration.unit == "s":
        return timedelta(seconds=duration.amount)
    return timedelta(days=duration.amount * 7 // 5 + 11)


# Part of each claim, not only read before it: an outcome or a withdrawal committed between the read and the claim
# leaves the milestone open, and would otherwise not stop it.
_STILL_INCUBATING = exists().where(Idea.id == _milestones.c.idea_id, Idea.status == Status.INCUBATING.value)


def _sponsor_of(session: Session, idea_id: int) -> int | None:
    return session.scalar(select(Incubation.sponsor_id).where(Incubation.idea_id == idea_id))


def remind_milestone(
    session: Session, milestone_id: int, *, settings: Settings, now: datetime, cause: EventBase | None = None
) -> bool:
    """Remind the sponsor once of an open milestone, between its reminder time and its due time."""
    milestone = session.get(Milestone, milestone_id)
    if milestone is None or milestone.state != MilestoneState.OPEN or milestone.reminded_at is not None:
        return False
    if now + EARLY < reminder_time(milestone.due_at, settings) or now >= milestone.due_at:
        return False  # too early (or rescheduled), or too late to be of use
    idea = lifecycle.load(session, milestone.idea_id)
    sponsor_id = _sponsor_of(session, idea.id)
    if idea.status is not Status.INCUBATING or sponsor_id is None:
        return False
    open_ = MilestoneState.OPEN
    claim = MILESTONE.update(
        _milestones,
        open_,
        open_,
        _milestones.c.id == milestone_id,
        _milestones.c.reminded_at.is_(None),
        _milestones.c.due_at == milestone.due_at,  # not given a new date meanwhile
        _STILL_INCUBATING,
        reminded_at=now,
    )
    if not claimed_one(session, claim):
        return False
    outbox.emit(
        session,
        MilestoneReminderV1.about(
            idea,
            cause=cause,
            milestone_id=milestone_id,
            sponsor_id=sponsor_id,
            title=milestone.title,
            due_at=milestone.due_at,
        ),
    )
    log.info("incubation.milestone_reminded", milestone_id=milestone_id, idea_reference=idea.reference)
    return True


def mark_overdue(
    session: Session, milestone_id: int, *, settings: Settings, now: datetime, cause: EventBase | None = None
) -> bool:
    """An open milestone past its due time by the grace becomes overdue; the sponsor and administrators are told."""
    milestone = session.get(Milestone, milestone_id)
    if milestone is None or milestone.state != MilestoneState.OPEN:
        return False
    if now + EARLY < overdue_time(milestone.due_at, settings):
        return False
    idea = lifecycle.load(session, milestone.idea_id)
    sponsor_id = _sponsor_of(session, idea.id)
    if idea.status is not Status.INCUBATING or sponsor_id is None:
        return False
    claim = MILESTONE.update(
        _milestones,
        MilestoneState.OPEN,
        MilestoneState.OVERDUE,
        _milestones.c.id == milestone_id,
        _milestones.c.due_at == milestone.due_at,  # not given a new date meanwhile
        _STILL_INCUBATING,
        overdue_at=now,
    )
    if not claimed_one(session, claim):
        return False
    outbox.emit(
        session,
        MilestoneOverdueV1.about(
            idea,
            cause=cause,
            milestone_id=milestone_id,
            sponsor_id=sponsor_id,
            title=milestone.title,
            due_at=milestone.due_at,
        ),
    )
    log.warning("incubation.milestone_overdue", milestone_id=milestone_id, idea_reference=idea.reference)
    return True


def due_now(session: Session, *, settings: Settings, now: datetime) -> tuple[list[int], list[int]]:
    """Open milestones of incubating ideas whose reminder or overdue time has come: (to remind, to mark overdue).

    Read are the open milestones due by now (candidates to be overdue) and those not yet reminded whose due
    time is near enough for a reminder; times in working days are then computed here, not in SQL.
    """
    horizon = now + _span(settings.milestone_reminder)
    rows = session.execute(
        select(_milestones.c.id, _milestones.c.due_at, _milestones.c.reminded_at)
        .join(Idea, Idea.id == _milestones.c.idea_id)
        .where(
            _milestones.c.state == MilestoneState.OPEN,
            Idea.status == Status.INCUBATING.value,
            or_(
                _milestones.c.due_at <= now,
                and_(_milestones.c.reminded_at.is_(None), _milestones.c.due_at <= horizon),
            ),
        )
        .order_by(_milestones.c.due_at)
    ).all()
    overdue = [row.id for row in rows if row.due_at <= now and overdue_time(row.due_at, settings) <= now]
    remind = [
        row.id
        for row in rows
        if row.due_at > now and row.reminded_at is None and reminder_time(row.due_at, settings) <= now
    ]
    return remind, overdue


def _each(
    session_factory: sessionmaker[Session], ids: list[int], act: Callable[[Session, int], bool], what: str
) -> int:
    """Act on each milestone in its own transaction: one failure does not stop the others."""
    done = 0
    for milestone_id in ids:
        try:
            with unit_of_work(session_factory) as session:
                done += act(session, milestone_id)
        except Exception:
            log.exception("incubation.sweep_item_failed", what=what, milestone_id=milestone_id)
    return done


def sweep(session_factory: sessionmaker[Session], settings: Settings, *, now: datetime | None = None) -> int:
    """Remind and mark overdue whatever is due now; how many things were done."""
    now = now or utcnow()
    with unit_of_work(session_factory) as session:
        remind, overdue = due_now(session, settings=settings, now=now)
    done = _each(session_factory, overdue, lambda s, i: mark_overdue(s, i, settings=settings, now=now), "overdue")
    done += _each(session_factory, remind, lambda s, i: remind_milestone(s, i, settings=settings, now=now), "reminder")
    return done
