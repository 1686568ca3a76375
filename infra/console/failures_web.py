"""The failed-message console's pages: messages a consumer gave up on (`/admin/failures`, each in full with Retry
and Discard), and notifications that failed or are unconfirmed, with Resend (`/admin/failures/notifications`).

The same functions as the API and the command line do the work: `infra.console.failures` and notify's handlers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from infra.console import failures
from infra.console.api import DiscardIn
from infra.console.web import PAGES, Admin
from services.notify import handlers as notify
from shared.errors import Conflict
from shared.paging import MAX_NUMBER, PageRequest
from shared.text import Printable
from shared.web import pages
from shared.web.deps import settings_of, uow
from shared.web.paging import Paging, pagination
from shared.web.params import RowId

router = PAGES.router()
_page = PAGES.render

State = Literal["open", "resolved", "all"]
NotificationState = Literal["", "failed", "unconfirmed"]
Consumer = Annotated[str, Query(max_length=100), Printable]
# The longest error shown whole in a table; a longer one is cut there, and shown whole under "Full error".
SHORT_ERROR = 80

STATES = {"open": "To deal with", "resolved": "Retried or discarded", "all": "All"}
NOTIFICATION_STATES = {"": "Failed or unconfirmed", "failed": "Failed", "unconfirmed": "Unconfirmed"}
_NOTIFICATION_STATE: dict[str, NotificationState] = {"failed": "failed", "unconfirmed": "unconfirmed"}
# done -> (the banner's kind, what it says); "failed_again" and "not_handled" add the error shown on the page.
DONE = {
    "handled": ("success", "The message was handled: its consumer did its work this time."),
    "failed_again": (
        "important",
        "The message failed again. It is recorded as this new failed message; the message you retried is marked"
        " retried.",
    ),
    "not_handled": (
        "important",
        "The message could not be handled now, so it is open again: retry it later.",
    ),
    "discarded": ("success", "The message was discarded. It is kept here as a record, with your reason."),
    "resent": (
        "success",
        "The notification is back in line with its retries renewed: the notify worker sends it in a moment.",
    ),
}
REASON = "Enter why you are discarding this message"


def worded(exc: ValidationError, empty: str, *, longest: int) -> str:
    """The message for refused text: empty, too long, or holding control characters."""
    for error in exc.errors():
        if "control characters" in str(error.get("msg", "")):
            return "Remove the control characters (such as NUL) from the text: they cannot be stored"
        if error.get("type") == "string_too_long":
            return f"The reason must be {longest:,} characters or fewer"
    return empty


def shortened(text: str | None) -> str | None:
    """An error cut to a short first line for a table, or None when it is short enough to be shown whole."""
    whole = (text or "").strip()
    first = whole.splitlines()[0] if whole else ""
    if first == whole and len(whole) <= SHORT_ERROR:
        return None
    return first[: SHORT_ERROR - 1].rstrip() + "…"


@router.get("/admin/failures")
def failures_page(
    request: Request,
    _admin: Admin,
    paging: Paging,
    state: State = "open",
    consumer: Consumer = "",
    done: str | None = None,
) -> Response:
    consumer = consumer.strip()
    with uow(request) as session:
        found = failures.failures(session, state=state, consumer=consumer or None, page=paging)
    known = failures.consumers()
    context: dict[str, Any] = {
        "failures": found.items,
        "pages": pagination(request, found),
        "state": state,
        "states": STATES,
        "consumer": consumer,
        "consumers": known if not consumer or consumer in known else [*known, consumer],
        "shortened": shortened,
        "done": DONE.get(done or ""),
    }
    return _page(request, "failures/list.html", context)


def _notifications_page(
    request: Request,
    paging: PageRequest,
    state: NotificationState,
    *,
    done: str | None = None,
    conflict: str | None = None,
) -> Response:
    with uow(request) as session:
        found = notify.failed(session, page=paging, state=state or None)
    context: dict[str, Any] = {
        "notifications": found.items,
        "pages": pagination(request, found),
        "page_number": paging.number,
        "state": state,
        "states": NOTIFICATION_STATES,
        "shortened": shortened,
        "done": DONE.get(done or ""),
        "conflict": conflict,
    }
    return _page(request, "failures/notifications.html", context, status_code=409 if conflict else 200)


# Before /admin/failures/{failure_id}, which would otherwise take "notifications" for an id (and answer 404).
@router.get("/admin/failures/notifications")
def notifications_page(
    request: Request, _admin: Admin, paging: Paging, state: NotificationState = "", done: str | None = None
) -> Response:
    return _notifications_page(request, paging, state, done=done)


@router.post("/admin/failures/notifications/{notification_id}/resend")
def resend(request: Request, notification_id: RowId, _admin: Admin, form: pages.PostedForm) -> Response:
    # The list to come back to: the form says which (a hand-made value is ignored).
    state = _NOTIFICATION_STATE.get(form.get("state", ""), "")
    number = form.get("page", "1")
    paging = PageRequest(int(number) if number.isdigit() and 1 <= int(number) <= MAX_NUMBER else 1)
    try:
        with uow(request) as session:
            notify.resend(session, notification_id)
    except Conflict as exc:
        return _notifications_page(request, paging, state, conflict=str(exc))
    query = f"done=resent&page={paging.number}" + (f"&state={state}" if state else "")
    return RedirectResponse(f"/admin/failures/notifications?{query}", status_code=303)


def _failure_page(
    request: Request,
    failure_id: int,
    *,
    done: str | None = None,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    conflict: str | None = None,
) -> Response:
    with uow(request) as session:
        view = failures.one(session, failure_id)
    context: dict[str, Any] = {
        "failure": view,
        "done": DONE.get(done or ""),
        "done_key": done,
        "form": dict(form or {}),
        "errors": dict(errors or {}),
        "conflict": conflict,
    }
    return _page(request, "failures/failure.html", context, status_code=422 if errors else 409 if conflict else 200)


@router.get("/admin/failures/{failure_id}")
def failure_page(request: Request, failure_id: RowId, _admin: Admin, done: str | None = None) -> Response:
    return _failure_page(request, failure_id, done=done)


def _done(failure_id: int, what: str) -> Response:
    return RedirectResponse(f"/admin/failures/{failure_id}?done={what}", status_code=303)


@router.post("/admin/failures/{failure_id}/retry")
def retry(request: Request, failure_id: RowId, admin: Admin, _form: pages.PostedForm) -> Response:
    try:
        result = failures.retry(settings_of(request), request.app.state.session_factory, failure_id, admin=admin)
    except Conflict as exc:
        return _failure_page(request, failure_id, conflict=str(exc))
    if result.handled:
        return _done(failure_id, "handled")
    if result.failed_again is not None:
        return _done(result.failed_again, "failed_again")
    return _done(failure_id, "not_handled")


@router.post("/admin/failures/{failure_id}/discard")
def discard(request: Request, failure_id: RowId, admin: Admin, form: pages.PostedForm) -> Response:
    try:
        body = DiscardIn(reason=form.get("reason", ""))
    except ValidationError as exc:
        errors = {"reason": worded(exc, REASON, longest=2000)}
        return _failure_page(request, failure_id, form=form, errors=errors)
    try:
        with uow(request) as session:
            failures.discard(session, failure_id, admin=admin, reason=body.reason)
    except Conflict as exc:
        return _failure_page(request, failure_id, form=form, conflict=str(exc))
    return _done(failure_id, "discarded")
