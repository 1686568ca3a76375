from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints


class OfferView(BaseModel):
    id: int
    idea_reference: str
    idea_title: str
    rank: int
    score: float
    reasons: list[str]
    due_at: datetime


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
