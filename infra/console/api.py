"""The console's JSON twins under /api/v1/admin/: failed messages, staff, and the actions that unblock an idea."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from infra.console import actions, failures, ideas, people
from shared import lifecycle
from shared.errors import InvalidField
from shared.principal import Principal
from shared.text import Printable
from shared.web.deps import require, settings_of, uow
from shared.web.paging import Paging, link_next
from shared.web.params import RowId

Reference = Annotated[str, Path(pattern=r"^IH-\d{4}-\d{6}$", description="An idea's reference, IH-YYYY-NNNNNN.")]

router = APIRouter(prefix="/api/v1/admin", tags=["administration"])
Admin = Annotated[Principal, Depends(require("admin"))]
# Any member of staff: what each sees of the ideas is decided in infra/console/ideas.py.
Staff = Annotated[Principal, Depends(require("reviewer", "sponsor", "admin"))]
search_router = APIRouter(tags=["ideas"])
Words = Annotated[str, StringConstraints(max_length=200), Printable]


class IdeaRowOut(BaseModel):
    reference: str
    title: str
    status: str
    department: str | None
    theme: str | None
    channel: str
    submitted_at: datetime
    updated_at: datetime
    overdue: bool


class IdeaQuery(BaseModel):
    """The search's filters, all optional; `status` may be given more than once."""

    status: list[lifecycle.Status] = []
    department: Annotated[str, StringConstraints(max_length=100), Printable] | None = None
    theme: Annotated[str, StringConstraints(max_length=100), Printable] | None = None
    channel: Literal["web", "email", "api", "import"] | None = None
    overdue: bool = False
    q: Words | None = None
    submitted_from: date | None = None
    submitted_to: date | None = None
    sort: ideas.Sort = ideas.Sort.NEWEST

    def to_filter(self) -> ideas.IdeaFilter:
        if self.submitted_from and self.submitted_to and self.submitted_from > self.submitted_to:
            raise InvalidField("submitted_to", "the end of the date range is before its start")
        return ideas.IdeaFilter(
            statuses=tuple(self.status),
            department=self.department or None,
            theme=self.theme or None,
            channel=self.channel,
            overdue=self.overdue,
            text=self.q or None,
            submitted_from=self.submitted_from,
            submitted_to=self.submitted_to,
            sort=self.sort,
        )


@search_router.get("/api/v1/ideas", response_model=list[IdeaRowOut])
def search_ideas(
    request: Request, response: Response, staff: Staff, paging: Paging, query: Annotated[IdeaQuery, Query()]
) -> list[IdeaRowOut]:
    """Ideas by status, department, theme, channel, overdue, words in them and date submitted, sorted and
    paginated. Administrators see every idea; a reviewer the ideas given to them; a sponsor those offered to them."""
    found = query.to_filter()
    with uow(request) as session:
        page = ideas.search(session, found, viewer=staff, page=paging)
    link_next(request, response, page)
    return [IdeaRowOut(**asdict(row)) for row in page.items]


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


# --- staff ----------------------------------------------------------------------------------------------------------


class PersonOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    department: str | None
    themes: str | None
    interests: str | None
    capacity: int
    active: bool
    load: int
    open_offers: int
    last_sign_in: datetime | None


class PersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320), Printable]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Printable]
    role: people.Role
    department: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), Printable] | None = None
    themes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), Printable] | None = None
    interests: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000), Printable] | None = None
    capacity: Annotated[int, Field(ge=0, le=1000)] = 3


def _person(view: people.PersonView) -> PersonOut:
    return PersonOut(**asdict(view))


@router.get("/people", response_model=list[PersonOut])
def list_people(
    request: Request,
    response: Response,
    admin: Admin,
    paging: Paging,
    role: people.Role | None = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Words in the name, email or department.")] = None,
) -> list[PersonOut]:
    """Staff by name, with what they can take on and how busy they are; paginated."""
    with uow(request) as session:
        page = people.people(session, page=paging, role=role, active=active, text=q)
    link_next(request, response, page)
    return [_person(view) for view in page.items]


@router.post("/people", response_model=PersonOut, status_code=status.HTTP_201_CREATED)
def add_person(request: Request, body: PersonIn, admin: Admin) -> PersonOut:
    """Register a reviewer, sponsor or administrator."""
    with uow(request) as session:
        person_id = people.add(session, admin=admin, **body.model_dump())
    with uow(request) as session:
        return _person(people.one(session, person_id))


@router.get("/people/{person_id}", response_model=PersonOut)
def one_person(request: Request, person_id: RowId, admin: Admin) -> PersonOut:
    with uow(request) as session:
        return _person(people.one(session, person_id))


@router.patch("/people/{person_id}", response_model=PersonOut)
def change_person(request: Request, person_id: RowId, body: people.PersonChange, admin: Admin) -> PersonOut:
    """Change what is sent; `"active": false` revokes their access and hands their work on, recorded with `reason`."""
    with uow(request) as session:
        return _person(people.change(session, person_id, body, admin=admin, settings=settings_of(request)))


# --- unblocking an idea ---------------------------------------------------------------------------------------------


@router.post("/ideas/{reference}/reassign", status_code=status.HTTP_201_CREATED)
def reassign_review(
    request: Request, reference: Reference, body: actions.ReassignIn, admin: Admin
) -> dict[str, object]:
    """Give a waiting review task to a named reviewer; the old task is cancelled, the new one has a fresh deadline."""
    with uow(request) as session:
        task_id = actions.reassign_review(session, reference, body, admin=admin, settings=settings_of(request))
    return {"idea_reference": reference, "task_id": task_id}


@router.post("/ideas/{reference}/reviewers", status_code=status.HTTP_201_CREATED)
def add_reviewer(
    request: Request, reference: Reference, body: actions.AddReviewerIn, admin: Admin
) -> dict[str, object]:
    """Give an idea in review to one more, named reviewer."""
    with uow(request) as session:
        task_id = actions.add_reviewer(session, reference, body, admin=admin, settings=settings_of(request))
    return {"idea_reference": reference, "task_id": task_id}


@router.post("/ideas/{reference}/duplicate")
def mark_duplicate(request: Request, reference: Reference, body: actions.DuplicateIn, admin: Admin) -> dict[str, str]:
    """An idea in review is the same as another: it becomes `duplicate`, and its submitter is told which."""
    with uow(request) as session:
        actions.mark_duplicate(session, reference, body, admin=admin)
    return {"idea_reference": reference, "status": "duplicate"}


@router.post("/ideas/{reference}/withdraw")
def withdraw(request: Request, reference: Reference, body: actions.ReasonIn, admin: Admin) -> dict[str, str]:
    """Withdraw an idea on its submitter's behalf, with the reason they are told."""
    with uow(request) as session:
        actions.withdraw(session, reference, body, admin=admin)
    return {"idea_reference": reference, "status": "withdrawn"}
