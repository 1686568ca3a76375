"""What a submission must look like, whatever channel it came by."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


def _one_line(value: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("must be a single line")
    return value


Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_one_line)]
# Departments and themes are stored in 100 characters.
ShortLine = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(_one_line)
]
_NOT_IN_ADDRESS = r"[^@\s<>\"',;()\[\]\x00-\x1f\x7f]"
_EMAIL = re.compile(rf"^{_NOT_IN_ADDRESS}+@{_NOT_IN_ADDRESS}+\.{_NOT_IN_ADDRESS}+$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("enter an email address in the correct format, like name@example.gov.uk")
    return value.lower()


Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320), AfterValidator(_email)]


class Submission(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: Line
    problem: Text
    idea: Text
    benefit: Text | None = None
    department: ShortLine | None = None
    theme: ShortLine | None = None
    name: Line | None = None
    email: Email
    anonymous: bool = False


class Accepted(BaseModel):
    id: int
    reference: str
    status: str
    status_url: str


class HistoryEntry(BaseModel):
    kind: Literal["status", "answer", "note"] = "status"
    status: str | None = None
    description: str
    at: str
    reason: str | None = None
    text: str | None = None  # what the submitter wrote, for an answer or a note


class OpenQuestion(BaseModel):
    text: str
    asked_at: str
    due_at: str | None = None


class MilestoneShown(BaseModel):
    title: str
    due_on: date
    state: Literal["open", "overdue", "reached"]


class ProgressShown(BaseModel):
    """The sponsor's latest progress update that is not private."""

    state: Literal["on_track", "at_risk", "blocked"]
    note: str
    at: str


class OutcomeShown(BaseModel):
    result: Literal["implemented", "closed"]
    summary: str
    benefits: str | None = None
    money_saved_a_year: float | None = None
    hours_saved_a_year: float | None = None
    people_affected: int | None = None
    lessons: str | None = None


class IncubationShown(BaseModel):
    """What the submitter sees of their idea's incubation: never the sponsor's private words."""

    sponsor_name: str
    milestones: list[MilestoneShown]
    latest_progress: ProgressShown | None = None
    outcome: OutcomeShown | None = None


class StatusView(BaseModel):
    reference: str
    title: str
    status: str
    description: str
    final: bool
    question: OpenQuestion | None = None
    history: list[HistoryEntry]
    incubation: IncubationShown | None = None
    # Asked once the idea has its outcome, unless it is anonymous: may a case study name the submitter?
    # None: not asked (anonymous, or no outcome yet); then their answer, or "unanswered".
    credit_question: Literal["unanswered", "yes", "no"] | None = None
    case_study_url: str | None = None


class CreditAnswer(BaseModel):
    """The submitter's answer: may a case study of the idea name them?"""

    model_config = ConfigDict(extra="forbid")
    credit_by_name: bool


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class LikelyDuplicate(BaseModel):
    """An existing idea this one may duplicate, found at screening; its submitter is never shown."""

    reference: str
    title: str
    score: float
    status: str


class StaffIdeaView(BaseModel):
    reference: str
    status: str
    title: str
    problem: str
    idea: str
    benefit: str | None
    department: str | None
    theme: str | None
    submitter_name: str | None
    submitter_email: str | None
    anonymous: bool
    created_at: str
    # For reviewers and administrators, best first; empty for sponsors and before screening.
    duplicates: list[LikelyDuplicate] = []
