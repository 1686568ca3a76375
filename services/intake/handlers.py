"""Intake's business logic. Every channel calls `submit_idea`; the caller commits."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.intake.schemas import HistoryEntry, StaffIdeaView, StatusView, Submission
from shared import lifecycle
from shared.bus import outbox
from shared.contracts.events import IdeaReceivedV1, Submitter, utcnow
from shared.db.models import Idea, StatusChange
from shared.errors import NotFound, PermanentError
from shared.web.deps import Principal


class InvalidSubmission(PermanentError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Created:
    id: int
    reference: str
    status: str
    status_token: str


def reference_for(idea_id: int, year: int) -> str:
    return f"IH-{year}-{idea_id:06d}"


def submit_idea(session: Session, submission: Submission, *, channel: str, departments: list[str]) -> Created:
    """Store a new idea and record IdeaReceivedV1; the caller commits both."""
    if submission.department is not None and submission.department not in departments:
        raise InvalidSubmission("department", f"choose one of: {', '.join(departments)}")
    now = utcnow()
    token = secrets.token_urlsafe(24)
    correlation_id = uuid.uuid4()
    idea_id = session.execute(
        Idea.__table__.insert()
        .values(
            status=lifecycle.INITIAL.value,
            title=submission.title,
            problem=submission.problem,
            proposal=submission.idea,
            benefit=submission.benefit,
            department=submission.department,
            theme=submission.theme,
            submitter_name=submission.name,
            submitter_email=submission.email.lower(),
            anonymous=submission.anonymous,
            status_token=token,
            channel=channel,
            correlation_id=correlation_id,
            created_at=now,
            updated_at=now,
            version=1,
        )
        .returning(Idea.id)
    ).scalar_one()
    reference = reference_for(idea_id, now.year)
    session.execute(update(Idea).where(Idea.id == idea_id).values(reference=reference))
    event = IdeaReceivedV1(
        idea_id=idea_id,
        idea_reference=reference,
        correlation_id=correlation_id,
        occurred_at=now,
        title=submission.title,
        department=submission.department,
        theme=submission.theme,
        channel=channel,  # type: ignore[arg-type]
        submitter=Submitter(name=submission.name, email=submission.email.lower(), anonymous=submission.anonymous),
    )
    lifecycle.record_history(session, idea_id, None, lifecycle.INITIAL, event_id=event.event_id)
    outbox.emit(session, event)
    return Created(idea_id, reference, lifecycle.INITIAL.value, token)


def _idea_by_token(session: Session, token: str) -> Idea:
    idea = session.scalars(select(Idea).where(Idea.status_token == token)).one_or_none()
    if idea is None:
        raise NotFound("no idea has that status link")
    return idea


def status_view(session: Session, token: str) -> StatusView:
    idea = _idea_by_token(session, token)
    history = session.scalars(
        select(StatusChange).where(StatusChange.idea_id == idea.id).order_by(StatusChange.id)
    ).all()
    status = lifecycle.Status(idea.status)
    return StatusView(
        reference=idea.reference or "",
        title=idea.title,
        status=status.value,
        description=lifecycle.DESCRIPTIONS[status],
        history=[
            HistoryEntry(
                status=h.to_status,
                description=lifecycle.DESCRIPTIONS[lifecycle.Status(h.to_status)],
                at=h.at.isoformat(),
                reason=h.reason,
            )
            for h in history
        ],
    )


def withdraw(session: Session, token: str, *, reason: str | None) -> str:
    """The submitter withdraws their idea; refused once it is final."""
    idea = _idea_by_token(session, token)
    state = lifecycle.load(session, idea.id)
    lifecycle.transition(
        session, state, lifecycle.Status.WITHDRAWN, reason=reason or "Withdrawn by the submitter", actor="submitter"
    )
    return state.reference


def staff_view(session: Session, reference: str, *, viewer: Principal) -> StaffIdeaView:
    idea = session.scalars(select(Idea).where(Idea.reference == reference)).one_or_none()
    if idea is None:
        raise NotFound(f"no idea with reference {reference}")
    hide = idea.anonymous and not viewer.is_admin
    return StaffIdeaView(
        reference=idea.reference or "",
        status=idea.status,
        title=idea.title,
        problem=idea.problem,
        idea=idea.proposal,
        benefit=idea.benefit,
        department=idea.department,
        theme=idea.theme,
        submitter_name=None if hide else idea.submitter_name,
        submitter_email=None if hide else idea.submitter_email,
        anonymous=idea.anonymous,
        created_at=idea.created_at.isoformat(),
    )
