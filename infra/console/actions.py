"""What an administrator does to unblock one idea, each recorded on its timeline with their name and reason.

Reassign a review task to a named reviewer, add a reviewer, mark the idea a duplicate of another, or withdraw it.
Offering an unmatched idea to a named sponsor, matching it again and closing it are matching's
(services/matching/handlers.py, which records them the same way); an incubating idea is closed by recording its
outcome, "closed with lessons", so that what was learnt is kept. Each status change goes through the lifecycle.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.review import handlers as review
from shared import lifecycle
from shared.bus import outbox
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import AdminActionV1
from shared.db.models import Person, ReviewTask
from shared.errors import Conflict, InvalidField, NotFound
from shared.principal import Principal
from shared.text import Printable

Status = lifecycle.Status
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), Printable]
Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=320)]
Reference = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^IH-\d{4}-\d{6}$"),
]


class ReassignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_id: int
    reviewer_email: Email
    reason: Reason


class AddReviewerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reviewer_email: Email
    reason: Reason


class DuplicateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    of_reference: Reference
    reason: Reason


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


def _record(
    session: Session,
    idea: lifecycle.IdeaState,
    action: str,
    *,
    admin: Principal,
    reason: str,
    **detail: str | int | None,
) -> None:
    outbox.emit(
        session,
        AdminActionV1.about(idea, action=action, by_id=admin.id, by_name=admin.name, reason=reason, detail=detail),
    )


def _reviewer(session: Session, email: str) -> Person:
    person = session.scalar(select(Person).where(Person.email == email, Person.role == "reviewer"))
    if person is None or not person.active:
        raise InvalidField("reviewer_email", "choose an active reviewer")
    return person


def reassign_review(session: Session, reference: str, body: ReassignIn, *, admin: Principal, settings: Settings) -> int:
    """Give a waiting review task of this idea to a named reviewer; the new task's id."""
    idea = lifecycle.load_by_reference(session, reference)
    reviewer = _reviewer(session, body.reviewer_email)
    task = session.get(ReviewTask, body.task_id)
    if task is None or task.idea_id != idea.id:
        raise NotFound(f"{reference} has no review task {body.task_id}")
    was = session.scalar(select(Person.name).where(Person.id == task.reviewer_id))
    idea, new = review.reassign_task(session, body.task_id, reviewer.id, settings=settings, now=utcnow())
    _record(
        session,
        idea,
        "review_reassigned",
        admin=admin,
        reason=body.reason,
        task_id=body.task_id,
        reviewer_from=was,
        reviewer_to=reviewer.name,
    )
    return new.task_id


def add_reviewer(session: Session, reference: str, body: AddReviewerIn, *, admin: Principal, settings: Settings) -> int:
    """Give an idea in review to one more, named reviewer; the new task's id."""
    idea = lifecycle.load_by_reference(session, reference)
    reviewer = _reviewer(session, body.reviewer_email)
    idea, new = review.add_reviewer(session, idea.id, reviewer.id, settings=settings, now=utcnow())
    _record(
        session, idea, "reviewer_added", admin=admin, reason=body.reason, reviewer=reviewer.name, task_id=new.task_id
    )
    return new.task_id


def mark_duplicate(session: Session, reference: str, body: DuplicateIn, *, admin: Principal) -> None:
    """An idea in review is the same as another: it becomes `duplicate`, and its submitter is told which."""
    idea = lifecycle.load_by_reference(session, reference)
    if body.of_reference == reference:
        raise InvalidField("of_reference", "give the reference of another idea")
    try:
        lifecycle.load_by_reference(session, body.of_reference)
    except NotFound:
        raise InvalidField("of_reference", f"there is no idea {body.of_reference}") from None
    if idea.status is not Status.IN_REVIEW:
        raise Conflict(f"{reference} is {idea.status.value}: only an idea in review is marked a duplicate")
    lifecycle.transition(
        session, idea, Status.DUPLICATE, reason=f"The same as {body.of_reference}. {body.reason}", actor=admin.email
    )
    _record(session, idea, "marked_duplicate", admin=admin, reason=body.reason, of=body.of_reference)


def withdraw(session: Session, reference: str, body: ReasonIn, *, admin: Principal) -> None:
    """Withdraw an idea on its submitter's behalf (they asked by phone, say), with the reason they are told."""
    idea = lifecycle.load_by_reference(session, reference)
    lifecycle.transition(session, idea, Status.WITHDRAWN, reason=body.reason, actor=admin.email)
    _record(session, idea, "withdrawn", admin=admin, reason=body.reason)
