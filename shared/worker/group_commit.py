"""A batched stage actor's deliveries, handled together when they arrive together (a group commit).

See docs/decisions (batched screening and the group commit): nothing waits to fill a batch; under
light load a delivery is handled alone and at once, and when every thread is busy one transaction
handles about as many events as there are threads.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from shared.bus.exactly_once import Consumer, Delivery, handle_once


class GroupCommit:
    """Each worker thread hands in its message and waits; one thread at a time leads.

    The leader takes its own delivery and those waiting (up to `limit`), and handles them in one
    transaction while the deliveries that arrive meanwhile wait for the next leader. A thread returns
    only when its own delivery is finished, raising its error if it had one, so the broker
    acknowledges, retries or dead-letters each message as it would without the grouping.
    """

    def __init__(self, consumer: Consumer[Any], session_factory: sessionmaker[Session], *, limit: int = 64) -> None:
        self.consumer = consumer
        self.session_factory = session_factory
        self.limit = limit
        self._turn = threading.Condition()
        self._waiting: list[Delivery] = []
        self._leading = False

    @property
    def queued(self) -> int:
        """Deliveries waiting for a leader to take them."""
        with self._turn:
            return len(self._waiting)

    def __call__(self, message: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
        """Handle a message's events (one, or the list the relay grouped): return when all are finished."""
        mine = [Delivery(payload) for payload in payloads_of(message)]
        with self._turn:
            self._waiting.extend(mine)
            while self._leading and not all(d.finished for d in mine):
                self._turn.wait()
            if all(d.finished for d in mine):  # a leader handled them
                return outcome(mine)
            self._leading = True
            batch = self._take(mine)
        try:
            handle_once(self.consumer, self.session_factory, batch)
        finally:
            with self._turn:
                for delivery in batch:  # interrupted (a time limit, say): the others are retried by the broker
                    if not delivery.finished:
                        delivery.finish(RuntimeError("interrupted while handling a batch"))
                self._leading = False
                self._turn.notify_all()
        return outcome(mine)

    def _take(self, mine: list[Delivery]) -> list[Delivery]:
        """The leader's batch, in the order the deliveries arrived: its own, and others up to `limit`."""
        own = {id(d) for d in mine}
        room = self.limit - len(mine)
        batch, left = [], []
        for delivery in self._waiting:
            if id(delivery) in own or room > 0:
                room -= id(delivery) not in own
                batch.append(delivery)
            else:
                left.append(delivery)
        self._waiting = left
        return batch


def payloads_of(message: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A batched actor's message holds a list of events (the relay's grouping), or one event."""
    return [message] if isinstance(message, Mapping) else list(message)


def outcome(deliveries: list[Delivery]) -> None:
    """Raise the first error among a message's events, for the broker to retry the message (the others are
    recorded as handled, and skipped then)."""
    for delivery in deliveries:
        delivery.outcome()
