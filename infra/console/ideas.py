"""Finding ideas: filter, search and sort, a page at a time, with what each staff role may see.

Administrators see every idea; a reviewer only the ideas given to them to review; a sponsor only the ideas offered
to them or that they sponsor. An anonymous submitter is never part of a row (only the idea's own page shows them,
to administrators).

Words are searched in the title, problem and idea. On PostgreSQL that is full-text search (English stemming:
"scanning" finds "scanned"), served by a GIN index on the same expression (migration 0013); on SQLite, each word
must appear in one of the three, in any case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal_column, or_, select, union
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.db.models import Idea, Incubation, Milestone, MilestoneState, Offer, OfferState, ReviewTask, TaskState
from shared.db.models.intake import search_document
from shared.lifecycle import Status
from shared.paging import Page, PageRequest
from shared.principal import Principal


class Sort(StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"
    UPDATED = "updated"  # most recently changed first
    REFERENCE = "reference"


@dataclass(frozen=True)
class IdeaFilter:
    statuses: tuple[Status, ...] = ()
    department: str | None = None
    theme: str | None = None
    channel: str | None = None
    overdue: bool = False  # only ideas with a review, offer or milestone past its due time
    text: str | None = None
    submitted_from: date | None = None  # UK dates, both included
    submitted_to: date | None = None
    sort: Sort = Sort.NEWEST


@dataclass(frozen=True)
class IdeaRow:
    reference: str
    title: str
    status: str
    department: str | None
    theme: str | None
    channel: str
    submitted_at: datetime
    updated_at: datetime
    overdue: bool


UK = ZoneInfo("Europe/London")


def _uk_midnight(day: date) -> datetime:
    """The start of a UK day, as the aware UTC instant stored."""
    return datetime.combine(day, time(), tzinfo=UK)


def _overdue(now: datetime) -> ColumnElement[bool]:
    late_review = exists().where(
        ReviewTask.idea_id == Idea.id, ReviewTask.state == TaskState.OPEN.value, ReviewTask.due_at < now
    )
    late_offer = exists().where(Offer.idea_id == Idea.id, Offer.state == OfferState.OPEN.value, Offer.due_at < now)
    late_milestone = exists().where(
        Milestone.idea_id == Idea.id, Milestone.state == MilestoneState.OPEN.value, Milestone.due_at < now
    )
    return or_(late_review, late_offer, late_milestone)


def _words(text: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        query = func.websearch_to_tsquery(literal_column("'english'::regconfig"), text)
        return search_document().op("@@")(query)
    conditions = []
    for word in text.lower().split()[:10]:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            or_(
                *(func.lower(column).like(pattern, escape="\\") for column in (Idea.title, Idea.problem, Idea.proposal))
            )
        )
    return and_(*conditions)


def visible_to(viewer: Principal) -> ColumnElement[bool] | None:
    """What a staff member may see of the ideas: None for everything."""
    if viewer.is_admin:
        return None
    if viewer.role == "reviewer":
        return Idea.id.in_(select(ReviewTask.idea_id).where(ReviewTask.reviewer_id == viewer.id))
    if viewer.role == "sponsor":
        theirs = union(
            select(Offer.idea_id).where(Offer.sponsor_id == viewer.id),
            select(Incubation.idea_id).where(Incubation.sponsor_id == viewer.id),
        )
        return Idea.id.in_(theirs)
    return Idea.id.is_(None)  # nobody else sees any


def _query(found: IdeaFilter, viewer: Principal, *, dialect: str, now: datetime) -> Select[Idea]:
    query = select(Idea)
    seen = visible_to(viewer)
    if seen is not None:
        query = query.where(seen)
    if found.statuses:
        query = query.where(Idea.status.in_([s.value for s in found.statuses]))
    if found.department:
        query = query.where(Idea.department == found.department)
    if found.theme:
        query = query.where(Idea.theme == found.theme)
    if found.channel:
        query = query.where(Idea.channel == found.channel)
    if found.submitted_from:
        query = query.where(Idea.created_at >= _uk_midnight(found.submitted_from))
    if found.submitted_to:
        query = query.where(Idea.created_at < _uk_midnight(found.submitted_to + timedelta(days=1)))
    if found.overdue:
        query = query.where(_overdue(now))
    if found.text and found.text.strip():
        query = query.where(_words(found.text.strip(), dialect))
    order = {
        Sort.NEWEST: (Idea.created_at.desc(), Idea.id.desc()),
        Sort.OLDEST: (Idea.created_at, Idea.id),
        Sort.UPDATED: (Idea.updated_at.desc(), Idea.id.desc()),
        Sort.REFERENCE: (Idea.id,),  # references are made of the id, in order
    }[found.sort]
    return query.order_by(*order)


def search(session: Session, found: IdeaFilter, *, viewer: Principal, page: PageRequest) -> Page[IdeaRow]:
    """One page of the ideas `viewer` may see that match `found`, each marked if anything on it is overdue."""
    now = utcnow()
    query = _query(found, viewer, dialect=session.get_bind().dialect.name, now=now)
    rows = page.page(session.scalars(query.limit(page.limit).offset(page.offset)).all())
    ids = [idea.id for idea in rows.items]
    late: set[int] = set()
    if ids:
        late = set(session.scalars(select(Idea.id).where(Idea.id.in_(ids), _overdue(now))).all())
    return Page(
        [
            IdeaRow(
                reference=idea.reference,
                title=idea.title,
                status=idea.status,
                department=idea.department,
                theme=idea.theme,
                channel=idea.channel,
                submitted_at=idea.created_at,
                updated_at=idea.updated_at,
                overdue=idea.id in late,
            )
            for idea in rows.items
        ],
        rows.number,
        rows.size,
        rows.has_next,
    )
