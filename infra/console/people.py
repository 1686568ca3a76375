"""The staff directory: who they are, what they can take on, how busy they are; add, change, deactivate.

Deactivating a person takes every way in away (tokens, sessions, unused sign-in links) and hands their work on:
a reviewer's waiting tasks go to other reviewers, a sponsor's open offers lapse and go to the next sponsor.
Each idea so touched records it on its timeline, with the administrator and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from infra import people as directory
from services.matching.handlers import lapse_offers_of
from services.review.handlers import hand_over_tasks
from shared import lifecycle
from shared.bus import outbox
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import AdminActionV1
from shared.db.models import WAITING, Idea, Incubation, Offer, OfferState, Person, ReviewTask, StaffSession
from shared.errors import Conflict, InvalidField, NotFound
from shared.paging import Page, PageRequest
from shared.principal import Principal
from shared.text import Printable

Role = Literal["reviewer", "sponsor", "admin"]


@dataclass(frozen=True)
class PersonView:
    id: int
    email: str
    name: str
    role: str
    department: str | None
    themes: str | None
    interests: str | None
    capacity: int
    active: bool
    # A reviewer's tasks waiting for them; a sponsor's running incubations (and open offers).
    load: int
    open_offers: int
    last_sign_in: datetime | None


class PersonChange(BaseModel):
    """What an administrator may change of a person; what is not sent stays as it is."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Printable] | None = (
        None
    )
    role: Role | None = None
    department: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), Printable] | None = None
    themes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), Printable] | None = None
    interests: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000), Printable] | None = None
    capacity: Annotated[int, Field(ge=0, le=1000)] | None = None
    active: bool | None = None
    # Why (recorded with a deactivation on each idea whose work is handed on).
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), Printable] | None = None


def _loads(
    session: Session, ids: list[int]
) -> tuple[dict[int, int], dict[int, int], dict[int, int], dict[int, datetime]]:
    """Waiting review tasks, running incubations, open offers and the last sign-in of each person."""
    if not ids:
        return {}, {}, {}, {}
    tasks = dict(
        session.execute(
            select(ReviewTask.reviewer_id, func.count())
            .where(ReviewTask.reviewer_id.in_(ids), ReviewTask.state.in_(WAITING))
            .group_by(ReviewTask.reviewer_id)
        ).all()
    )
    incubations = dict(
        session.execute(
            select(Incubation.sponsor_id, func.count())
            .join(Idea, Idea.id == Incubation.idea_id)
            .where(Incubation.sponsor_id.in_(ids), Idea.status == lifecycle.Status.INCUBATING.value)
            .group_by(Incubation.sponsor_id)
        ).all()
    )
    offers = dict(
        session.execute(
            select(Offer.sponsor_id, func.count())
            .where(Offer.sponsor_id.in_(ids), Offer.state == OfferState.OPEN)
            .group_by(Offer.sponsor_id)
        ).all()
    )
    signed_in = dict(
        session.execute(
            select(StaffSession.person_id, func.max(StaffSession.created_at))
            .where(StaffSession.person_id.in_(ids))
            .group_by(StaffSession.person_id)
        ).all()
    )
    return tasks, incubations, offers, signed_in


def _views(session: Session, rows: list[Person]) -> list[PersonView]:
    tasks, incubations, offers, signed_in = _loads(session, [p.id for p in rows])
    return [
        PersonView(
            id=p.id,
            email=p.email,
            name=p.name,
            role=p.role,
            department=p.department,
            themes=p.themes,
            interests=p.interests,
            capacity=p.capacity,
            active=p.active,
            load=tasks.get(p.id, 0) if p.role == "reviewer" else incubations.get(p.id, 0),
            open_offers=offers.get(p.id, 0),
            last_sign_in=signed_in.get(p.id),
        )
        for p in rows
    ]


def people(
    session: Session,
    *,
    page: PageRequest,
    role: Role | None = None,
    active: bool | None = None,
    text: str | None = None,
) -> Page[PersonView]:
    """Staff, by name, filtered by role, whether active, and words in their name, email or department."""
    query = select(Person).order_by(Person.name, Person.id)
    if role:
        query = query.where(Person.role == role)
    if active is not None:
        query = query.where(Person.active.is_(active))
    if text:
        like = f"%{text.lower()}%"
        query = query.where(
            or_(
                func.lower(Person.name).like(like),
                func.lower(Person.email).like(like),
                func.lower(func.coalesce(Person.department, "")).like(like),
            )
        )
    rows = page.page(session.scalars(query.limit(page.limit).offset(page.offset)).all())
    return Page(_views(session, rows.items), rows.number, rows.size, rows.has_next)


def one(session: Session, person_id: int) -> PersonView:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"nobody has the id {person_id}")
    return _views(session, [person])[0]


def add(session: Session, *, admin: Principal, **fields: object) -> int:
    """Register a reviewer, sponsor or administrator; InvalidField says which detail is wrong."""
    try:
        return directory.create(session, directory.checked(**fields))
    except directory.PeopleError as exc:
        said = str(exc)
        if said.endswith("already registered"):
            raise InvalidField("email", said) from None
        if said.startswith("role must"):
            raise InvalidField("role", said) from None
        field, _, message = said.split("; ")[0].partition(": ")  # "field: message; field: message"
        raise InvalidField(field if field in directory.NewPerson.model_fields else "email", message or said) from None


def _record(
    session: Session,
    idea_ids: list[int],
    action: str,
    *,
    admin: Principal,
    reason: str | None,
    **detail: str | int | None,
) -> None:
    for idea_id in idea_ids:
        idea = lifecycle.load(session, idea_id)
        outbox.emit(
            session,
            AdminActionV1.about(idea, action=action, by_id=admin.id, by_name=admin.name, reason=reason, detail=detail),
        )


def change(
    session: Session, person_id: int, change: PersonChange, *, admin: Principal, settings: Settings
) -> PersonView:
    """Change a person's details; deactivating them revokes their access and hands their work on (recorded)."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"nobody has the id {person_id}")
    if person.id == admin.id and change.active is False:
        raise Conflict("you cannot deactivate yourself: ask another administrator")
    before = one(session, person_id)
    busy = before.load or before.open_offers
    if change.role is not None and change.role != person.role and busy and person.active and change.active is not False:
        raise Conflict(f"{person.name} has work in hand: deactivate them first, which hands it on, or wait")
    for name in ("name", "role", "department", "themes", "interests", "capacity"):
        value = getattr(change, name)
        if value is None:
            continue
        blank_means_none = name in ("department", "themes", "interests")
        setattr(person, name, (value or None) if blank_means_none else value)
    if change.active is False and person.active:
        person.active = False
        now = utcnow()
        directory.revoke_person(session, person_id, now=now)
        reason = change.reason or f"{person.name} was deactivated"
        handed = hand_over_tasks(session, person_id, settings=settings, now=now)
        names = dict(
            session.execute(select(Person.id, Person.name).where(Person.id.in_([to for _, to in handed if to]))).all()
        )
        for idea_id, to in handed:
            _record(
                session,
                [idea_id],
                "review_handed_over",
                admin=admin,
                reason=reason,
                reviewer_from=person.name,
                reviewer_to=names.get(to) if to else None,
            )
        lapsed = lapse_offers_of(session, person_id, reason=reason)
        _record(session, lapsed, "offer_lapsed", admin=admin, reason=reason, sponsor=person.name)
    elif change.active is True:
        person.active = True
    session.flush()
    return one(session, person_id)
