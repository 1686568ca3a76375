"""Incubation's tables: the sponsor's record, plan (milestones), progress and outcome of an idea, and the case
study written from it, with the states of milestones and case studies.

Incubation owns them; intake writes `credit_consents` (the submitter's answer on their status page).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.models.base import Base, BigId
from shared.db.states import StateMachine


class Incubation(Base):
    __tablename__ = "incubations"
    __table_args__ = (Index("ix_incubations_sponsor_id_started_at", "sponsor_id", "started_at"),)

    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), primary_key=True)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    budget: Mapped[float | None] = mapped_column(Float)
    staff_days: Mapped[float | None] = mapped_column(Float)
    # The benefits the plan expects, a year, in words and numbers; the outcome records the actual ones.
    projected_benefits: Mapped[str | None] = mapped_column(Text)
    projected_money_a_year: Mapped[float | None] = mapped_column(Float)
    projected_hours_a_year: Mapped[float | None] = mapped_column(Float)
    projected_people: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime | None]


class MilestoneState(StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"  # not reached by its due time plus the grace (IDEAHUB_MILESTONE_GRACE): told once
    REACHED = "reached"
    DROPPED = "dropped"  # taken out of the plan by the sponsor


MILESTONE = StateMachine(
    "milestone",
    {
        MilestoneState.OPEN: {MilestoneState.REACHED, MilestoneState.OVERDUE, MilestoneState.DROPPED},
        # Reached late, given a new date (back to open), or taken out of the plan.
        MilestoneState.OVERDUE: {MilestoneState.REACHED, MilestoneState.OPEN, MilestoneState.DROPPED},
        MilestoneState.REACHED: set(),
        MilestoneState.DROPPED: set(),
    },
    initial={MilestoneState.OPEN},
)


class Milestone(Base):
    __tablename__ = "milestones"
    # The deadline sweep's query.
    __table_args__ = (Index("ix_milestones_state_due_at", "state", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    # The date the sponsor gave, and the moment it ends (midnight after it, UK time), which the deadline counts from.
    due_on: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20), default=MilestoneState.OPEN.value)  # MilestoneState
    done_at: Mapped[datetime | None]
    # Set once each: the sponsor is reminded before the due time, and told (with administrators) when overdue.
    reminded_at: Mapped[datetime | None]
    overdue_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProgressUpdate(Base):
    __tablename__ = "progress_updates"
    __table_args__ = (Index("ix_progress_updates_idea_id_id", "idea_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))  # on_track | at_risk | blocked
    note: Mapped[str] = mapped_column(Text)
    # Words for staff only: never shown to the submitter or published.
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Outcome(Base):
    __tablename__ = "outcomes"

    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), primary_key=True)
    result: Mapped[str] = mapped_column(String(20))  # implemented | closed
    summary: Mapped[str] = mapped_column(Text)
    # The benefits realised, a year, in words and numbers (implemented), or the lessons learned (closed).
    benefits_text: Mapped[str | None] = mapped_column(Text)
    money_saved_a_year: Mapped[float | None] = mapped_column(Float)
    hours_saved_a_year: Mapped[float | None] = mapped_column(Float)
    people_affected: Mapped[int | None] = mapped_column(Integer)
    lessons: Mapped[str | None] = mapped_column(Text)
    # Before 0010: free-form numbers, and a wish to publish; kept for the outcomes recorded then.
    benefits: Mapped[dict[str, float] | None] = mapped_column(JSON)
    publish: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by: Mapped[str | None] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseStudyState(StrEnum):
    DRAFT = "draft"  # being written by the sponsor or an administrator
    PUBLISHED = "published"  # on /case-studies, in the feed and the API
    WITHDRAWN = "withdrawn"  # unpublished by an administrator; may be published again


CASE_STUDY = StateMachine(
    "case study",
    {
        CaseStudyState.DRAFT: {CaseStudyState.PUBLISHED},
        CaseStudyState.PUBLISHED: {CaseStudyState.WITHDRAWN},
        CaseStudyState.WITHDRAWN: {CaseStudyState.PUBLISHED},
    },
    initial={CaseStudyState.DRAFT},
)


class CaseStudy(Base):
    """What an implemented (or instructively closed) idea taught, written for publication.

    Every field shown on the public page is written here for that purpose (pre-filled from the outcome, and
    edited): nothing of the reviews, private notes or email addresses is read when it is shown.
    """

    __tablename__ = "case_studies"
    __table_args__ = (
        Index("ix_case_studies_state_published_at", "state", "published_at"),
        Index("ix_case_studies_department_published_at", "department", "published_at"),
        Index("ix_case_studies_theme_published_at", "theme", "published_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    state: Mapped[str] = mapped_column(String(20), default=CaseStudyState.DRAFT.value)  # CaseStudyState
    result: Mapped[str] = mapped_column(String(20))  # implemented | closed
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(300))
    problem: Mapped[str] = mapped_column(Text)
    what_was_done: Mapped[str] = mapped_column(Text)
    benefits: Mapped[str | None] = mapped_column(Text)
    money_saved_a_year: Mapped[float | None] = mapped_column(Float)
    hours_saved_a_year: Mapped[float | None] = mapped_column(Float)
    people_affected: Mapped[int | None] = mapped_column(Integer)
    lessons: Mapped[str | None] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(String(100))
    theme: Mapped[str | None] = mapped_column(String(100))
    sponsor_name: Mapped[str] = mapped_column(String(200))
    written_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]


class CreditConsent(Base):
    """The submitter's answer to "may we name you in a case study?": no row, no answer (not named)."""

    __tablename__ = "credit_consents"

    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), primary_key=True)
    credit_by_name: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
