"""Everything about one idea for an administrator, on one page: the idea and its submitter (the only place an
anonymous submitter is shown), its reviews with private notes, questions and answers, offers with the reasons
for each, its incubation, the notifications sent about it with their delivery, and its event timeline a page
at a time; with what the administrator may do to it now.

Each part is read by the query its own stage keeps (intake, review, incubation, notify); this module only puts
them together, and reads offers and the choices for the action forms itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from infra.admin_api import TimelineEntry, timeline
from services.incubation.queries import incubation
from services.incubation.schemas import IncubationView
from services.intake.handlers import staff_view
from services.intake.schemas import StaffIdeaView
from services.notify.handlers import NotificationView, delivery_log
from services.review.queries import idea_reviews
from services.review.schemas import IdeaReviews
from shared.db.models import WAITING, Idea, Incubation, Offer, Person, ReviewTask
from shared.lifecycle import FINAL, Status
from shared.paging import Page, PageRequest
from shared.principal import Principal

# The most notifications one page lists (an idea has a few dozen at most; the rest are in the API).
NOTIFICATIONS_SHOWN = 100
# The most people a choice lists; a department with more reviewers than this is found by email instead.
CHOICES_SHOWN = 500


@dataclass(frozen=True)
class OfferLine:
    id: int
    sponsor_name: str
    round: int
    rank: int
    state: str
    reasons: list[str]
    made_at: datetime
    due_at: datetime
    answered_at: datetime | None
    answer_reason: str | None
    offered_by: str | None


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class IdeaPage:
    idea: StaffIdeaView
    channel: str
    reviews: IdeaReviews
    offers: list[OfferLine]
    incubation: IncubationView | None
    notifications: list[NotificationView]
    more_notifications: bool
    timeline: Page[TimelineEntry]
    # What the administrator may do now, and the choices the forms offer.
    can_review_actions: bool  # in review: reassign a waiting task, add a reviewer, mark a duplicate
    can_withdraw: bool
    waiting_tasks: list[Choice]
    reviewers: list[Choice]


def _offers(session: Session, idea_id: int) -> list[OfferLine]:
    rows = session.execute(
        select(Offer, Person.name)
        .join(Person, Person.id == Offer.sponsor_id)
        .where(Offer.idea_id == idea_id)
        .order_by(Offer.id)
    ).all()
    return [
        OfferLine(
            id=offer.id,
            sponsor_name=name,
            round=offer.round,
            rank=offer.rank,
            state=offer.state,
            reasons=list(offer.reasons or []),
            made_at=offer.made_at,
            due_at=offer.due_at,
            answered_at=offer.answered_at,
            answer_reason=offer.answer_reason,
            offered_by=offer.offered_by,
        )
        for offer, name in rows
    ]


def _waiting_tasks(session: Session, idea_id: int) -> list[Choice]:
    rows = session.execute(
        select(ReviewTask.id, Person.name)
        .join(Person, Person.id == ReviewTask.reviewer_id)
        .where(ReviewTask.idea_id == idea_id, ReviewTask.state.in_(WAITING))
        .order_by(ReviewTask.id)
    ).all()
    return [Choice(str(task_id), f"{name}'s review (task {task_id})") for task_id, name in rows]


def _reviewers(session: Session) -> list[Choice]:
    rows = session.execute(
        select(Person.email, Person.name, Person.department)
        .where(Person.role == "reviewer", Person.active.is_(True))
        .order_by(Person.name, Person.id)
        .limit(CHOICES_SHOWN)
    ).all()
    return [Choice(email, f"{name} ({department})" if department else name) for email, name, department in rows]


def idea_page(session: Session, reference: str, *, admin: Principal, events: PageRequest) -> IdeaPage:
    """The page's contents; NotFound for a reference that names no idea."""
    idea = staff_view(session, reference, viewer=admin)
    row = session.scalar(select(Idea).where(Idea.reference == reference))
    assert row is not None  # staff_view found it
    status = Status(row.status)
    notifications = delivery_log(session, reference, reveal=True)
    in_review = status is Status.IN_REVIEW
    return IdeaPage(
        idea=idea,
        channel=row.channel,
        reviews=idea_reviews(session, reference),
        offers=_offers(session, row.id),
        incubation=incubation(session, reference, person=admin) if session.get(Incubation, row.id) else None,
        notifications=notifications[:NOTIFICATIONS_SHOWN],
        more_notifications=len(notifications) > NOTIFICATIONS_SHOWN,
        timeline=timeline(session, reference, page=events),
        can_review_actions=in_review,
        can_withdraw=status not in FINAL,
        waiting_tasks=_waiting_tasks(session, row.id) if in_review else [],
        reviewers=_reviewers(session) if in_review else [],
    )
