"""What the intake stage listens to: nothing. It starts the pipeline from web, email and API requests."""

from shared.worker.stage import Subscription

SUBSCRIPTIONS: list[Subscription] = []
