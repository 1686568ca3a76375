"""Offer deadlines: the sponsor is reminded before one, and at it an open offer lapses and passes the idea on.

Each deadline is timed twice: by delayed messages the relay sends when an offer is made (at the
reminder time and at the deadline, see `subscriptions.py`), and by `sweep`, which every matching
worker runs every `deadline_sweep_seconds` and which finds what is due whose message was lost (a
broker restarted without its data). Both call the functions here, and each effect is a conditional
UPDATE (`reminded_at IS NULL`, `state = 'open'`): whichever comes first acts, the other finds nothing
to do; the same condition decides between a lapse and the sponsor's own answer.

What happened is kept in the idea's history as the events emitted here (OfferReminderV1, and
OfferAnsweredV1 with answer `expired`, which the matching stage takes as it takes a decline), and in
the offer's `reminded_at`, `state` and `answered_at`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from shared import lifecycle
from shared.bus import outbox
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import EventBase, OfferAnsweredV1, OfferReminderV1
from shared.db.models import OFFER, Idea, Offer, OfferState
from shared.db.states import claimed_one
from shared.db.uow import unit_of_work
from shared.logging import get_logger
from shared.workdays import before

log = get_logger("ideahub.matching")
Status = lifecycle.Status

# A delayed message may run a little before its time: its delay is rounded to milliseconds, and the
# machine that sent it may keep a slightly different clock. One that comes earlier than this does
# nothing, and the sweep acts at the right time instead.
EARLY = timedelta(seconds=2)
EXPIRED_REASON = "no answer by the deadline"
_offers = Offer.__table__


def reminder_time(due_at: datetime, settings: Settings) -> datetime:
    return before(due_at, settings.offer_reminder)


def remind_offer(
    session: Session, offer_id: int, *, settings: Settings, now: datetime, cause: EventBase | None = None
) -> bool:
    """Remind the sponsor of an open offer once, between its reminder time and its deadline.

    The delayed message and the sweep may both call this: the conditional UPDATE on `reminded_at IS NULL`
    lets exactly one of them record the reminder and emit OfferReminderV1; the other changes nothing.
    """
    offer = session.get(Offer, offer_id)
    if offer is None or offer.state != OfferState.OPEN or offer.reminded_at is not None:
        return False
    if now + EARLY < reminder_time(offer.due_at, settings) or now >= offer.due_at:
        return False  # too early, or too late to be of use: the deadline itself acts now
    idea = lifecycle.load(session, offer.idea_id)
    if idea.status is not Status.MATCHING:
        return False  # withdrawn, say: nothing to remind anyone of
    open_ = OfferState.OPEN
    remind = OFFER.update(
        _offers, open_, open_, _offers.c.id == offer_id, _offers.c.reminded_at.is_(None), reminded_at=now
    )
    if not claimed_one(session, remind):
        return False
    outbox.emit(
        session,
        OfferReminderV1.about(idea, cause=cause, offer_id=offer_id, sponsor_id=offer.sponsor_id, due_at=offer.due_at),
    )
    log.info(
        "matching.offer_reminded",
        offer_id=offer_id,
        sponsor_id=offer.sponsor_id,
        idea_reference=idea.reference,
        correlation_id=str(idea.correlation_id),
    )
    return True


def expire_offer(session: Session, offer_id: int, *, now: datetime, cause: EventBase | None = None) -> bool:
    """At its deadline an open offer lapses and, like a decline, passes the idea on (OfferAnsweredV1 `expired`).

    The conditional UPDATE on `state = 'open'` decides between this and a sponsor's answer, and between the
    delayed message and the sweep: exactly one of them changes the offer; the others change nothing.
    """
    lapse = OFFER.update(
        _offers,
        OfferState.OPEN,
        OfferState.EXPIRED,
        _offers.c.id == offer_id,
        _offers.c.due_at <= now + EARLY,
        answered_at=now,
        answer_reason=EXPIRED_REASON,
    )
    if not claimed_one(session, lapse):
        return False
    offer = session.get(Offer, offer_id)
    assert offer is not None
    idea = lifecycle.load(session, offer.idea_id)
    outbox.emit(
        session,
        OfferAnsweredV1.about(
            idea,
            cause=cause,
            offer_id=offer_id,
            sponsor_id=offer.sponsor_id,
            answer="expired",
            reason=EXPIRED_REASON,
        ),
    )
    log.info(
        "matching.offer_expired",
        offer_id=offer_id,
        sponsor_id=offer.sponsor_id,
        idea_reference=idea.reference,
        correlation_id=str(idea.correlation_id),
    )
    return True


def overdue_offers(session: Session, *, settings: Settings, now: datetime) -> tuple[list[int], list[int]]:
    """Open offers whose reminder (ideas still in matching only) or deadline has come: (to remind, to expire).

    Every open offer without a reminder is read, because a reminder time in working days is not something
    SQL can compute; there is at most one open offer per idea in matching.
    """
    rows = session.execute(
        select(Offer.id, Offer.due_at, Offer.reminded_at, Idea.status)
        .join(Idea, Idea.id == Offer.idea_id)
        .where(Offer.state == OfferState.OPEN, or_(Offer.due_at <= now, Offer.reminded_at.is_(None)))
        .order_by(Offer.due_at)
    ).all()
    expire = [row.id for row in rows if row.due_at <= now]
    remind = [
        row.id
        for row in rows
        if row.due_at > now
        and row.reminded_at is None
        and row.status == Status.MATCHING.value
        and reminder_time(row.due_at, settings) <= now
    ]
    return remind, expire


def sweep(session_factory: sessionmaker[Session], settings: Settings, *, now: datetime | None = None) -> int:
    """The safety net for delayed messages the broker lost: remind and expire whatever is due now.

    Each offer is handled in its own transaction, so one that fails (and is logged) holds up no other.
    """
    now = now or utcnow()
    with unit_of_work(session_factory) as session:
        remind, expire = overdue_offers(session, settings=settings, now=now)
    done = 0
    for offer_id in expire:
        try:
            with unit_of_work(session_factory) as session:
                done += expire_offer(session, offer_id, now=now)
        except Exception:
            log.exception("matching.sweep_expire_failed", offer_id=offer_id)
    for offer_id in remind:
        try:
            with unit_of_work(session_factory) as session:
                done += remind_offer(session, offer_id, settings=settings, now=now)
        except Exception:
            log.exception("matching.sweep_remind_failed", offer_id=offer_id)
    return done
