from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Score = Annotated[int, Field(ge=1, le=5)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Scores(BaseModel):
    model_config = ConfigDict(extra="forbid")

    impact: Score
    feasibility: Score
    cost: Score
    evidence: Score

    @property
    def overall(self) -> float:
        return (self.impact + self.feasibility + self.cost + self.evidence) / 4


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scores: Scores
    recommendation: Literal["accept", "reject", "needs_info"]
    comment: Text
    # Asked of the submitter with `needs_info` (required then, refused otherwise).
    question: ShortText | None = None
    # For staff only: never sent to the submitter, a sponsor, a webhook or an email.
    private_note: Text | None = None

    @model_validator(mode="after")
    def _question_goes_with_needs_info(self) -> Self:
        if self.recommendation == "needs_info" and not self.question:
            raise ValueError("needs_info needs a question for the submitter")
        if self.recommendation != "needs_info" and self.question:
            raise ValueError("only a needs_info review asks a question")
        return self


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ShortText


class DuplicateView(BaseModel):
    """An existing idea the task's idea may duplicate; its submitter is never shown."""

    reference: str
    title: str
    score: float = Field(ge=0, le=1, description="Share of distinct words the two ideas have in common")
    status: str


class TaskView(BaseModel):
    id: int
    idea_reference: str
    idea_title: str
    state: str
    due_at: datetime
    assigned_at: datetime
    # Likely duplicates found at screening, best first: for the reviewer to judge, never merged.
    duplicates: list[DuplicateView] = []


class QuestionView(BaseModel):
    text: str
    state: str  # open | answered | expired
    asked_at: datetime
    due_at: datetime | None
    answer: str | None = None


class ReviewView(BaseModel):
    """A review as staff see it; `reviewer_name` only for administrators."""

    task_id: int
    scores: Scores
    recommendation: str
    comment: str
    private_note: str | None = None
    submitted_at: datetime
    reviewer_name: str | None = None


class TaskDetail(TaskView):
    """One task with what its reviewer needs to judge the idea. Never the submitter of an anonymous idea."""

    idea_status: str
    problem: str
    proposal: str
    benefit: str | None = None
    department: str | None = None
    theme: str | None = None
    submitted_by: str | None = Field(default=None, description="The submitter's name, unless they are anonymous")
    questions: list[QuestionView] = []
    my_review: ReviewView | None = None


class AdminTaskView(BaseModel):
    id: int
    reviewer_name: str
    state: str  # open | asked | done | declined | replaced | expired | cancelled
    assigned_at: datetime
    due_at: datetime
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
    decline_reason: str | None = None


class IdeaReviews(BaseModel):
    """Every task and review of an idea, for administrators (private notes included)."""

    idea_reference: str
    status: str
    tasks: list[AdminTaskView]
    reviews: list[ReviewView]
    questions: list[QuestionView]
