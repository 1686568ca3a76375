from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Score = Annotated[int, Field(ge=1, le=5)]


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
    comment: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


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
