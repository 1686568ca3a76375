"""Intake's HTTP routes: submission, the submitter's status view, withdrawal, and staff reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from services.intake import handlers
from services.intake.schemas import Accepted, StaffIdeaView, StatusView, Submission, Withdrawal
from shared.web.deps import Principal, require, settings_of, uow

router = APIRouter(prefix="/api/v1", tags=["intake"])


@router.post("/ideas", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
def submit(request: Request, submission: Submission) -> Accepted:
    settings = settings_of(request)
    with uow(request) as session:
        created = handlers.submit_idea(session, submission, channel="api", departments=settings.departments)
    return Accepted(
        id=created.id,
        reference=created.reference,
        status=created.status,
        status_url=f"{settings.public_url.rstrip('/')}/status/{created.status_token}",
    )


@router.get("/status/{token}", response_model=StatusView)
def status_of(request: Request, token: str) -> StatusView:
    with uow(request) as session:
        return handlers.status_view(session, token)


@router.post("/status/{token}/withdraw", response_model=StatusView)
def withdraw(request: Request, token: str, body: Withdrawal | None = None) -> StatusView:
    with uow(request) as session:
        handlers.withdraw(session, token, reason=body.reason if body else None)
    with uow(request) as session:
        return handlers.status_view(session, token)


@router.get("/ideas/{reference}", response_model=StaffIdeaView)
def idea_for_staff(
    request: Request, reference: str, viewer: Annotated[Principal, Depends(require("reviewer", "sponsor", "admin"))]
) -> StaffIdeaView:
    with uow(request) as session:
        return handlers.staff_view(session, reference, viewer=viewer)
