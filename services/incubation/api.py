"""Incubation's HTTP routes, for the idea's sponsor (or an administrator)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from services.incubation import handlers
from services.incubation.schemas import OutcomeIn, PlanIn, UpdateIn
from shared.principal import Principal
from shared.web.deps import require, uow

router = APIRouter(prefix="/api/v1/ideas/{reference}", tags=["incubation"])
Sponsor = Annotated[Principal, Depends(require("sponsor", "admin"))]


@router.post("/milestones", status_code=status.HTTP_201_CREATED)
def add_plan(request: Request, reference: str, plan: PlanIn, sponsor: Sponsor) -> dict[str, object]:
    with uow(request) as session:
        ids = handlers.add_plan(session, reference, plan, sponsor=sponsor)
    return {"milestones_added": len(ids), "milestone_ids": ids}


@router.post("/milestones/{milestone_id}/reached")
def reach_milestone(request: Request, reference: str, milestone_id: int, sponsor: Sponsor) -> dict[str, object]:
    """Mark a milestone reached; the submitter is told. Marking it again changes nothing."""
    with uow(request) as session:
        changed = handlers.reach_milestone(session, reference, milestone_id, sponsor=sponsor)
    return {"milestone_id": milestone_id, "reached": True, "changed": changed}


@router.post("/updates", status_code=status.HTTP_201_CREATED)
def add_update(request: Request, reference: str, update: UpdateIn, sponsor: Sponsor) -> dict[str, str]:
    with uow(request) as session:
        handlers.add_update(session, reference, update, sponsor=sponsor)
    return {"result": "update recorded"}


@router.post("/outcome")
def record_outcome(request: Request, reference: str, outcome: OutcomeIn, sponsor: Sponsor) -> dict[str, str]:
    with uow(request) as session:
        status_ = handlers.record_outcome(session, reference, outcome, sponsor=sponsor)
    return {"idea_reference": reference, "status": status_}
