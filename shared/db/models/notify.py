"""Notify's tables: one notification per event, recipient and channel, ever, with its states; preferences."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.models.base import Base, BigId
from shared.db.states import StateMachine


class NotificationState(StrEnum):
    PENDING = "pending"  # to be sent (now, or at next_attempt_at)
    SENDING = "sending"  # claimed by a worker, under a lease
    SENT = "sent"
    FAILED = "failed"  # refused for good, or out of attempts: shown to administrators
    UNCONFIRMED = "unconfirmed"  # an email whose worker died mid-send: the server may have it
    SKIPPED = "skipped"  # optional mail the submitter turned off


NOTIFICATION = StateMachine(
    "notification",
    {
        NotificationState.PENDING: {NotificationState.SENDING, NotificationState.FAILED},
        NotificationState.SENDING: {
            NotificationState.SENT,
            NotificationState.PENDING,
            NotificationState.FAILED,
            NotificationState.UNCONFIRMED,
        },
        NotificationState.SENT: set(),
        # An administrator's resend puts it back in line.
        NotificationState.FAILED: {NotificationState.PENDING},
        NotificationState.UNCONFIRMED: {NotificationState.PENDING},
        NotificationState.SKIPPED: set(),
    },
    # An .eml file is written before its row: the row starts as sent (or pending after a failed write).
    initial={NotificationState.PENDING, NotificationState.SENT, NotificationState.SKIPPED},
)
# What an administrator may resend.
RESENDABLE = (NotificationState.FAILED, NotificationState.UNCONFIRMED)


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
    state: Mapped[str] = mapped_column(String(20), default=NotificationState.PENDING.value)  # NotificationState
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
