"""What the incubation stage listens to."""

from services.incubation import actors
from shared.contracts.events import OfferAnsweredV1
from shared.worker.declare import Subscription

SUBSCRIPTIONS = [
    Subscription(OfferAnsweredV1, actors.start_incubation, where={"answer": "accepted"}),
]
