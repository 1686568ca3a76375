"""Consuming domain events from the topic exchange.

A service that listens to the bus (rather than getting stage work from the relay)
declares a `TopicSubscription`: a durable queue of its own, bound to the exchange
for some routing patterns. `TopicConsumer` runs one kombu connection per thread
on that queue and acknowledges a message only after the handler has returned, so
a crash redelivers it: on RabbitMQ when the connection drops, on Redis once the
visibility timeout has passed. Handlers must therefore be idempotent. What the
bus can still lose (see `shared.bus.catchup`) a subscriber recovers from the outbox.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kombu import Connection

from shared.bus.topic import subscriber_queue
from shared.logging import get_logger

log = get_logger("ideahub.bus")


@dataclass(frozen=True)
class TopicSubscription:
    """A consumer's own queue (`queue`, before the installation's prefix) bound for `patterns` (`idea.#`)."""

    queue: str
    patterns: tuple[str, ...]


def transport_options(visibility_timeout: int, key_prefix: str) -> dict[str, Any]:
    """kombu's Redis transport options (RabbitMQ ignores them).

    An unacknowledged message returns to its queue after `visibility_timeout`; kombu looks for
    such messages on every tenth poll that finds nothing (a few Redis round trips each time,
    so not on every one: a consumer gathering a batch polls briefly and often). The bookkeeping keys are the
    installation's own: with kombu's defaults, shared by every user of the Redis database,
    another installation's consumer would restore our messages through an exchange it does
    not know, and they would be dropped.
    """
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_throttle": 10,
        "unacked_key": f"{key_prefix}unacked",
        "unacked_index_key": f"{key_prefix}unacked_index",
        "unacked_mutex_key": f"{key_prefix}unacked_mutex",
    }


class TopicConsumer:
    """Consumes one queue on `threads` threads, handing `handle` the events in small batches.

    A thread takes what has already arrived, up to `batch` events, waiting at most
    `gather_seconds` for the next one, then calls `handle(list_of_events)` once and
    acknowledges them all (or, if it raised, gives them all back). A batch lets the
    handler use one transaction for several events; when messages arrive one at a
    time, each is handled alone at once.
    """

    def __init__(
        self,
        broker_url: str,
        exchange_name: str,
        queue_name: str,
        patterns: tuple[str, ...],
        handle: Callable[[list[Mapping[str, Any]]], None],
        *,
        threads: int = 1,
        prefetch: int = 8,
        batch: int = 16,
        gather_seconds: float = 0.005,
        visibility_timeout: int = 300,
        poll_seconds: float = 1.0,
        key_prefix: str = "",
    ) -> None:
        self.broker_url = broker_url
        self.queue = subscriber_queue(exchange_name, queue_name, *patterns)
        self.handle = handle
        self.threads = threads
        self.prefetch = max(prefetch, batch)
        self.batch = batch
        self.gather_seconds = gather_seconds
        self.visibility_timeout = visibility_timeout
        self.poll_seconds = poll_seconds
        self.options = transport_options(visibility_timeout, key_prefix)

    def declare(self) -> None:
        """Create the queue and its bindings (the relay does this too, so no event is published unheard)."""
        with Connection(self.broker_url, transport_options=self.options) as conn:
            self.queue(conn.default_channel).declare()

    def run(self, stop: threading.Event) -> None:
        """Consume on `threads` threads until `stop` is set; messages in hand are finished first."""
        workers = [
            threading.Thread(target=self._consume, args=(stop,), name=f"{self.queue.name}-{n}", daemon=True)
            for n in range(self.threads)
        ]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()

    def _consume(self, stop: threading.Event) -> None:
        pending: list[tuple[Mapping[str, Any], Any]] = []

        def take(body: Any, message: Any) -> None:
            if isinstance(body, Mapping):
                pending.append((body, message))
            else:
                log.error("consumer.not_an_event", queue=self.queue.name, body=str(body)[:200])
                message.ack()

        while not stop.is_set():
            pending.clear()  # after a lost connection, what was in hand comes back from the broker
            try:
                with Connection(self.broker_url, transport_options=self.options) as conn:
                    with conn.Consumer(
                        self.queue,
                        channel=conn.channel(),
                        callbacks=[take],
                        accept=["application/json"],
                        prefetch_count=self.prefetch,
                    ):
                        log.info("consumer.started", queue=self.queue.name)
                        while not stop.is_set():
                            try:
                                conn.drain_events(timeout=self.gather_seconds if pending else self.poll_seconds)
                                if len(pending) < self.batch:
                                    continue
                            except TimeoutError:
                                if not pending:
                                    continue
                            self._handle(pending, stop)
                            pending.clear()
                        if pending:  # stopping: finish what is in hand
                            self._handle(pending, stop)
            except Exception:  # the broker went away: reconnect after a pause, unacknowledged messages come back
                log.exception("consumer.connection_lost", queue=self.queue.name)
                stop.wait(1.0)

    def _handle(self, pending: list[tuple[Mapping[str, Any], Any]], stop: threading.Event) -> None:
        try:
            self.handle([body for body, _ in pending])
        except Exception:  # the database is away, say: give them back, after a pause so as not to spin
            log.exception("consumer.handler_failed", queue=self.queue.name, events=len(pending))
            stop.wait(1.0)
            for _, message in pending:
                message.requeue()
            return
        for _, message in pending:
            message.ack()
