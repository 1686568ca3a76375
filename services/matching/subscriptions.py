"""What the matching stage listens to, and what it does on a clock."""

from services.matching import actors, deadlines
from shared.contracts.events import IdeaStatusChangedV1, OfferAnsweredV1, OfferMadeV1
from shared.worker.declare import Deadline, Subscription
from shared.worker.sweep import Sweep

SUBSCRIPTIONS = [
    Subscription(IdeaStatusChangedV1, actors.start_matching, where={"to_status": "matching"}),
    Subscription(
        IdeaStatusChangedV1,
        actors.idea_left_matching,
        where={"from_status": "matching", "to_status": ("withdrawn", "closed")},
    ),
    Subscription(OfferAnsweredV1, actors.offer_declined, where={"answer": ("declined", "expired")}),
    Subscription(OfferMadeV1, actors.remind_sponsor, at=Deadline("due_at", before=lambda s: s.offer_reminder)),
    Subscription(OfferMadeV1, actors.offer_deadline, at=Deadline("due_at")),
]

# Work done on a clock: the safety net for deadlines whose delayed message was lost.
SWEEPS: list[Sweep] = [
    Sweep("matching.offer_deadlines", deadlines.sweep, every=lambda s: s.deadline_sweep_seconds),
]
