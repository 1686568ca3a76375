"""Incubation's tables: the sponsor's record, plan, progress and outcome of an idea."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.models.base import Base, BigId


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
