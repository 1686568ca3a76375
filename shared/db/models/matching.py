"""Matching's table: sponsorship offers, each with the ranking that chose its sponsor, and their states."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.models.base import Base, BigId
from shared.db.states import StateMachine


class OfferState(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"  # no answer by the deadline: passed on as a decline is


OFFER = StateMachine(
    "sponsorship offer",
    {
        OfferState.OPEN: {OfferState.ACCEPTED, OfferState.DECLINED, OfferState.EXPIRED},
        OfferState.ACCEPTED: set(),
        OfferState.DECLINED: set(),
        OfferState.EXPIRED: set(),
    },
    initial={OfferState.OPEN},
)


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
    state: Mapped[str] = mapped_column(String(20), default=OfferState.OPEN.value)  # OfferState
    made_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answer_reason: Mapped[str | None] = mapped_column(Text)
    reminded_at: Mapped[datetime | None]
    # The whole ranking this offer came from: every sponsor considered, with score and reasons, and those
    # skipped (full, say), so that "why this sponsor" can be shown to administrators.
    ranking: Mapped[list[dict[str, object]] | None] = mapped_column(JSON)
    # Each rematch by an administrator starts a new round, with IDEAHUB_MAX_OFFERS offers of its own.
    round: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The administrator who offered it to a named sponsor; None when matching chose.
    offered_by: Mapped[str | None] = mapped_column(String(320))
