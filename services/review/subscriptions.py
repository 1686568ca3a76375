"""What the review stage listens to."""

from services.review import actors
from shared.worker.stage import Subscription
from shared.worker.sweep import Sweep

SUBSCRIPTIONS = [
    Subscription("idea.received.v1", actors.screen_idea),
    Subscription("review.submitted.v1", actors.decide),
]

# Work done on a clock: the safety net for deadlines whose delayed message was lost.
SWEEPS: list[Sweep] = []
