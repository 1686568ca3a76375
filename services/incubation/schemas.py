from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Words = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class MilestoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    due_on: date


class PlanIn(BaseModel):
    """Milestones with due dates, and optionally the budget and staff days."""

    model_config = ConfigDict(extra="forbid")
    milestones: list[MilestoneIn] = Field(min_length=1, max_length=50)
    budget: float | None = Field(default=None, ge=0)
    staff_days: float | None = Field(default=None, ge=0)


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["on_track", "at_risk", "blocked"]
    note: Words


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: Literal["implemented", "closed"]
    summary: Words
    benefits: dict[str, float] | None = None
    publish: bool = False
