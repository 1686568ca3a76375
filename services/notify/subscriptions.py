"""What the notify stage listens to: every domain event, on its own queue bound to the topic exchange.

Notify gets no stage work from the relay; it hears the same events any other
subscriber (audit, metrics) would, and decides for itself whom they concern.
"""

from shared.bus.consumer import TopicSubscription
from shared.worker.declare import Subscription

SUBSCRIPTIONS: list[Subscription] = []
TOPIC = TopicSubscription(queue="notify.events", patterns=("#",))
