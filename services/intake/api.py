"""Intake's HTTP routes: submission, the submitter's status view, withdrawal, and staff reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, status

from services.intake import handlers
from services.intake.schemas import (
    Accepted,
    Answer,
    CreditAnswer,
    StaffIdeaView,
    StatusView,
    Submission,
    Withdrawal,
)
from shared.principal import Principal
from shared.web.deps import require, settings_of, uow, within_rate_limit

router = APIRouter(prefix="/api/v1", tags=["intake"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (a UUID, say). A retried request with the same key and body gets the "
        "first answer and creates nothing; the same key with another body gets 409.",
    ),
]


@router.post(
    "/ideas",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    dependencies=[Depends(within_rate_limit)],
    responses={409: {"description": "Idempotency-Key reused with another body"}, 429: {"description": "Rate limit"}},
)
def submit(request: Request, submission: Submission, idempotency_key: IdempotencyKey = None) -> Accepted:
    settings = settings_of(request)
    source = None
    if idempotency_key is not None:
        source = handlers.Source(
            key="api:" + handlers.digest(idempotency_key), fingerprint=handlers.fingerprint_of(submission)
        )
    with uow(request) as session:
        created = handlers.submit_idea(
            session, submission, channel="api", departments=settings.departments, source=source
        )
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


@router.post(
    "/status/{token}/answer",
    response_model=StatusView,
    dependencies=[Depends(within_rate_limit)],
    responses={409: {"description": "No open question"}},
)
def answer(request: Request, token: str, body: Answer) -> StatusView:
    with uow(request) as session:
        handlers.answer(session, token, body.answer, channel="api")
    with uow(request) as session:
        return handlers.status_view(session, token)


@router.post("/status/{token}/withdraw", response_model=StatusView)
def withdraw(request: Request, token: str, body: Withdrawal | None = None) -> StatusView:
    with uow(request) as session:
        handlers.withdraw(session, token, reason=body.reason if body else None)
    with uow(request) as session:
        return handlers.status_view(session, token)


@router.put("/status/{token}/credit", response_model=StatusView)
def answer_credit(request: Request, token: str, body: CreditAnswer) -> StatusView:
    """May a case study of the idea name its submitter? Asked once it has its outcome; never of an anonymous one."""
    with uow(request) as session:
        handlers.answer_credit(session, token, credit_by_name=body.credit_by_name)
    with uow(request) as session:
        return handlers.status_view(session, token)


@router.get("/ideas/{reference}", response_model=StaffIdeaView)
def idea_for_staff(
    request: Request, reference: str, viewer: Annotated[Principal, Depends(require("reviewer", "sponsor", "admin"))]
) -> StaffIdeaView:
    with uow(request) as session:
        return handlers.staff_view(session, reference, viewer=viewer)
