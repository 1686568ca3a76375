"""What the matching stage listens to."""

from services.matching import actors
from shared.worker.stage import Subscription
from shared.worker.sweep import Sweep

SUBSCRIPTIONS = [
    Subscription("idea.status_changed.v1", actors.start_matching, when=lambda e: e["to_status"] == "matching"),
    Subscription("offer.answered.v1", actors.offer_declined, when=lambda e: e["answer"] != "accepted"),
]

# Work done on a clock: the safety net for deadlines whose delayed message was lost.
SWEEPS: list[Sweep] = []
