"""What sponsors and administrators read of offers: a sponsor's open offers, one offer in full, an idea's
matching (every offer with the ranking behind it, and who else could be asked)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.matching.handlers import candidates, idea_text
from services.matching.ranking import rank
from services.matching.schemas import (
    Considered,
    LikelyDuplicate,
    MatchingView,
    OfferDetail,
    OfferHistory,
    OfferView,
    ReviewSummary,
    SponsorChoice,
)
from shared import lifecycle
from shared.clock import utcnow
from shared.db.models import DuplicateCandidate, Idea, Offer, OfferState, Person, Review, ReviewTask, TaskState
from shared.errors import NotFound
from shared.paging import Page, PageRequest
from shared.principal import Principal
from shared.workdays import working_days_left


def _view(offer: Offer, reference: str, title: str, department: str | None) -> dict[str, Any]:
    return {
        "id": offer.id,
        "idea_reference": reference,
        "idea_title": title,
        "department": department,
        "rank": offer.rank,
        "score": offer.score,
        "reasons": offer.reasons,
        "due_at": offer.due_at,
        "working_days_left": working_days_left(utcnow(), offer.due_at),
        "state": offer.state,
    }


def open_offers(session: Session, *, sponsor: Principal, page: PageRequest) -> Page[OfferView]:
    """A sponsor's open offers, soonest deadline first."""
    rows = page.page(
        session.execute(
            select(Offer, Idea.reference, Idea.title, Idea.department)
            .join(Idea, Idea.id == Offer.idea_id)
            .where(Offer.sponsor_id == sponsor.id, Offer.state == OfferState.OPEN)
            .order_by(Offer.due_at, Offer.id)
            .limit(page.limit)
            .offset(page.offset)
        ).all()
    )
    return Page([OfferView(**_view(*row)) for row in rows.items], rows.number, rows.size, rows.has_next)


def offer_detail(session: Session, offer_id: int, *, sponsor: Principal) -> OfferDetail:
    """One of the sponsor's offers (any state) in full; another's is not found."""
    offer = session.get(Offer, offer_id)
    if offer is None or offer.sponsor_id != sponsor.id:
        raise NotFound("you have no offer with that id")
    idea = session.get(Idea, offer.idea_id)
    assert idea is not None
    reviews = session.scalars(
        select(Review)
        .join(ReviewTask, ReviewTask.id == Review.task_id)
        .where(Review.idea_id == idea.id, ReviewTask.state == TaskState.DONE)
        .order_by(Review.id)
    )
    duplicates = session.execute(
        select(Idea.reference, Idea.title, Idea.status, DuplicateCandidate.score)
        .join(DuplicateCandidate, DuplicateCandidate.other_idea_id == Idea.id)
        .where(DuplicateCandidate.idea_id == idea.id)
        .order_by(DuplicateCandidate.score.desc(), Idea.id.desc())
    )
    return OfferDetail(
        **_view(offer, idea.reference, idea.title, idea.department),
        problem=idea.problem,
        idea=idea.proposal,
        benefit=idea.benefit,
        theme=idea.theme,
        # The name only, and only of a submitter who did not ask to stay anonymous; never an address.
        submitted_by=None if idea.anonymous else idea.submitter_name,
        reviews=[
            ReviewSummary(
                impact=r.impact,
                feasibility=r.feasibility,
                cost=r.cost,
                evidence=r.evidence,
                recommendation=r.recommendation,
                comment=r.comment,
            )
            for r in reviews
        ],
        duplicates=[
            LikelyDuplicate(reference=d.reference, title=d.title, score=d.score, status=d.status) for d in duplicates
        ],
        answered_at=offer.answered_at,
        answer_reason=offer.answer_reason,
    )


def _considered(ranking: list[dict[str, Any]] | None) -> list[Considered]:
    return [Considered.model_validate(entry) for entry in ranking or []]


def matching(session: Session, reference: str) -> MatchingView:
    """For administrators: an idea's offers, with the ranking behind each, and the sponsors it may still go to."""
    state = lifecycle.load_by_reference(session, reference)
    idea = session.get(Idea, state.id)
    assert idea is not None
    offers = session.execute(
        select(Offer, Person.name, Person.email)
        .join(Person, Person.id == Offer.sponsor_id)
        .where(Offer.idea_id == idea.id)
        .order_by(Offer.id)
    ).all()
    available = {c.sponsor_id: c for c in candidates(session, idea.id)}
    ranked = rank(idea_text(idea), list(available.values())).ranked
    emails = {
        row.id: row.email
        for row in session.execute(select(Person.id, Person.email).where(Person.id.in_(list(available))))
    }
    # Best fit first, as matching would choose; full sponsors are left out (they are skipped in a ranking).
    choices = [
        SponsorChoice(
            email=emails[r.sponsor_id],
            name=r.name,
            department=available[r.sponsor_id].department,
            places_free=available[r.sponsor_id].capacity - available[r.sponsor_id].load,
        )
        for r in ranked
    ]
    return MatchingView(
        idea_reference=idea.reference,
        idea_title=idea.title,
        status=idea.status,
        department=idea.department,
        theme=idea.theme,
        offers=[
            OfferHistory(
                id=o.id,
                round=o.round,
                rank=o.rank,
                sponsor_name=name,
                sponsor_email=email,
                state=o.state,
                made_at=o.made_at,
                due_at=o.due_at,
                answered_at=o.answered_at,
                answer_reason=o.answer_reason,
                offered_by=o.offered_by,
                reasons=o.reasons,
                considered=_considered(o.ranking),
            )
            for o, name, email in offers
        ],
        sponsors=choices,
    )
