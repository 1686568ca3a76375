"""Ideas and what their submitters send: owned by intake (creation, answers, notes, mail, attachments).

An idea's `status` column and its history (`status_changes`) are written only by `shared.lifecycle`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    func,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.models.base import Base, BigId


class Idea(Base):
    __tablename__ = "ideas"
    # The staff search's filters and orders (infra/console/ideas.py); the full-text index is PostgreSQL's only.
    __table_args__ = (
        Index("ix_ideas_created_at", "created_at"),
        Index("ix_ideas_department_created_at", "department", "created_at"),
        Index("ix_ideas_status_created_at", "status", "created_at"),
        # PostgreSQL's only: `search_document()` below, word for word (SQLite's search compares words instead).
        Index(
            "ix_ideas_search",
            # (bracketed as PostgreSQL writes it back, so that the schema comparison finds it the same)
            text(
                "to_tsvector('english'::regconfig, "
                "(((coalesce(title, '') || ' ') || coalesce(problem, '')) || ' ') || coalesce(proposal, ''))"
            ),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Every committed idea has one; the column allows none because on SQLite the reference, made of the id,
    # is set by a second statement of the transaction that inserts the idea.
    reference: Mapped[str] = mapped_column(String(32), unique=True, nullable=True)
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


def search_document() -> ColumnElement[str]:
    """The words staff search an idea by, as PostgreSQL's full-text search sees them: its title, problem and idea.

    The GIN index `ix_ideas_search` (migration 0013) is built on exactly this expression, so a query written with it
    is served by the index.
    """
    blank: ColumnElement[str] = literal_column("''")
    space: ColumnElement[str] = literal_column("' '")
    return func.to_tsvector(
        literal_column("'english'::regconfig"),
        func.coalesce(Idea.title, blank)
        .concat(space)
        .concat(func.coalesce(Idea.problem, blank))
        .concat(space)
        # (literals, not parameters: a query's expression must be the index's, word for word)
        .concat(func.coalesce(Idea.proposal, blank)),
    )
