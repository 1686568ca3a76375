"""Notify's HTTP API: the submitter's mail preferences, the delivery log, failed notifications and resending.

The page a submitter stops optional mail on is in `web.py`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict

from services.notify import handlers
from shared.principal import Principal
from shared.web.deps import require, uow
from shared.web.paging import Paging, link_next

router = APIRouter(tags=["notifications"])


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # False: only mail that needs the submitter's answer (a reviewer's question) is sent.
    optional_mail: bool


class Resent(BaseModel):
    id: int
    state: Literal["pending"]


@router.get("/api/v1/status/{token}/preferences", response_model=Preferences)
def preferences(request: Request, token: str) -> Preferences:
    with uow(request) as session:
        return Preferences(optional_mail=handlers.optional_mail(session, token))


@router.put("/api/v1/status/{token}/preferences", response_model=Preferences)
def set_preferences(request: Request, token: str, body: Preferences) -> Preferences:
    with uow(request) as session:
        handlers.set_optional_mail(session, token, body.optional_mail)
    return body


@router.post("/api/v1/status/{token}/stop-updates", response_model=Preferences)
def stop_updates_one_click(request: Request, token: str) -> Preferences:
    """RFC 8058 one-click unsubscribe: the `List-Unsubscribe-Post` target of every optional email."""
    with uow(request) as session:
        handlers.set_optional_mail(session, token, False)
    return Preferences(optional_mail=False)


@router.get("/api/v1/ideas/{reference}/notifications", response_model=list[handlers.NotificationView])
def delivery_log(
    request: Request, reference: str, viewer: Annotated[Principal, Depends(require("reviewer", "sponsor", "admin"))]
) -> list[handlers.NotificationView]:
    """What was sent about an idea. An anonymous submitter's address is shown to administrators only."""
    with uow(request) as session:
        return handlers.delivery_log(session, reference, reveal=viewer.is_admin)


@router.get("/api/v1/admin/notifications", response_model=list[handlers.NotificationView])
def failed_notifications(
    request: Request,
    response: Response,
    _admin: Annotated[Principal, Depends(require("admin"))],
    paging: Paging,
    state: handlers.Resendable | None = None,
) -> list[handlers.NotificationView]:
    """Notifications that need an administrator, oldest first: failed, or unconfirmed after a worker died while
    sending (`state` for one of the two); paginated."""
    with uow(request) as session:
        page = handlers.failed(session, page=paging, state=state)
    link_next(request, response, page)
    return page.items


@router.post(
    "/api/v1/admin/notifications/{notification_id}/resend", status_code=status.HTTP_202_ACCEPTED, response_model=Resent
)
def resend(request: Request, notification_id: int, _admin: Annotated[Principal, Depends(require("admin"))]) -> Resent:
    with uow(request) as session:
        handlers.resend(session, notification_id)
    return Resent(id=notification_id, state="pending")
