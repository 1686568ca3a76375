"""Tables. The database is the source of truth; the bus only carries what was committed here."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from shared.clock import utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no zone, so one is put back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: use shared.contracts.events.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime()}


class Person(Base):
    """A member of staff who signs in: reviewer, sponsor or administrator."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # reviewer | sponsor | admin
    department: Mapped[str | None] = mapped_column(String(100))
    themes: Mapped[str | None] = mapped_column(String(500))
    interests: Mapped[str | None] = mapped_column(Text)
    capacity: Mapped[int] = mapped_column(Integer, default=3)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class SignInLink(Base):
    """An emailed sign-in link: the email carries a signed link naming this row; it works once, until it expires."""

    __tablename__ = "sign_in_links"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    next_path: Mapped[str | None] = mapped_column(String(500))  # where to go once signed in


class StaffSession(Base):
    """A signed-in browser: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Idea(Base):
    __tablename__ = "ideas"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    title: Mapped[str] = mapped_column(String(200))
    problem: Mapped[str] = mapped_column(Text)
    proposal: Mapped[str] = mapped_column(Text)
    benefit: Mapped[str | None] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(String(100))
    theme: Mapped[str | None] = mapped_column(String(100))
    submitter_name: Mapped[str | None] = mapped_column(String(200))
    submitter_email: Mapped[str | None] = mapped_column(String(320))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # The secret in the submitter's status link. Kept in clear so every email can carry the link.
    status_token: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    correlation_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped by every status change; the change is conditional on the status it read.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # What made this idea, so that the same request, email or CSV row never makes a second one:
    # `api:<Idempotency-Key digest>`, `email:<Message-ID digest>`, `import:<row digest>`; None for the web form.
    source_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    # A digest of the submission, to tell a true retry from a reused key with other content.
    source_fingerprint: Mapped[str | None] = mapped_column(String(64))


class StatusChange(Base):
    """The history of an idea's statuses; written only by `shared.lifecycle.transition`."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200))
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewTask(Base):
    __tablename__ = "review_tasks"
    __table_args__ = (
        UniqueConstraint("idea_id", "reviewer_id"),
        # Screening counts each reviewer's open tasks; this lets it read the index alone.
        Index("ix_review_tasks_state_reviewer", "state", "reviewer_id"),
        # The deadline sweep's query.
        Index("ix_review_tasks_state_due_at", "state", "due_at"),
        # Screening's round robin: a reviewer's latest task.
        Index("ix_review_tasks_reviewer_id_id", "reviewer_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    # open | asked (its question awaits an answer) | done | declined | replaced | expired | cancelled
    state: Mapped[str] = mapped_column(String(20), default="open")
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    # Set once each: a reminder or an escalation is sent once, whether its delayed message or the sweep acts.
    reminded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    decline_reason: Mapped[str | None] = mapped_column(Text)


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("review_tasks.id"), unique=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    impact: Mapped[int] = mapped_column(Integer)
    feasibility: Mapped[int] = mapped_column(Integer)
    cost: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[int] = mapped_column(Integer)
    recommendation: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Seen by staff only: never sent to the submitter, never in the decision's reasons.
    private_note: Mapped[str | None] = mapped_column(Text)


class Offer(Base):
    """A sponsorship offer, with the ranking that chose the sponsor."""

    __tablename__ = "offers"
    __table_args__ = (UniqueConstraint("idea_id", "sponsor_id"), Index("ix_offers_state_due_at", "state", "due_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | accepted | declined | expired
    made_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answer_reason: Mapped[str | None] = mapped_column(Text)
    reminded_at: Mapped[datetime | None]


class Incubation(Base):
    __tablename__ = "incubations"

    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), primary_key=True)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    budget: Mapped[float | None] = mapped_column(Float)
    staff_days: Mapped[float | None] = mapped_column(Float)


class Milestone(Base):
    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date] = mapped_column(Date)
    done_at: Mapped[datetime | None]


class ProgressUpdate(Base):
    __tablename__ = "progress_updates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))  # on_track | at_risk | blocked
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Outcome(Base):
    __tablename__ = "outcomes"

    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), primary_key=True)
    result: Mapped[str] = mapped_column(String(20))  # implemented | closed
    summary: Mapped[str] = mapped_column(Text)
    benefits: Mapped[dict[str, float] | None] = mapped_column(JSON)
    publish: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Attachment(Base):
    """A file that came with an idea (email intake), kept within the configured limits."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Question(Base):
    """A reviewer's question to the submitter (the idea is `needs_info` while one is open)."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_state_due_at", "state", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("review_tasks.id"))
    text: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | answered | expired
    answered_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(Text)
    asked_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reminded_at: Mapped[datetime | None]


