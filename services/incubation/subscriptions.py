"""What the incubation stage listens to."""

from services.incubation import actors
from shared.worker.stage import Subscription

SUBSCRIPTIONS = [
    Subscription("offer.answered.v1", actors.start_incubation, when=lambda e: e["answer"] == "accepted"),
]
