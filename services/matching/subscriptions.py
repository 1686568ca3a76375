"""What the matching stage listens to, and what it does on a clock."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.matching import actors, deadlines
from shared.config import Settings
from shared.worker.stage import Subscription
from shared.worker.sweep import Sweep


def _due(payload: Mapping[str, Any], settings: Settings) -> datetime:
    return datetime.fromisoformat(payload["due_at"])


def _reminder(payload: Mapping[str, Any], settings: Settings) -> datetime:
    return deadlines.reminder_time(_due(payload, settings), settings)


SUBSCRIPTIONS = [
    Subscription("idea.status_changed.v1", actors.start_matching, when=lambda e: e["to_status"] == "matching"),
    Subscription("offer.answered.v1", actors.offer_declined, when=lambda e: e["answer"] != "accepted"),
    Subscription("offer.made.v1", actors.remind_sponsor, at=_reminder),
    Subscription("offer.made.v1", actors.offer_deadline, at=_due),
]

# Work done on a clock: the safety net for deadlines whose delayed message was lost.
SWEEPS: list[Sweep] = [
    Sweep("matching.offer_deadlines", deadlines.sweep, every=lambda s: s.deadline_sweep_seconds),
]
