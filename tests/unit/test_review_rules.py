"""Review's pure rules: what a review must hold, and how far ahead the sweep looks for reminders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.review.deadlines import horizon
from services.review.schemas import DeclineIn, ReviewIn
from shared.config import Duration
from shared.workdays import before

SCORES = {"impact": 3, "feasibility": 3, "cost": 3, "evidence": 3}


def test_needs_info_needs_a_question_and_only_needs_info_asks_one() -> None:
    asked = ReviewIn(scores=SCORES, recommendation="needs_info", comment="Unclear", question=" How many? ")  # type: ignore[arg-type]
    assert asked.question == "How many?"
    with pytest.raises(ValidationError, match="needs a question"):
        ReviewIn(scores=SCORES, recommendation="needs_info", comment="Unclear")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="only a needs_info review"):
        ReviewIn(scores=SCORES, recommendation="accept", comment="Fine", question="Why?")  # type: ignore[arg-type]


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001])
def test_a_decline_needs_a_reason_of_up_to_2000_characters(reason: str) -> None:
    with pytest.raises(ValidationError):
        DeclineIn(reason=reason)
    assert DeclineIn(reason="x" * 2000).reason == "x" * 2000


@pytest.mark.parametrize("days", [1, 2, 5, 10])
def test_the_sweep_looks_far_enough_ahead_for_any_working_day_reminder(days: int) -> None:
    # Christmas and New Year: the longest run of bank holidays and weekend.
    dues = [datetime(2026, 12, day, 17, tzinfo=UTC) for day in range(15, 32)]
    dues += [datetime(2027, 1, day, 17, tzinfo=UTC) for day in range(1, 15)]
    for due in dues:
        assert due - before(due, Duration(days, "d")) <= horizon(Duration(days, "d"))
    assert horizon(Duration(30, "s")).total_seconds() == 30
