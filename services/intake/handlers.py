"""Intake's business logic. Every channel calls `submit_idea`; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from sqlalchemy import Executable, String, bindparam, cast, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from services.intake.schemas import (
    HistoryEntry,
    IncubationShown,
    LikelyDuplicate,
    MilestoneShown,
    OpenQuestion,
    OutcomeShown,
    ProgressShown,
    StaffIdeaView,
    StatusView,
    Submission,
)
from shared import lifecycle
from shared.bus import outbox
from shared.clock import utcnow
from shared.contracts.events import Channel, IdeaReceivedV1, Submitter
from shared.db.models import (
    QUESTION,
    Attachment,
    CaseStudy,
    CaseStudyState,
    CreditConsent,
    DuplicateCandidate,
    Idea,
    IdeaMessage,
    Incubation,
    Milestone,
    MilestoneState,
    Outcome,
    Person,
    ProgressUpdate,
    Question,
    QuestionState,
    StatusChange,
)
from shared.db.states import claimed_one
from shared.db.util import insert_ignore, insert_ignore_returning
from shared.errors import Conflict, InvalidField, NotFound
from shared.logging import get_logger
from shared.principal import Principal

log = get_logger("ideahub.intake")


class InvalidSubmission(InvalidField):
    """A submission (or an answer) that breaks a rule of intake's."""


@dataclass(frozen=True)
class Created:
    id: int
    reference: str
    status: str
    status_token: str
    # False when the source (Idempotency-Key, Message-ID, CSV row) had already made this idea.
    new: bool = True


@dataclass(frozen=True)
class NewAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Source:
    """Where a submission came from, so that the same one never makes two ideas.

    `key` names the source (`api:...`, `email:...`, `import:...`); `fingerprint` is a digest of
    what it said: the same key with another fingerprint is a key reused for a different idea.
    """

    key: str
    fingerprint: str
    attachments: Sequence[NewAttachment] = ()
    attachments_refused: Sequence[str] = ()
    in_reply_to: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def digest(*parts: str | bytes) -> str:
    """A SHA-256 hex digest of the parts, each length-prefixed so that no two splits collide."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def fingerprint_of(submission: Submission) -> str:
    return digest(submission.model_dump_json())


def reference_for(idea_id: int, year: int) -> str:
    return f"IH-{year}-{idea_id:06d}"


_ideas = Idea.__table__
# Core, not an ORM-enabled update: this runs once per idea on the intake's hot path.
_SET_REFERENCE = _ideas.update().where(_ideas.c.id == bindparam("idea_id")).values(reference=bindparam("new_reference"))


@cache
def _insert_with_reference(columns: tuple[str, ...]) -> Executable:
    """PostgreSQL: take the idea's id from its sequence first, so that its reference is written with it.

    One statement where an insert and then an update of the reference were two, and the row is written
    once rather than twice (with every index of `ideas`). The reference is `reference_for`'s format:
    the year's prefix, then the id with at least six digits.
    """
    n = select(func.nextval(func.pg_get_serial_sequence("ideas", "id")).label("id")).cte("n")
    digits = cast(n.c.id, String)
    reference = func.concat(
        bindparam("prefix", type_=String), func.lpad(digits, func.greatest(6, func.length(digits)), "0")
    )
    given = [bindparam(name, type_=_ideas.c[name].type) for name in columns]
    return (
        postgresql.insert(_ideas)
        .from_select(["id", "reference", *columns], select(n.c.id, reference, *given))
        .on_conflict_do_nothing()
        .returning(_ideas.c.id, _ideas.c.reference)
    )


def _insert(session: Session, values: dict[str, Any], year: int) -> tuple[int, str] | None:
    """Store a new idea with its reference: (id, reference), or None when its source made one already."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        statement = _insert_with_reference(tuple(values))
        row = connection.execute(statement, {**values, "prefix": f"IH-{year}-"}).one_or_none()
        return (row.id, row.reference) if row is not None else None
    idea_id = insert_ignore_returning(session, _ideas, values, _ideas.c.id)
    if idea_id is None:
        return None
    reference = reference_for(idea_id, year)
    connection.execute(_SET_REFERENCE, {"idea_id": idea_id, "new_reference": reference})
    return idea_id, reference


_BY_SOURCE = select(Idea.id, Idea.reference, Idea.status_token, Idea.source_fingerprint)


def _existing(session: Session, source: Source) -> Created:
    row = session.execute(_BY_SOURCE.where(Idea.source_key == source.key)).one()
    if row.source_fingerprint != source.fingerprint:
        raise Conflict("this key was already used for a different idea; send a new key for a new idea")
    # The first answer again: every idea starts `received`, whatever it is now.
    return Created(row.id, row.reference, lifecycle.INITIAL.value, row.status_token, new=False)


