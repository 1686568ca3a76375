"""Review's tables: tasks, reviews, questions to submitters, and the duplicate index, with the states of each.

Review owns them; intake also answers a question (the submitter's reply), through `QUESTION`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.models.base import Base, BigId
from shared.db.states import StateMachine


class TaskState(StrEnum):
    OPEN = "open"  # waiting for the reviewer
    ASKED = "asked"  # the reviewer asked the submitter a question; reopens when the idea returns
    DONE = "done"  # reviewed: counts in the decision
    DECLINED = "declined"  # handed back by the reviewer, with a reason
    REPLACED = "replaced"  # late with no review in: given to someone else
    EXPIRED = "expired"  # the deadline passed with other reviews in: decided without it
    CANCELLED = "cancelled"  # the idea left review without a decision (withdrawn, a duplicate)


TASK = StateMachine(
    "review task",
    {
        TaskState.OPEN: {
            TaskState.ASKED,
            TaskState.DONE,
            TaskState.DECLINED,
            TaskState.REPLACED,
            TaskState.EXPIRED,
            TaskState.CANCELLED,
        },
        # Replaced: its reviewer left, or was replaced by an administrator, while the submitter was asked.
        TaskState.ASKED: {TaskState.OPEN, TaskState.REPLACED, TaskState.EXPIRED, TaskState.CANCELLED},
        TaskState.DONE: set(),
        TaskState.DECLINED: set(),
        TaskState.REPLACED: set(),
        TaskState.EXPIRED: set(),
        TaskState.CANCELLED: set(),
    },
    initial={TaskState.OPEN},
)
# Tasks still awaited from their reviewer: what counts in a reviewer's load.
WAITING = (TaskState.OPEN, TaskState.ASKED)


class QuestionState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    EXPIRED = "expired"  # no answer by the deadline, or the idea left review


QUESTION = StateMachine(
    "question",
    {
        QuestionState.OPEN: {QuestionState.ANSWERED, QuestionState.EXPIRED},
        QuestionState.ANSWERED: set(),
        QuestionState.EXPIRED: set(),
    },
    initial={QuestionState.OPEN},
)


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
    state: Mapped[str] = mapped_column(String(20), default=TaskState.OPEN.value)  # TaskState
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
    state: Mapped[str] = mapped_column(String(20), default=QuestionState.OPEN.value)  # QuestionState
    answered_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(Text)
    asked_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reminded_at: Mapped[datetime | None]


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
