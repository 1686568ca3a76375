"""What the review stage listens to."""

from services.review import actors
from shared.worker.stage import Subscription

SUBSCRIPTIONS = [
    Subscription("idea.received.v1", actors.screen_idea),
    Subscription("review.submitted.v1", actors.decide),
]