def submit_idea(
    session: Session,
    submission: Submission,
    *,
    channel: Channel,
    departments: list[str],
    source: Source | None = None,
) -> Created:
    """Store a new idea and record IdeaReceivedV1; the caller commits both.

    With a `source`, a second submission from it returns the first idea (`new=False`) and
    changes nothing; on PostgreSQL a concurrent one waits for the first and then does the same.
    """
    if submission.department is not None and submission.department not in departments:
        raise InvalidSubmission("department", f"choose one of: {', '.join(departments)}")
    now = utcnow()
    token = secrets.token_urlsafe(24)
    correlation_id = uuid.uuid4()
    stored = _insert(
        session,
        dict(
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
            source_key=source.key if source else None,
            source_fingerprint=source.fingerprint if source else None,
        ),
        now.year,
    )
    if stored is None:
        assert source is not None  # only source_key can conflict: the token is random
        return _existing(session, source)
    idea_id, reference = stored
    event = IdeaReceivedV1(
        idea_id=idea_id,
        idea_reference=reference,
        correlation_id=correlation_id,
        occurred_at=now,
        title=submission.title,
        department=submission.department,
        theme=submission.theme,
        channel=channel,
        submitter=Submitter(name=submission.name, email=submission.email.lower(), anonymous=submission.anonymous),
        in_reply_to=source.in_reply_to if source else None,
        attachments_refused=list(source.attachments_refused) if source else [],
    )
    if source and source.attachments:
        session.execute(
            Attachment.__table__.insert(),
            [
                {
                    "idea_id": idea_id,
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": len(a.content),
                    "sha256": hashlib.sha256(a.content).hexdigest(),
                    "content": a.content,
                    "created_at": now,
                }
                for a in source.attachments
            ],
        )
    lifecycle.record_history(session, idea_id, None, lifecycle.INITIAL, event_id=event.event_id)
    outbox.emit(session, event)
    return Created(idea_id, reference, lifecycle.INITIAL.value, token)


def _idea_by_token(session: Session, token: str) -> Idea:
    idea = session.scalars(select(Idea).where(Idea.status_token == token)).one_or_none()
    if idea is None:
        raise NotFound("no idea has that status link")
    return idea


def _open_question(session: Session, idea_id: int) -> Question | None:
    return session.scalars(
        select(Question)
        .where(Question.idea_id == idea_id, Question.state == QuestionState.OPEN)
        .order_by(Question.id.desc())
    ).first()


def status_view(session: Session, token: str) -> StatusView:
    idea = _idea_by_token(session, token)
    changes = session.scalars(
        select(StatusChange).where(StatusChange.idea_id == idea.id).order_by(StatusChange.id)
    ).all()
    messages = session.scalars(select(IdeaMessage).where(IdeaMessage.idea_id == idea.id).order_by(IdeaMessage.id)).all()
    history = [
        HistoryEntry(
            kind="status",
            status=h.to_status,
            description=lifecycle.DESCRIPTIONS[lifecycle.Status(h.to_status)],
            at=h.at.isoformat(),
            reason=h.reason,
        )
        for h in changes
    ] + [
        HistoryEntry(
            kind="answer" if m.kind == "answer" else "note",
            description="You answered the question" if m.kind == "answer" else "You sent a message",
            at=m.at.isoformat(),
            text=m.body,
        )
        for m in messages
    ]
    history.sort(key=lambda entry: entry.at)
    status = lifecycle.Status(idea.status)
    question = _open_question(session, idea.id)
    return StatusView(
        reference=idea.reference,
        title=idea.title,
        status=status.value,
        description=lifecycle.DESCRIPTIONS[status],
        final=status in lifecycle.FINAL,
        question=(
            OpenQuestion(
                text=question.text,
                asked_at=question.asked_at.isoformat(),
                due_at=question.due_at.isoformat() if question.due_at else None,
            )
            if question
            else None
        ),
        history=history,
        incubation=_incubation_shown(session, idea.id),
        credit_question=_credit_question(session, idea),
        case_study_url=_case_study_url(session, idea.id),
    )


def _incubation_shown(session: Session, idea_id: int) -> IncubationShown | None:
    """The sponsor, the milestones, the latest progress that is not private, and the outcome."""
    sponsor = session.scalar(
        select(Person.name).join(Incubation, Incubation.sponsor_id == Person.id).where(Incubation.idea_id == idea_id)
    )
    if sponsor is None:
        return None
    milestones = session.execute(
        select(Milestone.title, Milestone.due_on, Milestone.state)
        .where(Milestone.idea_id == idea_id, Milestone.state != MilestoneState.DROPPED)
        .order_by(Milestone.due_at, Milestone.id)
    ).all()
    progress = session.execute(
        select(ProgressUpdate.state, ProgressUpdate.note, ProgressUpdate.at)
        .where(ProgressUpdate.idea_id == idea_id, ProgressUpdate.private.is_(False))
        .order_by(ProgressUpdate.id.desc())
        .limit(1)
    ).one_or_none()
    outcome = session.get(Outcome, idea_id)
    return IncubationShown(
        sponsor_name=sponsor,
        milestones=[MilestoneShown(title=m.title, due_on=m.due_on, state=m.state) for m in milestones],
        latest_progress=(
            ProgressShown(state=progress.state, note=progress.note, at=progress.at.isoformat()) if progress else None
        ),
        outcome=(
            OutcomeShown(
                result="implemented" if outcome.result == "implemented" else "closed",
                summary=outcome.summary,
                benefits=outcome.benefits_text,
                money_saved_a_year=outcome.money_saved_a_year,
                hours_saved_a_year=outcome.hours_saved_a_year,
                people_affected=outcome.people_affected,
                lessons=outcome.lessons,
            )
            if outcome
            else None
        ),
    )


