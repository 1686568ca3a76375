"""Ranking, offers and the answers to them, and administrators' matching by hand. Handlers take a session and
never commit.

An idea in `matching` is offered to the best-fitting sponsor not asked before (`ranking.py` says why), one
offer at a time, up to `IDEAHUB_MAX_OFFERS` in a round; then it is `unmatched`, and administrators are told.
An administrator may then offer it to a named sponsor, match it again (a new round, with the sponsors not
asked yet), or close it. No sponsor is ever offered the same idea twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from services.matching.ranking import Candidate, IdeaText, Ranking, rank
from shared import lifecycle
from shared.bus import outbox
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import IdeaEvent, IdeaStatusChangedV1, OfferAnsweredV1, OfferMadeV1
from shared.db.models import OFFER, Idea, Incubation, Offer, OfferState, Person
from shared.db.states import claimed_one
from shared.errors import Conflict, InvalidField, NotFound
from shared.logging import get_logger
from shared.principal import Principal
from shared.workdays import deadline

log = get_logger("ideahub.matching")
Status = lifecycle.Status
_offers = Offer.__table__


def candidates(session: Session, idea_id: int) -> list[Candidate]:
    """Every active sponsor not asked about this idea before, with their running incubations (full ones too)."""
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
        .order_by(Person.id)
    ).all()
    return [Candidate(p.id, p.name, p.department, p.themes, p.interests or "", p.capacity, int(n)) for p, n in rows]


def idea_text(idea: Idea) -> IdeaText:
    return IdeaText(idea.title, idea.problem, idea.proposal, idea.theme, idea.department)


def ranking_record(ranking: Ranking) -> list[dict[str, Any]]:
    """The ranking as stored with the offer: every sponsor considered, in order, then those skipped."""
    return [
        {"sponsor_id": r.sponsor_id, "name": r.name, "score": r.score, "reasons": r.reasons} for r in ranking.ranked
    ] + [{"sponsor_id": s.sponsor_id, "name": s.name, "skipped": s.reason} for s in ranking.skipped]


def _round_of(session: Session, idea_id: int, cause: IdeaEvent | None) -> int:
    """The current round of offers: a new one when an administrator sent the idea back to matching."""
    last = session.scalar(select(func.max(Offer.round)).where(Offer.idea_id == idea_id)) or 0
    rematched = isinstance(cause, IdeaStatusChangedV1) and cause.from_status == Status.UNMATCHED.value
    return last + 1 if rematched or last == 0 else last


def _make_offer(
    session: Session,
    idea: lifecycle.IdeaState,
    sponsor_id: int,
    *,
    round_: int,
    rank_: int,
    score: float,
    reasons: list[str],
    ranking: Ranking,
    settings: Settings,
    cause: IdeaEvent | None,
    offered_by: str | None = None,
) -> int:
    now = utcnow()
    due = deadline(now, settings.offer_deadline)
    offer_id = session.execute(
        _offers.insert()
        .values(
            idea_id=idea.id,
            sponsor_id=sponsor_id,
            rank=rank_,
            score=score,
            reasons=reasons,
            ranking=ranking_record(ranking),
            round=round_,
            offered_by=offered_by,
            state=OfferState.OPEN,
            made_at=now,
            due_at=due,
        )
        .returning(_offers.c.id)
    ).scalar_one()
    made = OfferMadeV1.about(
        idea, cause=cause, offer_id=offer_id, sponsor_id=sponsor_id, rank=rank_, due_at=due, reasons=reasons
    )
    outbox.emit(session, made)
    log.info("matching.offer_made", sponsor_id=sponsor_id, score=score, round=round_, idea_reference=idea.reference)
    return int(offer_id)


def offer_next(session: Session, idea_id: int, *, settings: Settings, cause: IdeaEvent) -> None:
    """Offer the idea to the best sponsor not yet asked, or mark it unmatched after `max_offers` in this round."""
    state = lifecycle.load(session, idea_id)
    if state.status is not Status.MATCHING:
        return
    round_ = _round_of(session, idea_id, cause)
    made, still_open = session.execute(
        select(func.count().filter(Offer.round == round_), func.count().filter(Offer.state == OfferState.OPEN)).where(
            Offer.idea_id == idea_id
        )
    ).one()
    if still_open:
        return  # an offer is already out (an administrator's, say); this delivery is stale
    idea = session.get(Idea, idea_id)
    assert idea is not None
    ranking = rank(idea_text(idea), candidates(session, idea_id))
    if made >= settings.max_offers or not ranking.ranked:
        if made:
            why = f"no sponsor took it on after {made} offer(s)"
        elif ranking.skipped:
            why = "every sponsor not asked yet is full"
        else:
            why = "no sponsor is available"
        lifecycle.transition(session, state, Status.UNMATCHED, reason=why, actor="matching", cause=cause)
        log.warning("matching.unmatched", offers=made, idea_reference=state.reference)
        return
    best = ranking.ranked[0]
    _make_offer(
        session,
        state,
        best.sponsor_id,
        round_=round_,
        rank_=made + 1,
        score=best.score,
        reasons=best.reasons,
        ranking=ranking,
        settings=settings,
        cause=cause,
    )


def _answer(session: Session, offer_id: int, sponsor: Principal, state: OfferState, reason: str | None) -> Offer:
    offer = session.get(Offer, offer_id)
    if offer is None or offer.sponsor_id != sponsor.id:
        raise NotFound("you have no offer with that id")
    answer = OFFER.update(
        _offers, OfferState.OPEN, state, _offers.c.id == offer_id, answered_at=utcnow(), answer_reason=reason
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


# Administrators


def _unmatched(session: Session, reference: str) -> lifecycle.IdeaState:
    idea = lifecycle.load_by_reference(session, reference)
    if idea.status is not Status.UNMATCHED:
        raise Conflict(f"{reference} is {idea.status.value}: only an unmatched idea is matched by hand")
    return idea


def offer_to(session: Session, reference: str, sponsor_email: str, *, admin: Principal, settings: Settings) -> int:
    """Offer an unmatched idea to a named sponsor: the idea goes back to matching with this offer out."""
    idea = _unmatched(session, reference)
    sponsor = session.scalar(
        select(Person).where(Person.email == sponsor_email.strip().lower(), Person.role == "sponsor")
    )
    if sponsor is None or not sponsor.active:
        raise InvalidField("sponsor_email", "choose an active sponsor")
    asked = session.scalar(select(Offer.state).where(Offer.idea_id == idea.id, Offer.sponsor_id == sponsor.id))
    if asked is not None:
        raise Conflict(f"{sponsor.name} was offered this idea before ({asked}): a sponsor is never asked twice")
    row = session.get(Idea, idea.id)
    assert row is not None
    ranking = rank(idea_text(row), candidates(session, idea.id))
    if any(s.sponsor_id == sponsor.id for s in ranking.skipped):
        raise Conflict(f"{sponsor.name} has no place free for another incubation")
    chosen = next(r for r in ranking.ranked if r.sponsor_id == sponsor.id)
    round_ = (session.scalar(select(func.max(Offer.round)).where(Offer.idea_id == idea.id)) or 0) + 1
    moved = lifecycle.transition(
        session, idea, Status.MATCHING, reason=f"offered to {sponsor.name} by {admin.name}", actor=admin.email
    )
    return _make_offer(
        session,
        idea,
        sponsor.id,
        round_=round_,
        rank_=1,
        score=chosen.score,
        reasons=[f"chosen by {admin.name}", *chosen.reasons],
        ranking=ranking,
        settings=settings,
        cause=moved,
        offered_by=admin.email,
    )


def rematch(session: Session, reference: str, *, admin: Principal) -> None:
    """Send an unmatched idea back to matching: a new round of offers, to sponsors not asked before."""
    idea = _unmatched(session, reference)
    lifecycle.transition(session, idea, Status.MATCHING, reason=f"matched again by {admin.name}", actor=admin.email)


def close_unmatched(session: Session, reference: str, reason: str, *, admin: Principal) -> None:
    """Close an unmatched idea, with the reason the submitter is told."""
    idea = _unmatched(session, reference)
    lifecycle.transition(session, idea, Status.CLOSED, reason=reason, actor=admin.email)


def lapse_offers_of(session: Session, sponsor_id: int, *, reason: str) -> list[int]:
    """A sponsor leaves: their open offers lapse, and each idea goes to the next sponsor (as at a deadline).

    Returns the ideas whose offer lapsed; the caller records why.
    """
    return _lapse(session, Offer.sponsor_id == sponsor_id, reason=reason)


def idea_left_matching(session: Session, event: IdeaStatusChangedV1) -> None:
    """An idea was withdrawn or closed while offers were out: they lapse, so no sponsor is left holding one."""
    _lapse(session, Offer.idea_id == event.idea_id, reason=f"the idea was {event.to_status}")


def _lapse(session: Session, which: ColumnElement[bool], *, reason: str) -> list[int]:
    now = utcnow()
    open_offers = session.execute(
        select(Offer.id, Offer.idea_id, Offer.sponsor_id).where(which, Offer.state == OfferState.OPEN)
    ).all()
    lapsed = []
    for offer_id, idea_id, sponsor_id in open_offers:
        lapse = OFFER.update(
            _offers,
            OfferState.OPEN,
            OfferState.EXPIRED,
            _offers.c.id == offer_id,
            answered_at=now,
            answer_reason=reason,
        )
        if not claimed_one(session, lapse):
            continue
        idea = lifecycle.load(session, idea_id)
        outbox.emit(
            session,
            OfferAnsweredV1.about(idea, offer_id=offer_id, sponsor_id=sponsor_id, answer="expired", reason=reason),
        )
        lapsed.append(idea_id)
    return lapsed
