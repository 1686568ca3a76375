"""Case studies: what an implemented (or instructively closed) idea taught, written up and published.

The sponsor or an administrator writes one from the outcome; only an administrator publishes or withdraws it.
A published case study is public: what it shows is what was written in it for publication (never reviewers'
comments, private notes or email addresses: the write-up refuses an address), and its credit names the
submitter only if they agreed, and never an anonymous one (docs/incubation.md).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from services.incubation.handlers import incubation_of
from services.incubation.schemas import Benefits, CaseStudyIn, CaseStudyView
from shared import lifecycle
from shared.bus import outbox
from shared.clock import utcnow
from shared.contracts.events import CaseStudyPublishedV1
from shared.db.models import (
    CASE_STUDY,
    CaseStudy,
    CaseStudyState,
    CreditConsent,
    Idea,
    Outcome,
    Person,
)
from shared.db.states import claimed_one
from shared.errors import Conflict, NotFound
from shared.logging import get_logger
from shared.paging import Page, PageRequest
from shared.principal import Principal

log = get_logger("ideahub.incubation.case_studies")
Status = lifecycle.Status
_case_studies = CaseStudy.__table__
WRITABLE = (Status.IMPLEMENTED, Status.CLOSED)


def slug_for(title: str, reference: str) -> str:
    """`text-reminders-for-clinic-appointments-ih-2026-000123`: readable, and unique by its reference."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:80].rstrip("-")
    return f"{words}-{reference.lower()}" if words else reference.lower()


def credit_for(*, anonymous: bool, name: str | None, department: str | None, agreed: bool | None) -> str:
    """Who the case study credits: the submitter by name only if they agreed and did not ask to stay anonymous."""
    if agreed and not anonymous and name:
        return name
    return f"a member of staff in {department}" if department else "a member of staff"


def draft(session: Session, reference: str, *, author: Principal) -> CaseStudyIn:
    """The write-up as it stands, or, before there is one, a first draft from the idea and its outcome."""
    idea_state, _ = incubation_of(session, reference, author)
    found = session.scalar(select(CaseStudy).where(CaseStudy.idea_id == idea_state.id))
    if found is not None:
        return CaseStudyIn.model_validate(found, from_attributes=True)
    idea = session.get(Idea, idea_state.id)
    outcome = session.get(Outcome, idea_state.id)
    if idea is None or outcome is None:
        raise Conflict(f"{reference} has no outcome yet: a case study is written from it")
    return CaseStudyIn.model_construct(
        title=idea.title,
        summary=outcome.summary[:300],
        problem=idea.problem,
        what_was_done=outcome.summary,
        benefits=outcome.benefits_text,
        money_saved_a_year=outcome.money_saved_a_year,
        hours_saved_a_year=outcome.hours_saved_a_year,
        people_affected=outcome.people_affected,
        lessons=outcome.lessons,
    )


def write(session: Session, reference: str, text: CaseStudyIn, *, author: Principal) -> int:
    """Save the write-up (a new one is a draft); the case study's id.

    The sponsor may change it until it is published; after that, only an administrator, whose change shows
    at once.
    """
    idea_state, incubation = incubation_of(session, reference, author)
    if idea_state.status not in WRITABLE:
        raise Conflict(
            f"{reference} is {idea_state.status.value}: a case study is written once it is implemented or closed"
        )
    idea = session.get(Idea, idea_state.id)
    outcome = session.get(Outcome, idea_state.id)
    assert idea is not None
    assert outcome is not None
    sponsor_name = session.scalar(select(Person.name).where(Person.id == incubation.sponsor_id)) or ""
    now = utcnow()
    values = text.model_dump() | {"updated_at": now, "written_by": author.id}
    found = session.scalar(select(CaseStudy).where(CaseStudy.idea_id == idea.id))
    if found is None:
        row = CaseStudy(
            idea_id=idea.id,
            slug=slug_for(text.title, idea.reference),
            state=CaseStudyState.DRAFT,
            result=outcome.result,
            department=idea.department,
            theme=idea.theme,
            sponsor_name=sponsor_name,
            created_at=now,
            **values,
        )
        session.add(row)
        session.flush()
        log.info("incubation.case_study_written", case_study_id=row.id, idea_reference=idea.reference)
        return row.id
    if found.state == CaseStudyState.PUBLISHED and not author.is_admin:
        raise Conflict("this case study is published: ask an administrator to change it, or to withdraw it first")
    for name, value in values.items():
        setattr(found, name, value)
    return found.id


def _case_study(session: Session, case_study_id: int) -> CaseStudy:
    found = session.get(CaseStudy, case_study_id)
    if found is None:
        raise NotFound(f"there is no case study {case_study_id}")
    return found


