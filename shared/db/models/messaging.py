"""The tables behind exactly-once messaging: the outbox, what each consumer handled, and what failed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.models.base import Base, BigId


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


class FailedMessage(Base):
    """A message a consumer gave up on, for administrators to see, and retry or discard.

    One row a (consumer, event) while it is open: a second failure of the same event adds to `attempts`.
    Retried or discarded, it is resolved (`resolution`, by whom, why) and kept as a record.
    """

    __tablename__ = "failed_messages"
    __table_args__ = (Index("ix_failed_messages_resolved_at_id", "resolved_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    consumer: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    idea_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_failed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(20))  # retried | discarded
    resolved_by: Mapped[str | None] = mapped_column(String(320))
    resolution_reason: Mapped[str | None] = mapped_column(Text)


class WorkerHeartbeat(Base):
    """A worker or relay process's sign of life, every few seconds: administrators see one silent too long as down.

    One row a process (`id` is host, pid and start time); what it has handled since it started, by consumer.
    """

    __tablename__ = "worker_heartbeats"
    __table_args__ = (Index("ix_worker_heartbeats_last_seen_at", "last_seen_at"),)

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))  # worker | relay
    stages: Mapped[str] = mapped_column(String(200))  # comma separated: review,matching,...
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    handled: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(BigInteger, default=0)
    # By consumer: {"review.screen_idea": {"handled": 10, "failures": 0, "seconds": 0.4}, ...}
    consumers: Mapped[dict[str, dict[str, float]]] = mapped_column(JSON, default=dict)