def _credit_question(session: Session, idea: Idea) -> Literal["unanswered", "yes", "no"] | None:
    """Whether to ask the submitter if a case study may name them, and their answer so far."""
    if idea.anonymous or idea.status not in (lifecycle.Status.IMPLEMENTED, lifecycle.Status.CLOSED):
        return None
    agreed = session.scalar(select(CreditConsent.credit_by_name).where(CreditConsent.idea_id == idea.id))
    return "unanswered" if agreed is None else "yes" if agreed else "no"


def _case_study_url(session: Session, idea_id: int) -> str | None:
    slug = session.scalar(
        select(CaseStudy.slug).where(CaseStudy.idea_id == idea_id, CaseStudy.state == CaseStudyState.PUBLISHED)
    )
    return f"/case-studies/{slug}" if slug else None


def answer_credit(session: Session, token: str, *, credit_by_name: bool) -> None:
    """The submitter says whether a case study of their idea may name them (they may change their mind).

    Refused for an anonymous idea, which is never named, and before the idea has its outcome.
    """
    idea = _idea_by_token(session, token)
    if idea.anonymous:
        raise Conflict("you asked to stay anonymous: a case study never names you")
    if idea.status not in (lifecycle.Status.IMPLEMENTED, lifecycle.Status.CLOSED):
        raise Conflict("you are asked this once work on your idea has ended")
    row = {"idea_id": idea.id, "credit_by_name": credit_by_name, "answered_at": utcnow()}
    if not insert_ignore(session, CreditConsent.__table__, row):
        consents = CreditConsent.__table__
        session.execute(
            consents.update()
            .where(consents.c.idea_id == idea.id)
            .values(credit_by_name=credit_by_name, answered_at=row["answered_at"])
        )
    log.info("intake.credit_answered", idea_reference=idea.reference, credit_by_name=credit_by_name)


def reply(
    session: Session, idea_id: int, text: str, *, channel: str, answer_only: bool = False
) -> Literal["answer", "note"]:
    """The submitter's words about their idea after sending it; returns `answer` or `note`.

    With a question open (the idea is `needs_info`) they answer it and the idea goes back to
    `in_review`; otherwise they are kept in the idea's history as a note (refused with
    `answer_only`, for the answer endpoint). The caller commits.
    """
    text = text.strip()
    if not text:
        raise InvalidSubmission("answer", "write your answer")
    if len(text) > 10_000:
        raise InvalidSubmission("answer", "keep your answer under 10,000 characters")
    now = utcnow()
    question = _open_question(session, idea_id)
    state = lifecycle.load(session, idea_id)
    if question is not None and state.status is lifecycle.Status.NEEDS_INFO:
        questions = Question.__table__
        answered = QUESTION.update(
            questions,
            QuestionState.OPEN,
            QuestionState.ANSWERED,
            questions.c.id == question.id,
            answered_at=now,
            answer=text,
        )
        if not claimed_one(session, answered):
            raise Conflict("that question has just been answered")
        session.execute(
            IdeaMessage.__table__.insert().values(
                idea_id=idea_id, question_id=question.id, kind="answer", channel=channel, body=text, at=now
            )
        )
        lifecycle.transition(
            session, state, lifecycle.Status.IN_REVIEW, reason="The submitter answered the question", actor="submitter"
        )
        return "answer"
    if answer_only:
        raise Conflict("there is no open question to answer")
    session.execute(
        IdeaMessage.__table__.insert().values(idea_id=idea_id, kind="note", channel=channel, body=text, at=now)
    )
    return "note"


def answer(session: Session, token: str, text: str, *, channel: str) -> str:
    """The submitter answers the open question from the status page or the API."""
    return reply(session, _idea_by_token(session, token).id, text, channel=channel, answer_only=True)


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
    duplicates: list[LikelyDuplicate] = []
    if viewer.role in ("reviewer", "admin"):  # found at screening, for those who judge them
        duplicates = [
            LikelyDuplicate(reference=row.reference, title=row.title, score=row.score, status=row.status)
            for row in session.execute(
                select(Idea.reference, Idea.title, Idea.status, DuplicateCandidate.score)
                .join(DuplicateCandidate, DuplicateCandidate.other_idea_id == Idea.id)
                .where(DuplicateCandidate.idea_id == idea.id)
                .order_by(DuplicateCandidate.score.desc(), Idea.id.desc())
            )
        ]
    return StaffIdeaView(
        reference=idea.reference,
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
        duplicates=duplicates,
    )
