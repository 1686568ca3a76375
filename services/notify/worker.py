"""The notify worker: a consumer on the topic exchange, delivery threads, and a sweep that retries and settles.

One consumer thread a process takes the events: it records them in batches, and a batch costs much
the same for one event as for sixteen (a transaction, four statements), so one thread with full
batches does more than several with small ones (docs/notifications.md). Deliveries that wait on the
network (SMTP, webhooks) go to `threads` delivery threads, so that a slow mail server does not hold
up the events; .eml files are written while recording.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from services.notify.delivery import Notifier
from services.notify.handlers import CONSUMER, Deliver, deliver_now, handle_event, handle_events, notifier_for
from services.notify.subscriptions import TOPIC
from shared.bus.catchup import catch_up
from shared.bus.consumer import TopicConsumer
from shared.config import Settings
from shared.logging import get_logger

log = get_logger("ideahub.notify")


# Events recorded in one transaction at most. A batch of 64 costs the same six round trips to the database
# as one of 16, and under load notify's consumer thread fills it (when events come one at a time, each is
# handled alone at once). It is also what a SIGKILLed worker can lose from the bus on Redis, for the
# outbox catch-up to handle.
BATCH = 64


def consumer_for(settings: Settings, notifier: Notifier, *, deliver: Deliver = deliver_now) -> TopicConsumer:
    return TopicConsumer(
        settings.effective_broker_url,
        settings.events_exchange,
        settings.queue(TOPIC.queue),
        TOPIC.patterns,
        lambda payloads: handle_events(notifier, payloads, deliver),
        threads=1,
        batch=BATCH,
        prefetch=settings.worker_prefetch,
        key_prefix=settings.queue_prefix,
    )


CATCH_UP_EVERY_SECONDS = 5.0


def sweep_forever(notifier: Notifier, stop: threading.Event) -> None:
    """Every `notify_poll_seconds`: deliver what is due, settle what a dead worker left; at once again if busy.

    Every few seconds, also handle any event the bus lost on the way (`shared.bus.catchup`).
    """
    settings = notifier.settings
    next_catch_up = 0.0
    while not stop.is_set():
        try:
            busy = notifier.sweep() > 0
            if time.monotonic() >= next_catch_up:
                next_catch_up = time.monotonic() + CATCH_UP_EVERY_SECONDS
                catch_up(
                    notifier.session_factory,
                    CONSUMER,
                    lambda payload: handle_event(notifier, payload),
                    older_than=timedelta(seconds=settings.event_catch_up_seconds),
                )
        except Exception:  # the database is away: try again later
            log.exception("notify.sweep_failed")
            busy = False
        if not busy:
            stop.wait(settings.notify_poll_seconds)


class DeliveryPool:
    """`threads` threads delivering what the consumer recorded, with at most `4 * threads` batches waiting.

    When they are all taken the consumer waits, so that it never runs far ahead of the deliveries
    (a delivery not made within its lease is the sweep's, which would then race the pool for it).
    """

    def __init__(self, threads: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="notify-deliver")
        self.room = threading.BoundedSemaphore(4 * threads)

    def __call__(self, notifier: Notifier, ids: list[int]) -> None:
        if not ids:
            return
        self.room.acquire()
        try:
            self.executor.submit(self._deliver, notifier, ids)
        except BaseException:
            self.room.release()
            raise

    def _deliver(self, notifier: Notifier, ids: list[int]) -> None:
        try:
            deliver_now(notifier, ids)
        finally:
            self.room.release()

    def close(self) -> None:
        """Finish what was handed over."""
        self.executor.shutdown(wait=True)


def run(settings: Settings, session_factory: sessionmaker[Session], stop: threading.Event, *, threads: int) -> None:
    notifier = notifier_for(settings, session_factory)
    sweeper = threading.Thread(target=sweep_forever, args=(notifier, stop), name="notify-sweep", daemon=True)
    sweeper.start()
    deliveries = DeliveryPool(threads)
    log.info("notify.started", delivery_threads=threads, channels=sorted(notifier.channels))
    try:
        consumer_for(settings, notifier, deliver=deliveries).run(stop)
    finally:
        deliveries.close()
    sweeper.join()
