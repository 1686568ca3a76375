"""The notify worker: consumers on the topic exchange, and a sweep that retries and settles deliveries."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker

from services.notify.delivery import Notifier
from services.notify.handlers import handle_event, notifier_for
from services.notify.subscriptions import TOPIC
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
        lambda payload: handle_event(notifier, payload),
        threads=threads,
        prefetch=settings.worker_prefetch,
        visibility_timeout=settings.event_visibility_timeout_seconds,
    )


def sweep_forever(notifier: Notifier, stop: threading.Event) -> None:
    """Every `notify_poll_seconds`: deliver what is due, settle what a dead worker left; at once again if busy."""
    while not stop.is_set():
        try:
            busy = notifier.sweep() > 0
        except Exception:  # the database is away: try again later
            log.exception("notify.sweep_failed")
            busy = False
        if not busy:
            stop.wait(notifier.settings.notify_poll_seconds)


def run(settings: Settings, session_factory: sessionmaker[Session], stop: threading.Event, *, threads: int) -> None:
    notifier = notifier_for(settings, session_factory)
    sweeper = threading.Thread(target=sweep_forever, args=(notifier, stop), name="notify-sweep", daemon=True)
    sweeper.start()
    log.info("notify.started", threads=threads, channels=sorted(notifier.channels))
    consumer_for(settings, notifier, threads=threads).run(stop)
    sweeper.join()
