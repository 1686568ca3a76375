"""The kombu topic exchange on which every domain event is published, keyed by its type."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kombu import Connection, Exchange, Queue


def events_exchange(name: str) -> Exchange:
    return Exchange(name, type="topic", durable=True)


class EventPublisher:
    """Publishes outbox rows on the topic exchange; used by the relay only.

    `subscribers` are the queues the installation's own stages listen on: they are declared,
    with their bindings, on connecting, so that an event published before a stage's first
    start still reaches it.
    """

    def __init__(
        self, broker_url: str, exchange_name: str, *, subscribers: Sequence[Queue] = (), bindings_ttl: float = 1.0
    ) -> None:
        self.connection = Connection(broker_url)  # kombu reads redis://, redis+socket:// and amqp:// as we do
        self.exchange = events_exchange(exchange_name)
        self.subscribers = list(subscribers)
        self.bindings_ttl = bindings_ttl
        self._producer: Any = None

    @property
    def producer(self) -> Any:
        """Connect and declare the exchange on first use, so that a relay starts while the broker is away."""
        if self._producer is None:
            producer = self.connection.Producer()
            channel = self.connection.default_channel
            self.exchange(channel).declare()
            for queue in self.subscribers:  # known subscribers exist before the first event is published
                queue(channel).declare()
            if hasattr(producer.channel, "get_table"):
                cache_bindings(producer.channel, self.bindings_ttl)
            self._producer = producer
        return self._producer

    def publish(self, event_type: str, payload: str) -> None:
        self.producer.publish(
            payload,
            exchange=self.exchange,
            routing_key=event_type,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            retry=True,
        )

    def batch(self) -> Any:
        """Hold back what is published inside it and send it together on leaving it.

        On Redis, kombu sends the batch as one pipeline (one round trip and one client, where each
        publish alone builds a redis-py client of its own); if that fails, leaving raises and the
        relay publishes the rows again. Other transports publish at once, as without it.
        """
        return self.producer.batch()

    def close(self) -> None:
        self.connection.release()


def cache_bindings(channel: Any, ttl: float) -> None:
    """Remember the exchange's bindings for `ttl` seconds on kombu's Redis transport.

    That transport reads the bindings (SMEMBERS) on every publish, a large share of
    the relay's time. The cost: a queue bound less than `ttl` ago may miss events,
    which does not matter to a subscriber that binds once when it is set up
    (docs/decisions/0019-relay-caches-bindings-on-redis.md; pinned by
    tests/integration/test_topic_bindings.py).
    """
    read = channel.get_table
    cache: dict[str, tuple[float, Any]] = {}

    def get_table(exchange: str) -> Any:
        now = time.monotonic()
        hit = cache.get(exchange)
        if hit is None or now - hit[0] > ttl:
            hit = cache[exchange] = (now, read(exchange))
        return hit[1]

    channel.get_table = get_table


def subscriber_queue(exchange_name: str, queue_name: str, *patterns: str) -> Queue:
    """A durable queue bound to the exchange for the given routing patterns (`idea.#`)."""
    from kombu import binding

    exchange = events_exchange(exchange_name)
    return Queue(
        queue_name,
        bindings=[binding(exchange, routing_key=p) for p in patterns],
        durable=True,
    )
