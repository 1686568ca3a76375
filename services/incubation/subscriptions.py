"""What the incubation stage listens to, and what it does on a clock."""

from services.incubation import actors, deadlines
from shared.contracts.events import MilestoneScheduledV1, OfferAnsweredV1
from shared.worker.declare import Deadline, Subscription
from shared.worker.sweep import Sweep

SUBSCRIPTIONS = [
    Subscription(OfferAnsweredV1, actors.start_incubation, where={"answer": "accepted"}),
    # A milestone's reminder and overdue time, from when it is planned and again when its date changes.
    Subscription(
        MilestoneScheduledV1, actors.remind_milestone, at=Deadline("due_at", before=lambda s: s.milestone_reminder)
    ),
    Subscription(MilestoneScheduledV1, actors.milestone_overdue, at=Deadline("overdue_at")),
]

# Work done on a clock: deadlines beyond the delayed-message horizon, and any whose message was lost.
SWEEPS: list[Sweep] = [
    Sweep("incubation.milestone_deadlines", deadlines.sweep, every=lambda s: s.deadline_sweep_seconds),
]
