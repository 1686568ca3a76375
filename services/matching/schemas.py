"""What the matching routes and pages take and give: offers, their answers, and administrators' matching."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from shared.text import Printable

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), Printable]


class OfferView(BaseModel):
    """One offer in a sponsor's list: the idea, when to answer by, and why they were chosen."""

    id: int
    idea_reference: str
    idea_title: str
    department: str | None = None
    rank: int
    score: float
    reasons: list[str]
    due_at: datetime
    working_days_left: int
    state: str = "open"  # open | accepted | declined | expired


class ReviewSummary(BaseModel):
    """A review as a sponsor sees it: the scores, the recommendation and the comment (never a private note)."""

    impact: int
    feasibility: int
    cost: int
    evidence: int
    recommendation: str
    comment: str


class LikelyDuplicate(BaseModel):
    reference: str
    title: str
    score: float
    status: str


class OfferDetail(OfferView):
    """An offer in full: the idea (never an anonymous submitter's name, never an address), its reviews, duplicates."""

    problem: str
    idea: str
    benefit: str | None = None
    theme: str | None = None
    submitted_by: str | None = None
    reviews: list[ReviewSummary]
    duplicates: list[LikelyDuplicate]
    answered_at: datetime | None = None
    answer_reason: str | None = None


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class OfferToIn(BaseModel):
    """An administrator offers an unmatched idea to a named sponsor."""

    model_config = ConfigDict(extra="forbid")
    sponsor_email: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=320)]


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class Considered(BaseModel):
    """A sponsor considered for an offer: ranked with a score and reasons, or skipped with the reason."""

    sponsor_id: int
    name: str
    score: float | None = None
    reasons: list[str] = []
    skipped: str | None = None


class OfferHistory(BaseModel):
    """An offer made for an idea, for administrators: to whom, its answer, and the ranking behind it."""

    id: int
    round: int
    rank: int
    sponsor_name: str
    sponsor_email: str
    state: str  # open | accepted | declined | expired
    made_at: datetime
    due_at: datetime
    answered_at: datetime | None = None
    answer_reason: str | None = None
    offered_by: str | None = None
    reasons: list[str]
    considered: list[Considered]


class SponsorChoice(BaseModel):
    """A sponsor an administrator may offer an idea to: not asked before, with a place free."""

    email: str
    name: str
    department: str | None
    places_free: int


class MatchingView(BaseModel):
    """What an administrator sees to unblock an idea's matching."""

    idea_reference: str
    idea_title: str
    status: str
    department: str | None
    theme: str | None
    offers: list[OfferHistory]
    sponsors: list[SponsorChoice]
