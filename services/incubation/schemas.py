"""What the incubation routes and pages take and give: plans, progress, outcomes and case studies."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from shared.text import Printable

Words = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), Printable]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Printable]
# Words that may be left out.
MaybeWords = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000), Printable] | None
# Finite and within reason: JSON's numbers may be 1e400 (infinity) and PostgreSQL refuses NaN comparisons.
Pounds = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
Hours = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
People = Annotated[int, Field(ge=0, le=100_000_000)]
UpdateState = Literal["on_track", "at_risk", "blocked"]
_EMAIL = re.compile(r"[^\s@<>]+@[^\s@<>]+\.[A-Za-z]{2,}")


class MilestoneIn(BaseModel):
    """A milestone: a title and a due date (`due_on`), or an exact due time (`due_at`, for scripts and tests)."""

    model_config = ConfigDict(extra="forbid")
    title: Title
    due_on: date | None = None
    due_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_due(self) -> Self:
        if (self.due_on is None) == (self.due_at is None):
            raise ValueError("give the milestone a due date (due_on), or an exact time (due_at), not both")
        return self


class Figures(BaseModel):
    """The plan's budget and staff days, and the benefits it expects a year, in words and numbers."""

    model_config = ConfigDict(extra="forbid")
    budget: Pounds | None = None
    staff_days: Hours | None = None
    projected_benefits: MaybeWords = None
    projected_money_a_year: Pounds | None = None
    projected_hours_a_year: Hours | None = None
    projected_people: People | None = None


class PlanIn(Figures):
    """Milestones to add, and (optionally) the plan's figures."""

    milestones: list[MilestoneIn] = Field(min_length=1, max_length=50)


class MilestoneChange(BaseModel):
    """A milestone's new title or due date (or both); a new date also clears an overdue milestone."""

    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    due_on: date | None = None
    due_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.due_on is not None and self.due_at is not None:
            raise ValueError("give a due date (due_on) or an exact time (due_at), not both")
        if self.title is None and self.due_on is None and self.due_at is None:
            raise ValueError("say what changes: the title, or the due date")
        return self


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: UpdateState
    note: Words
    # Private words are seen by staff only: never by the submitter, never published.
    private: bool = False


class OutcomeIn(BaseModel):
    """`implemented`, with the benefits realised in words (and numbers where known), or `closed`, with lessons."""

    model_config = ConfigDict(extra="forbid")
    result: Literal["implemented", "closed"]
    summary: Words
    benefits: MaybeWords = None
    money_saved_a_year: Pounds | None = None
    hours_saved_a_year: Hours | None = None
    people_affected: People | None = None
    lessons: MaybeWords = None

    @model_validator(mode="after")
    def _says_what_it_must(self) -> Self:
        if self.result == "implemented" and not self.benefits:
            raise ValueError("say in words what benefits the idea brought (benefits)")
        if self.result == "closed" and not self.lessons:
            raise ValueError("say what was learned (lessons), so that others can learn it too")
        return self


class CaseStudyIn(BaseModel):
    """A case study as written for publication. Nothing else of the idea is ever published."""

    model_config = ConfigDict(extra="forbid")
    title: Title
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), Printable]
    problem: Words
    what_was_done: Words
    benefits: MaybeWords = None
    money_saved_a_year: Pounds | None = None
    hours_saved_a_year: Hours | None = None
    people_affected: People | None = None
    lessons: MaybeWords = None

    @field_validator("title", "summary", "problem", "what_was_done", "benefits", "lessons")
    @classmethod
    def _no_email_address(cls, value: str | None) -> str | None:
        if value is not None and _EMAIL.search(value):
            raise ValueError("take out the email address: a case study is public")
        return value


class Benefits(BaseModel):
    words: str | None = None
    money_a_year: float | None = None
    hours_a_year: float | None = None
    people: int | None = None


class MilestoneView(BaseModel):
    id: int
    title: str
    due_on: date
    due_at: datetime
    state: Literal["open", "overdue", "reached", "dropped"]
    done_at: datetime | None = None


class UpdateView(BaseModel):
    id: int
    state: str  # on_track | at_risk | blocked
    note: str
    private: bool
    at: datetime
    author_name: str | None = None


class OutcomeView(BaseModel):
    result: Literal["implemented", "closed"]
    summary: str
    benefits: Benefits
    lessons: str | None = None
    at: datetime


# What a list shows of each incubation: the worst of "milestone overdue", then the latest update's state.
Tag = Literal["milestone overdue", "blocked", "at risk", "on track", "no update yet", "implemented", "closed"]


class IncubationSummary(BaseModel):
    idea_reference: str
    idea_title: str
    idea_status: str
    department: str | None
    sponsor_name: str
    started_at: datetime
    tag: Tag
    next_milestone: MilestoneView | None = None


class CaseStudyRef(BaseModel):
    id: int
    slug: str
    state: Literal["draft", "published", "withdrawn"]


class IncubationView(BaseModel):
    idea_reference: str
    idea_title: str
    idea_status: str
    department: str | None
    theme: str | None
    sponsor_name: str
    started_at: datetime
    tag: Tag
    budget: float | None
    staff_days: float | None
    projected: Benefits
    milestones: list[MilestoneView]
    updates: list[UpdateView]
    outcome: OutcomeView | None = None
    case_study: CaseStudyRef | None = None


class CaseStudyView(BaseModel):
    """A published case study, as anyone may read it (the page, the feed, the API)."""

    slug: str
    result: Literal["implemented", "closed"]
    title: str
    summary: str
    problem: str
    what_was_done: str
    benefits: Benefits
    lessons: str | None = None
    department: str | None = None
    theme: str | None = None
    sponsor_name: str
    # The submitter by name only if they agreed (never an anonymous one); else "a member of staff in {department}".
    credit: str
    published_at: datetime | None = None
    updated_at: datetime
