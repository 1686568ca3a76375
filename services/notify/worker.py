"""The notify worker: consumers on the topic exchange, and a sweep that retries and settles deliveries."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from services.notify.delivery import Notifier
from services.notify.handlers import CONSUMER, handle_event, handle_events, notifier_for
from services.notify.subscriptions import TOPIC
from shared.bus.catchup import catch_up
from shared.bus.consumer import TopicConsumer
from shared.config import Settings
from shared.logging import get_logger

log = get_logger("ideahub.notify")


def consumer_for(settings: Settings, notifier: Notifier, *, threads: int) -> TopicConsumer:
    return TopicConsumer(
        settings.effective_broker_url,
        settings.events_exchange,
        settings.queue(TOPIC.queue),
        TOPIC.patterns,
        lambda payloads: handle_events(notifier, payloads),
        threads=threads,
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


def run(settings: Settings, session_factory: sessionmaker[Session], stop: threading.Event, *, threads: int) -> None:
    notifier = notifier_for(settings, session_factory)
    sweeper = threading.Thread(target=sweep_forever, args=(notifier, stop), name="notify-sweep", daemon=True)
    sweeper.start()
    log.info("notify.started", threads=threads, channels=sorted(notifier.channels))
    consumer_for(settings, notifier, threads=threads).run(stop)
    sweeper.join()
