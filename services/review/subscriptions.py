"""What the review stage listens to, and when: deadlines are delayed messages, with a sweep as safety net."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.review import actors, deadlines
from shared.config import Settings
from shared.workdays import before
from shared.worker.stage import Subscription
from shared.worker.sweep import Sweep


def _due(payload: Mapping[str, Any], settings: Settings) -> datetime:
    return datetime.fromisoformat(payload["due_at"])


def _review_reminder(payload: Mapping[str, Any], settings: Settings) -> datetime:
    return before(_due(payload, settings), settings.review_reminder)


def _info_reminder(payload: Mapping[str, Any], settings: Settings) -> datetime:
    return before(_due(payload, settings), settings.info_reminder)


def _back_from_question(payload: Mapping[str, Any]) -> bool:
    return payload.get("from_status") == "needs_info" and payload.get("to_status") == "in_review"


def _left_review_for_good(payload: Mapping[str, Any]) -> bool:
    """Withdrawn or marked a duplicate: the final statuses an idea reaches from review without a decision."""
    return payload.get("from_status") in ("in_review", "needs_info") and payload.get("to_status") in (
        "withdrawn",
        "duplicate",
    )


SUBSCRIPTIONS = [
    Subscription("idea.received.v1", actors.screen_idea),
    Subscription("review.submitted.v1", actors.decide),
    # A task's reminder and deadline, from when it is assigned and again when a question moved its deadline.
    *(
        s
        for event_type in ("review.assigned.v1", "review.resumed.v1")
        for s in (
            Subscription(event_type, actors.remind_reviewer, at=_review_reminder),
            Subscription(event_type, actors.escalate_review, at=_due),
        )
    ),
    Subscription("question.asked.v1", actors.remind_submitter, at=_info_reminder),
    Subscription("question.asked.v1", actors.expire_question, at=_due),
    Subscription("idea.status_changed.v1", actors.resume_review, when=_back_from_question),
    Subscription("idea.status_changed.v1", actors.close_tasks, when=_left_review_for_good),
]

# Work done on a clock: the safety net for deadlines whose delayed message was lost.
SWEEPS: list[Sweep] = [Sweep("review.deadlines", deadlines.sweep, every=lambda s: s.deadline_sweep_seconds)]