def publish(session: Session, case_study_id: int, *, admin: Principal) -> str:
    """Publish a case study (a draft, or one withdrawn); its slug. The submitter and sponsor are told."""
    found = _case_study(session, case_study_id)
    state = CaseStudyState(found.state)
    if state is CaseStudyState.PUBLISHED:
        return found.slug
    now = utcnow()
    change = CASE_STUDY.update(
        _case_studies, state, CaseStudyState.PUBLISHED, _case_studies.c.id == case_study_id, published_at=now
    )
    if not claimed_one(session, change):
        raise Conflict("this case study changed meanwhile: reload and try again")
    idea = lifecycle.load(session, found.idea_id)
    outbox.emit(session, CaseStudyPublishedV1.about(idea, case_study_id=found.id, slug=found.slug, title=found.title))
    log.info("incubation.case_study_published", case_study_id=found.id, by=admin.email)
    return found.slug


def withdraw(session: Session, case_study_id: int, *, admin: Principal) -> None:
    """Take a published case study off the public pages, the feed and the API."""
    found = _case_study(session, case_study_id)
    if found.state != CaseStudyState.PUBLISHED:
        raise Conflict(f"this case study is {found.state}, not published")
    change = CASE_STUDY.update(
        _case_studies, CaseStudyState.PUBLISHED, CaseStudyState.WITHDRAWN, _case_studies.c.id == case_study_id
    )
    if not claimed_one(session, change):
        raise Conflict("this case study changed meanwhile: reload and try again")
    log.info("incubation.case_study_withdrawn", case_study_id=found.id, by=admin.email)


_PUBLIC = (
    select(CaseStudy, Idea.anonymous, Idea.submitter_name, CreditConsent.credit_by_name)
    .join(Idea, Idea.id == CaseStudy.idea_id)
    .outerjoin(CreditConsent, CreditConsent.idea_id == CaseStudy.idea_id)
)


def _view(study: CaseStudy, anonymous: bool, name: str | None, agreed: bool | None) -> CaseStudyView:
    return CaseStudyView(
        slug=study.slug,
        result="implemented" if study.result == "implemented" else "closed",
        title=study.title,
        summary=study.summary,
        problem=study.problem,
        what_was_done=study.what_was_done,
        benefits=Benefits(
            words=study.benefits,
            money_a_year=study.money_saved_a_year,
            hours_a_year=study.hours_saved_a_year,
            people=study.people_affected,
        ),
        lessons=study.lessons,
        department=study.department,
        theme=study.theme,
        sponsor_name=study.sponsor_name,
        credit=credit_for(anonymous=anonymous, name=name, department=study.department, agreed=agreed),
        published_at=study.published_at,
        updated_at=study.updated_at,
    )


@dataclass(frozen=True)
class Filters:
    department: str | None = None
    theme: str | None = None


def _published(filters: Filters) -> Select[CaseStudy, bool, str | None, bool]:
    query = _PUBLIC.where(CaseStudy.state == CaseStudyState.PUBLISHED)
    if filters.department:
        query = query.where(CaseStudy.department == filters.department)
    if filters.theme:
        query = query.where(CaseStudy.theme == filters.theme)
    return query.order_by(CaseStudy.published_at.desc(), CaseStudy.id.desc())


def published(session: Session, *, filters: Filters, page: PageRequest) -> Page[CaseStudyView]:
    """Published case studies, newest first."""
    rows = page.page(session.execute(_published(filters).limit(page.limit).offset(page.offset)).all())
    return Page([_view(*row) for row in rows.items], rows.number, rows.size, rows.has_next)


def one(session: Session, slug: str) -> CaseStudyView:
    """A published case study by its slug (404 for a draft, a withdrawn one, or none)."""
    row = session.execute(
        _PUBLIC.where(CaseStudy.slug == slug, CaseStudy.state == CaseStudyState.PUBLISHED)
    ).one_or_none()
    if row is None:
        raise NotFound("there is no published case study at this address")
    return _view(*row)


def preview(session: Session, reference: str, *, author: Principal) -> tuple[int, str, CaseStudyView] | None:
    """The write-up of an idea as it would be published, for its sponsor or an administrator: (id, state, view)."""
    idea_state, _ = incubation_of(session, reference, author)
    row = session.execute(_PUBLIC.where(CaseStudy.idea_id == idea_state.id)).one_or_none()
    if row is None:
        return None
    return row.CaseStudy.id, row.CaseStudy.state, _view(*row)


def facets(session: Session) -> tuple[list[str], list[str]]:
    """The departments and themes of published case studies, for the filters."""
    departments = session.scalars(
        select(CaseStudy.department)
        .where(CaseStudy.state == CaseStudyState.PUBLISHED, CaseStudy.department.is_not(None))
        .distinct()
        .order_by(CaseStudy.department)
    ).all()
    themes = session.scalars(
        select(CaseStudy.theme)
        .where(CaseStudy.state == CaseStudyState.PUBLISHED, CaseStudy.theme.is_not(None))
        .distinct()
        .order_by(CaseStudy.theme)
    ).all()
    return [d for d in departments if d], [t for t in themes if t]
