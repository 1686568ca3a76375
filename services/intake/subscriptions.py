"""What the intake stage listens to: nothing. It starts the pipeline from web, email and API requests."""

from shared.worker.declare import Subscription

SUBSCRIPTIONS: list[Subscription] = []