class IdeaMessage(Base):
    """Something the submitter sent about an idea after submitting it: an answer, or a note for its history."""

    __tablename__ = "idea_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id"))
    kind: Mapped[str] = mapped_column(String(20))  # answer | note
    channel: Mapped[str] = mapped_column(String(20))  # web | email | api
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundMail(Base):
    """Every email intake took in, by Message-ID: a message delivered twice (an SMTP retry, an IMAP
    poll after a crash) has one effect."""

    __tablename__ = "inbound_mail"

    message_key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the Message-ID
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    sender: Mapped[str] = mapped_column(String(320))
    outcome: Mapped[str] = mapped_column(String(20))  # idea | answer | note | refused | ignored
    idea_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str | None] = mapped_column(Text)


class DuplicateCandidate(Base):
    """An existing idea that a new one may duplicate, with its similarity score; never merged by itself."""

    __tablename__ = "duplicate_candidates"

    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), primary_key=True)
    other_idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    found_at: Mapped[datetime] = mapped_column(default=utcnow)


class SimilarityBand(Base):
    """The locality-sensitive index of ideas' text: only ideas sharing a band are compared."""

    __tablename__ = "similarity_bands"

    band: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # No foreign key: 64 rows an idea, each written in the transaction that has just read the idea, and
    # the key's check doubled the cost of the insert (migration 0007).
    idea_id: Mapped[int] = mapped_column(BigId, primary_key=True)


class OutboxMessage(Base):
    """An event committed with the change that caused it, waiting for (or done with) the relay."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    event_type: Mapped[str] = mapped_column(String(100))
    idea_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]


class ProcessedMessage(Base):
    """What each consumer has handled, written in the same transaction as the effect."""

    __tablename__ = "processed_messages"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsumerCursor(Base):
    """How far a topic subscriber has checked the outbox for events it never received (see shared.bus.catchup)."""

    __tablename__ = "consumer_cursors"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """One message to one recipient through one channel, for one event: sent once, ever.

    The row is written before delivery with the rendered message in `body`, so that a retry or a
    resend delivers the same bytes (the same Message-ID). States:
    pending -> sending -> sent; a temporary failure goes back to pending with `next_attempt_at`;
    failed (permanent, or after the last attempt); unconfirmed (an email whose worker died while
    sending: the server may have it, so it is not sent again unless an administrator resends it);
    skipped (optional mail the submitter turned off).
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "recipient", "channel"),
        Index("ix_notifications_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    idea_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    channel: Mapped[str] = mapped_column(String(20))  # email | webhook
    template: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # Who the recipient is to the idea: submitter, reviewer, sponsor, admin or webhook (for anonymity in logs).
    audience: Mapped[str] = mapped_column(String(20), default="submitter", server_default="submitter")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    body: Mapped[str | None] = mapped_column(Text)


class NotificationPreference(Base):
    """A submitter's choice about optional mail for one idea (no row: they get it)."""

    __tablename__ = "notification_preferences"

    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), primary_key=True)
    optional_mail: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FailedMessage(Base):
    """A message a consumer gave up on, for administrators to see and retry."""

    __tablename__ = "failed_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    consumer: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    idea_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
