"""Ranking, offers and answers to them. Handlers take a session and never commit."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.matching.ranking import Candidate, rank
from services.matching.schemas import OfferView
from shared import lifecycle
from shared.bus import outbox
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import IdeaEvent, OfferAnsweredV1, OfferMadeV1
from shared.db.models import OFFER, Idea, Incubation, Offer, OfferState, Person
from shared.db.states import claimed_one
from shared.errors import Conflict, NotFound
from shared.logging import get_logger
from shared.principal import Principal
from shared.workdays import deadline

log = get_logger("ideahub.matching")
Status = lifecycle.Status


def _candidates(session: Session, idea_id: int) -> list[Candidate]:
    already = select(Offer.sponsor_id).where(Offer.idea_id == idea_id)
    load = (
        select(Incubation.sponsor_id, func.count().label("load"))
        .join(Idea, Idea.id == Incubation.idea_id)
        .where(Idea.status == Status.INCUBATING.value)
        .group_by(Incubation.sponsor_id)
        .subquery()
    )
    rows = session.execute(
        select(Person, func.coalesce(load.c.load, 0))
        .outerjoin(load, load.c.sponsor_id == Person.id)
        .where(Person.role == "sponsor", Person.active.is_(True), Person.id.not_in(already))
    ).all()
    return [
        Candidate(p.id, p.name, p.department, p.interests or "", p.capacity, int(n)) for p, n in rows if n < p.capacity
    ]


def offer_next(session: Session, idea_id: int, *, settings: Settings, cause: IdeaEvent) -> None:
    """Offer the idea to the best sponsor not yet asked, or mark it unmatched after `max_offers`."""
    idea_state = lifecycle.load(session, idea_id)
    if idea_state.status is not Status.MATCHING:
        return
    made, still_open = session.execute(
        select(func.count(), func.count().filter(Offer.state == OfferState.OPEN)).where(Offer.idea_id == idea_id)
    ).one()
    if still_open:
        return  # an offer is already out; this delivery is stale
    idea = session.get(Idea, idea_id)
    assert idea is not None
    ranking = rank(f"{idea.title} {idea.problem} {idea.proposal}", idea.department, _candidates(session, idea_id))
    if made >= settings.max_offers or not ranking:
        why = f"no sponsor took it on after {made} offer(s)" if made else "no sponsor is available"
        lifecycle.transition(session, idea_state, Status.UNMATCHED, reason=why, actor="matching", cause=cause)
        log.warning("matching.unmatched", offers=made)
        return
    best = ranking[0]
    now = utcnow()
    due = deadline(now, settings.offer_deadline)
    offer_id = session.execute(
        Offer.__table__.insert()
        .values(
            idea_id=idea_id,
            sponsor_id=best.sponsor_id,
            rank=made + 1,
            score=best.score,
            reasons=best.reasons,
            state=OfferState.OPEN,
            made_at=now,
            due_at=due,
        )
        .returning(Offer.id)
    ).scalar_one()
    outbox.emit(
        session,
        OfferMadeV1.caused_by(
            cause, offer_id=offer_id, sponsor_id=best.sponsor_id, rank=made + 1, due_at=due, reasons=best.reasons
        ),
    )
    log.info("matching.offer_made", sponsor_id=best.sponsor_id, score=best.score)


def open_offers(session: Session, *, sponsor: Principal) -> list[OfferView]:
    rows = session.execute(
        select(Offer, Idea.reference, Idea.title)
        .join(Idea, Idea.id == Offer.idea_id)
        .where(Offer.sponsor_id == sponsor.id, Offer.state == OfferState.OPEN)
        .order_by(Offer.due_at)
    ).all()
    return [
        OfferView(
            id=o.id,
            idea_reference=ref,
            idea_title=title,
            rank=o.rank,
            score=o.score,
            reasons=o.reasons,
            due_at=o.due_at,
        )
        for o, ref, title in rows
    ]


def _answer(session: Session, offer_id: int, sponsor: Principal, state: OfferState, reason: str | None) -> Offer:
    offer = session.get(Offer, offer_id)
    if offer is None or offer.sponsor_id != sponsor.id:
        raise NotFound("you have no offer with that id")
    offers = Offer.__table__
    answer = OFFER.update(
        offers, OfferState.OPEN, state, offers.c.id == offer_id, answered_at=utcnow(), answer_reason=reason
    )
    if not claimed_one(session, answer):
        session.refresh(offer)  # another answer, or the deadline, came first: say which
        raise Conflict(f"this offer is already {offer.state}")
    return offer


def accept_offer(session: Session, offer_id: int, *, sponsor: Principal) -> str:
    offer = _answer(session, offer_id, sponsor, OfferState.ACCEPTED, None)
    idea = lifecycle.load(session, offer.idea_id)
    answered = OfferAnsweredV1.about(idea, offer_id=offer_id, sponsor_id=sponsor.id, answer="accepted")
    lifecycle.transition(
        session, idea, Status.INCUBATING, reason=f"sponsored by {sponsor.name}", actor=sponsor.email, cause=answered
    )
    outbox.emit(session, answered)
    return idea.reference


def decline_offer(session: Session, offer_id: int, *, sponsor: Principal, reason: str) -> str:
    offer = _answer(session, offer_id, sponsor, OfferState.DECLINED, reason)
    idea = lifecycle.load(session, offer.idea_id)
    outbox.emit(
        session,
        OfferAnsweredV1.about(idea, offer_id=offer_id, sponsor_id=sponsor.id, answer="declined", reason=reason),
    )
    return idea.reference
