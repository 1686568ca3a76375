"""Consuming domain events from the topic exchange.

A service that listens to the bus (rather than getting stage work from the relay)
declares a `TopicSubscription`: a durable queue of its own, bound to the exchange
for some routing patterns. `TopicConsumer` runs one kombu connection per thread
on that queue and acknowledges a message only after the handler has returned, so
on RabbitMQ a crash redelivers it when the connection drops. On Redis a message
leaves the queue when it is taken (see `transport_options`), and what a crash loses
there, as what a broker restarted without its data loses anywhere, a subscriber
recovers from the outbox (`shared.bus.catchup`). Handlers must be idempotent.
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


def transport_options(key_prefix: str) -> dict[str, Any]:
    """kombu's Redis transport options for a subscriber (RabbitMQ ignores them): no acknowledgement emulation.

    With its emulation, kombu records every message it hands out in a sorted set and a hash, and removes
    it on acknowledgement: two more Redis round trips and client objects a message, several times the
    consumer's CPU (docs/decisions/0010-no-kombu-ack-emulation-on-redis.md). It protects less than it seems:
    the message leaves its list before it is recorded, and a dead consumer's messages come back only
    after a visibility timeout of minutes. Every event is in the outbox, and a subscriber that records
    what it handled catches up from there (`shared.bus.catchup`): that is the guarantee, the bus is the
    fast path. Without the emulation a consumer that dies loses the events in its hand from the bus
    (at most a batch a thread), and the catch-up handles them. Such keys as the transport still uses
    are the installation's own.
    """
    return {
        "ack_emulation": False,
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
    time, each is handled alone at once. On stopping, what is in hand is handled first.
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
        self.poll_seconds = poll_seconds
        self.options = transport_options(key_prefix)

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
