"""What sponsors and administrators read of incubations: a page of them with a tag each, and one in full."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.incubation.handlers import incubation_of
from services.incubation.schemas import (
    Benefits,
    CaseStudyRef,
    IncubationSummary,
    IncubationView,
    MilestoneView,
    OutcomeView,
    Tag,
    UpdateView,
)
from shared.db.models import CaseStudy, Idea, Incubation, Milestone, MilestoneState, Outcome, Person, ProgressUpdate
from shared.paging import Page, PageRequest
from shared.principal import Principal

_TAG_OF_UPDATE: dict[str, Tag] = {"on_track": "on track", "at_risk": "at risk", "blocked": "blocked"}
SHOWN_MILESTONES = (MilestoneState.OPEN, MilestoneState.OVERDUE, MilestoneState.REACHED)


def _tag(status: str, latest_update: str | None, overdue: bool) -> Tag:
    if status == "implemented":
        return "implemented"
    if status == "closed":
        return "closed"
    if overdue:
        return "milestone overdue"
    return _TAG_OF_UPDATE.get(latest_update or "", "no update yet")


def _latest_states(session: Session, idea_ids: Iterable[int]) -> dict[int, str]:
    """Each idea's latest progress state, in one statement."""
    ids = list(idea_ids)
    if not ids:
        return {}
    latest = (
        select(ProgressUpdate.idea_id, func.max(ProgressUpdate.id).label("last"))
        .where(ProgressUpdate.idea_id.in_(ids))
        .group_by(ProgressUpdate.idea_id)
        .subquery()
    )
    rows = session.execute(
        select(ProgressUpdate.idea_id, ProgressUpdate.state).join(latest, ProgressUpdate.id == latest.c.last)
    )
    return {row.idea_id: row.state for row in rows}


def _milestones_of(session: Session, idea_ids: Iterable[int]) -> dict[int, list[Milestone]]:
    ids = list(idea_ids)
    found: dict[int, list[Milestone]] = {idea_id: [] for idea_id in ids}
    if ids:
        rows = session.scalars(
            select(Milestone)
            .where(Milestone.idea_id.in_(ids), Milestone.state.in_(SHOWN_MILESTONES))
            .order_by(Milestone.due_at, Milestone.id)
        )
        for milestone in rows:
            found[milestone.idea_id].append(milestone)
    return found


def milestone_view(milestone: Milestone) -> MilestoneView:
    return MilestoneView(
        id=milestone.id,
        title=milestone.title,
        due_on=milestone.due_on,
        due_at=milestone.due_at,
        state=MilestoneState(milestone.state).value,
        done_at=milestone.done_at,
    )


def incubations(session: Session, *, person: Principal, page: PageRequest) -> Page[IncubationSummary]:
    """A sponsor's incubations (an administrator's: everyone's), those running first, newest first."""
    query = (
        select(Incubation, Idea.reference, Idea.title, Idea.status, Idea.department, Person.name)
        .join(Idea, Idea.id == Incubation.idea_id)
        .join(Person, Person.id == Incubation.sponsor_id)
        .order_by((Idea.status == "incubating").desc(), Incubation.started_at.desc(), Incubation.idea_id.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    if not person.is_admin:
        query = query.where(Incubation.sponsor_id == person.id)
    rows = page.page(session.execute(query).all())
    ids = [row.Incubation.idea_id for row in rows.items]
    states = _latest_states(session, ids)
    milestones = _milestones_of(session, ids)
    summaries = []
    for row in rows.items:
        mine = milestones[row.Incubation.idea_id]
        pending = [m for m in mine if m.state in (MilestoneState.OPEN, MilestoneState.OVERDUE)]
        overdue = any(m.state == MilestoneState.OVERDUE for m in mine)
        summaries.append(
            IncubationSummary(
                idea_reference=row.reference,
                idea_title=row.title,
                idea_status=row.status,
                department=row.department,
                sponsor_name=row.name,
                started_at=row.Incubation.started_at,
                tag=_tag(row.status, states.get(row.Incubation.idea_id), overdue),
                next_milestone=milestone_view(pending[0]) if pending else None,
            )
        )
    return Page(summaries, rows.number, rows.size, rows.has_next)


def _benefits(words: str | None, money: float | None, hours: float | None, people: int | None) -> Benefits:
    return Benefits(words=words, money_a_year=money, hours_a_year=hours, people=people)


def outcome_view(outcome: Outcome) -> OutcomeView:
    return OutcomeView(
        result="implemented" if outcome.result == "implemented" else "closed",
        summary=outcome.summary,
        benefits=_benefits(
            outcome.benefits_text, outcome.money_saved_a_year, outcome.hours_saved_a_year, outcome.people_affected
        ),
        lessons=outcome.lessons,
        at=outcome.at,
    )


# The updates shown with an incubation, newest first; older ones are in the idea's history.
UPDATES_SHOWN = 50


def incubation(session: Session, reference: str, *, person: Principal) -> IncubationView:
    """One incubation in full, for its sponsor or an administrator (404 to anyone else)."""
    idea_state, record = incubation_of(session, reference, person)
    idea = session.get(Idea, idea_state.id)
    assert idea is not None
    sponsor_name = session.scalar(select(Person.name).where(Person.id == record.sponsor_id)) or ""
    milestones = _milestones_of(session, [idea.id])[idea.id]
    updates = session.execute(
        select(ProgressUpdate, Person.name)
        .outerjoin(Person, Person.id == ProgressUpdate.author_id)
        .where(ProgressUpdate.idea_id == idea.id)
        .order_by(ProgressUpdate.id.desc())
        .limit(UPDATES_SHOWN)
    ).all()
    outcome = session.get(Outcome, idea.id)
    case_study = session.execute(
        select(CaseStudy.id, CaseStudy.slug, CaseStudy.state).where(CaseStudy.idea_id == idea.id)
    ).one_or_none()
    overdue = any(m.state == MilestoneState.OVERDUE for m in milestones)
    return IncubationView(
        idea_reference=idea.reference,
        idea_title=idea.title,
        idea_status=idea.status,
        department=idea.department,
        theme=idea.theme,
        sponsor_name=sponsor_name,
        started_at=record.started_at,
        tag=_tag(idea.status, updates[0][0].state if updates else None, overdue),
        budget=record.budget,
        staff_days=record.staff_days,
        projected=_benefits(
            record.projected_benefits,
            record.projected_money_a_year,
            record.projected_hours_a_year,
            record.projected_people,
        ),
        milestones=[milestone_view(m) for m in milestones],
        updates=[
            UpdateView(id=u.id, state=u.state, note=u.note, private=u.private, at=u.at, author_name=name)
            for u, name in updates
        ],
        outcome=outcome_view(outcome) if outcome is not None else None,
        case_study=CaseStudyRef(id=case_study.id, slug=case_study.slug, state=case_study.state) if case_study else None,
    )
