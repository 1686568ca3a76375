"""The console's JSON twins under /api/v1/admin/: failed messages (list, retry, discard)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, StringConstraints

from infra.console import failures
from shared.principal import Principal
from shared.text import Printable
from shared.web.deps import require, settings_of, uow
from shared.web.paging import Paging, link_next
from shared.web.params import RowId

router = APIRouter(prefix="/api/v1/admin", tags=["administration"])
Admin = Annotated[Principal, Depends(require("admin"))]


class FailureOut(BaseModel):
    id: int
    consumer: str
    event_id: str | None
    event_type: str | None
    idea_reference: str | None
    error: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    resolution: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_reason: str | None


class DiscardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), Printable]


class RetryOut(BaseModel):
    id: int
    handled: bool
    failed_again: int | None
    error: str | None


def _out(view: failures.FailureView) -> FailureOut:
    return FailureOut(**{k: v for k, v in asdict(view).items() if k != "idea_id"})


@router.get("/failures", response_model=list[FailureOut])
def list_failures(
    request: Request,
    response: Response,
    admin: Admin,
    paging: Paging,
    state: Literal["open", "resolved", "all"] = "open",
    consumer: Annotated[str | None, Query(max_length=100)] = None,
) -> list[FailureOut]:
    """Messages a consumer gave up on, newest first: open ones by default; paginated."""
    with uow(request) as session:
        page = failures.failures(session, state=state, consumer=consumer, page=paging)
    link_next(request, response, page)
    return [_out(view) for view in page.items]


@router.post("/failures/{failure_id}/retry", response_model=RetryOut)
def retry_failure(request: Request, failure_id: RowId, admin: Admin) -> RetryOut:
    """Hand the event to its consumer again, now: handled once, or recorded as failed again."""
    result = failures.retry(settings_of(request), request.app.state.session_factory, failure_id, admin=admin)
    return RetryOut(id=failure_id, handled=result.handled, failed_again=result.failed_again, error=result.error)


@router.post("/failures/{failure_id}/discard", response_model=FailureOut)
def discard_failure(request: Request, failure_id: RowId, body: DiscardIn, admin: Admin) -> FailureOut:
    """Give up on it for good, with the reason; it is kept as a record."""
    with uow(request) as session:
        failures.discard(session, failure_id, admin=admin, reason=body.reason)
    with uow(request) as session:
        return _out(failures.one(session, failure_id))
