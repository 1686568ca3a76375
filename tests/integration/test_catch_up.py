"""An event the bus lost (a queue purged, a broker restarted without its data) still reaches notify, from the outbox."""

from __future__ import annotations

import threading

from kombu import Connection
from sqlalchemy import select

from infra.composition import Runtime
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.notify import worker
from shared.db.models import ConsumerCursor, OutboxMessage
from shared.db.uow import unit_of_work
from tests.conftest import Stack
from tests.helpers import notifications, wait_for


def test_notify_handles_from_the_outbox_an_event_its_queue_lost(stack: Stack) -> None:
    settings = stack.settings(event_catch_up_seconds=1, notify_poll_seconds=0.2)
    runtime = Runtime(settings)
    with unit_of_work(runtime.session_factory) as session:
        created = submit_idea(
            session,
            Submission(title="Lost on the way", problem="P", idea="I", email="lost@example.gov.uk"),
            channel="api",
            departments=settings.departments,
        )
    assert runtime.relay().run_once() == 1  # published on the exchange, into notify's queue ...
    with Connection(settings.effective_broker_url) as connection:
        (queue,) = runtime.topic_queues()
        assert queue(connection.default_channel).purge() == 1  # ... and lost there

    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(settings, runtime.session_factory, stop), kwargs={"threads": 1})
    thread.start()
    try:
        sent = wait_for(
            lambda: [n for n in notifications(runtime.session_factory, created.reference) if n[2] == "sent"],
            timeout=30,
            what="the acknowledgement, caught up from the outbox",
        )
    finally:
        stop.set()
        thread.join(timeout=30)
    assert [template for template, _, _ in sent] == ["submitter/received"]
    with unit_of_work(runtime.session_factory) as session:
        last_event = session.scalar(select(OutboxMessage.id).where(OutboxMessage.idea_id == created.id))
        position = session.scalar(select(ConsumerCursor.position).where(ConsumerCursor.consumer == "notify"))
    assert position is not None
    assert last_event is not None
    assert position >= last_event  # checked: the next catch-up starts after it
    runtime.close()
