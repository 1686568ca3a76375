"""What the notify stage listens to."""

from services.notify import actors
from shared.worker.stage import Subscription

SUBSCRIPTIONS = [
    Subscription("idea.received.v1", actors.idea_received),
    Subscription("idea.status_changed.v1", actors.status_changed),
]
