"""Incubation's HTTP routes: the sponsor's (or an administrator's) incubations, plans, progress and outcome, and
case studies (written by the sponsor or an administrator, published by an administrator, read by anyone)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.incubation import case_studies, handlers, queries
from services.incubation.case_studies import Filters
from services.incubation.schemas import (
    CaseStudyIn,
    CaseStudyView,
    Figures,
    IncubationSummary,
    IncubationView,
    MilestoneChange,
    OutcomeIn,
    PlanIn,
    UpdateIn,
)
from shared.principal import Principal
from shared.web.deps import require, settings_of, uow
from shared.web.paging import Paging, link_next
from shared.web.params import RowId, Slug

router = APIRouter(tags=["incubation"])
Sponsor = Annotated[Principal, Depends(require("sponsor", "admin"))]
Admin = Annotated[Principal, Depends(require("admin"))]
IDEA = "/api/v1/ideas/{reference}"


@router.get("/api/v1/incubations", response_model=list[IncubationSummary])
def my_incubations(request: Request, response: Response, person: Sponsor, paging: Paging) -> list[IncubationSummary]:
    """My incubations (an administrator's: every one), running ones first, each with its tag; paginated."""
    with uow(request) as session:
        page = queries.incubations(session, person=person, page=paging)
    link_next(request, response, page)
    return page.items


@router.get(f"{IDEA}/incubation", response_model=IncubationView)
def one_incubation(request: Request, reference: str, person: Sponsor) -> IncubationView:
    """The plan, milestones, progress updates and outcome of an idea's incubation."""
    with uow(request) as session:
        return queries.incubation(session, reference, person=person)


@router.post(f"{IDEA}/milestones", status_code=status.HTTP_201_CREATED)
def add_plan(request: Request, reference: str, plan: PlanIn, sponsor: Sponsor) -> dict[str, object]:
    with uow(request) as session:
        ids = handlers.add_plan(session, reference, plan, sponsor=sponsor, settings=settings_of(request))
    return {"milestones_added": len(ids), "milestone_ids": ids}


@router.patch(f"{IDEA}/plan")
def change_figures(request: Request, reference: str, figures: Figures, sponsor: Sponsor) -> dict[str, str]:
    """Change the budget, staff days or projected benefits; what is not sent stays as it is."""
    with uow(request) as session:
        handlers.set_figures(session, reference, figures, sponsor=sponsor)
    return {"result": "plan changed"}


@router.patch(f"{IDEA}/milestones/{{milestone_id}}")
def change_milestone(
    request: Request, reference: str, milestone_id: RowId, change: MilestoneChange, sponsor: Sponsor
) -> dict[str, object]:
    """Rename a milestone still to be reached, or give it a new date (its reminder and deadline follow)."""
    with uow(request) as session:
        handlers.change_milestone(
            session, reference, milestone_id, change, sponsor=sponsor, settings=settings_of(request)
        )
    return {"milestone_id": milestone_id, "result": "changed"}


@router.delete(f"{IDEA}/milestones/{{milestone_id}}")
def drop_milestone(request: Request, reference: str, milestone_id: RowId, sponsor: Sponsor) -> dict[str, object]:
    """Take a milestone still to be reached out of the plan."""
    with uow(request) as session:
        handlers.drop_milestone(session, reference, milestone_id, sponsor=sponsor)
    return {"milestone_id": milestone_id, "result": "dropped"}


@router.post(f"{IDEA}/milestones/{{milestone_id}}/reached")
def reach_milestone(request: Request, reference: str, milestone_id: RowId, sponsor: Sponsor) -> dict[str, object]:
    """Mark a milestone reached; the submitter is told. Marking it again changes nothing."""
    with uow(request) as session:
        changed = handlers.reach_milestone(session, reference, milestone_id, sponsor=sponsor)
    return {"milestone_id": milestone_id, "reached": True, "changed": changed}


@router.post(f"{IDEA}/updates", status_code=status.HTTP_201_CREATED)
def add_update(request: Request, reference: str, update: UpdateIn, sponsor: Sponsor) -> dict[str, object]:
    with uow(request) as session:
        update_id = handlers.add_update(session, reference, update, sponsor=sponsor)
    return {"result": "update recorded", "update_id": update_id}


@router.post(f"{IDEA}/outcome")
def record_outcome(request: Request, reference: str, outcome: OutcomeIn, sponsor: Sponsor) -> dict[str, str]:
    with uow(request) as session:
        status_ = handlers.record_outcome(session, reference, outcome, sponsor=sponsor)
    return {"idea_reference": reference, "status": status_}


@router.put(f"{IDEA}/case-study")
def write_case_study(request: Request, reference: str, text: CaseStudyIn, author: Sponsor) -> dict[str, object]:
    """Write (or rewrite) the case study of an implemented or closed idea; a new one is a draft."""
    with uow(request) as session:
        case_study_id = case_studies.write(session, reference, text, author=author)
    return {"case_study_id": case_study_id, "result": "saved"}


@router.post("/api/v1/admin/case-studies/{case_study_id}/publish")
def publish_case_study(request: Request, case_study_id: RowId, admin: Admin) -> dict[str, object]:
    with uow(request) as session:
        slug = case_studies.publish(session, case_study_id, admin=admin)
    return {"case_study_id": case_study_id, "state": "published", "slug": slug}


@router.post("/api/v1/admin/case-studies/{case_study_id}/withdraw")
def withdraw_case_study(request: Request, case_study_id: RowId, admin: Admin) -> dict[str, object]:
    with uow(request) as session:
        case_studies.withdraw(session, case_study_id, admin=admin)
    return {"case_study_id": case_study_id, "state": "withdrawn"}


@router.get("/api/v1/case-studies", response_model=list[CaseStudyView])
def published_case_studies(
    request: Request,
    response: Response,
    paging: Paging,
    department: Annotated[str | None, Query(max_length=100)] = None,
    theme: Annotated[str | None, Query(max_length=100)] = None,
) -> list[CaseStudyView]:
    """Published case studies, newest first; anyone may read them. Paginated (`Link: <...>; rel="next"`)."""
    with uow(request) as session:
        page = case_studies.published(session, filters=Filters(department, theme), page=paging)
    link_next(request, response, page)
    return page.items


@router.get("/api/v1/case-studies/{slug}", response_model=CaseStudyView)
def one_case_study(request: Request, slug: Slug) -> CaseStudyView:
    with uow(request) as session:
        return case_studies.one(session, slug)
