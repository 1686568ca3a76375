"""The outbox and relay against real brokers and databases: nothing lost, nothing done twice."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.common import dq_name
from kombu import Connection, Queue
from sqlalchemy import select

from infra import people
from infra.composition import Runtime, queue_names
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.notify import worker as notify_worker
from services.review import actors as review_actors
from services.review import screening
from shared.bus import relay as relay_module
from shared.bus.consumer import transport_options
from shared.bus.topic import subscriber_queue
from shared.contracts.events import IdeaReceivedV1
from shared.db.models import FailedMessage, Idea, OutboxMessage, ProcessedMessage, ReviewTask, StatusChange
from shared.db.uow import unit_of_work
from shared.worker.broker import queue_depths
from shared.worker.declare import StageContext
from shared.worker.stage import run_handler
from tests.helpers import count, idea_status, mails_about, notifications, wait_for


@pytest.fixture(scope="module")
def reviewers(stack) -> None:  # type: ignore[no-untyped-def]
    settings = stack.settings()
    for n in (1, 2):
        people.add(settings, email=f"outbox.reviewer{n}@example.gov.uk", name=f"Reviewer {n}", role="reviewer")


@pytest.fixture
def runtime(stack, reviewers) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    rt = Runtime(stack.settings())
    yield rt
    rt.close()


def submit(runtime: Runtime, title: str) -> str:
    with unit_of_work(runtime.session_factory) as session:
        created = submit_idea(
            session,
            Submission(title=title, problem="Forms are slow.", idea="Make them quicker.", email="sub@example.gov.uk"),
            channel="api",
            departments=runtime.settings.departments,
        )
    return created.reference


# Submitter emails, then one email for each of the two reviewers given the idea.
IN_REVIEW_EMAILS = ["reviewer/review_assigned", "reviewer/review_assigned", "submitter/in_review", "submitter/received"]


def run_workers_until(runtime: Runtime, done: object, *, what: str) -> None:
    """Run a relay, the review stage and the notify consumer in this process, on the real broker, until `done()`."""
    if not runtime.broker.actors:
        runtime.register_stages(["review"])
    worker = dramatiq.Worker(
        runtime.broker,
        queues=set(queue_names(runtime.settings, ["review", "notify"])),
        worker_threads=2,
        worker_timeout=20,
    )
    stop = threading.Event()
    relay = threading.Thread(target=runtime.relay().run_forever, args=(stop,), kwargs={"idle_seconds": 0.01})
    notify = threading.Thread(
        target=notify_worker.run, args=(runtime.settings, runtime.session_factory, stop), kwargs={"threads": 2}
    )
    worker.start()
    relay.start()
    notify.start()
    try:
        wait_for(done, what=what)  # type: ignore[arg-type]
    finally:
        stop.set()
        relay.join()
        notify.join(timeout=30)  # finishes the events in hand first
        worker.stop(timeout=10_000)
    assert not notify.is_alive(), "the notify consumer did not stop"


def templates(runtime: Runtime, reference: str) -> list[str]:
    return sorted(n[0] for n in notifications(runtime.session_factory, reference))


def notify_events_waiting(runtime: Runtime) -> int:
    """Events on notify's own queue on the topic exchange not yet taken by a consumer."""
    settings = runtime.settings
    (queue,) = runtime.topic_queues()
    options = transport_options(settings.queue_prefix)
    with Connection(settings.effective_broker_url, transport_options=options) as connection:
        # Declared as the relay declares it: on Redis an empty queue has no key, and a passive check would fail.
        return int(queue(connection.default_channel).queue_declare().message_count)


def unpublished(runtime: Runtime) -> int:
    return count(runtime.session_factory, select(OutboxMessage).where(OutboxMessage.published_at.is_(None)).subquery())


def test_an_event_committed_before_the_relay_crashed_is_published_when_a_relay_runs_again(runtime: Runtime) -> None:
    reference = submit(runtime, "Committed, then the relay died")
    # The relay read the row and died before publishing anything.
    runtime.relay().pending()
    review_queue = runtime.settings.queue("review")
    assert queue_depths(runtime.broker, [review_queue])[review_queue] == 0
    assert unpublished(runtime) >= 1

    assert runtime.relay().run_once() >= 1
    assert unpublished(runtime) == 0

    run_workers_until(
        runtime,
        lambda: (
            idea_status(runtime.session_factory, reference) == "in_review"
            and templates(runtime, reference) == IN_REVIEW_EMAILS
        ),
        what=f"{reference} to reach in_review with the submitter's two emails and one for each reviewer",
    )
    assert len(mails_about(runtime.settings.mail_dir, reference)) == len(IN_REVIEW_EMAILS)


def test_a_relay_that_crashed_after_publishing_publishes_again_but_the_effect_happens_once(runtime: Runtime) -> None:
    reference = submit(runtime, "Published twice")
    first = runtime.relay()
    first.publish(first.pending())  # published, then died before marking the rows
    assert unpublished(runtime) >= 1
    runtime.relay().run_once()  # the next relay publishes the same rows again
    review_queue = runtime.settings.queue("review")
    assert queue_depths(runtime.broker, [review_queue])[review_queue] == 2
    assert notify_events_waiting(runtime) == 2  # notify's queue on the topic exchange has it twice too

    factory = runtime.session_factory
    run_workers_until(
        runtime,
        lambda: idea_status(factory, reference) == "in_review" and len(notifications(factory, reference)) >= 4,
        what=f"{reference} to reach in_review",
    )
    # Let the duplicate deliveries drain (the review stage's queue and notify's), then count effects.
    stage_queues = queue_names(runtime.settings, ["review", "notify"])
    run_workers_until(
        runtime,
        lambda: (
            queue_depths(runtime.broker, stage_queues) == {q: 0 for q in stage_queues}
            and notify_events_waiting(runtime) == 0
        ),
        what="queues to drain",
    )
    with unit_of_work(factory) as session:
        idea_id = session.scalar(select(Idea.id).where(Idea.reference == reference))
        tasks = session.scalars(select(ReviewTask).where(ReviewTask.idea_id == idea_id)).all()
        history = session.scalars(select(StatusChange.to_status).where(StatusChange.idea_id == idea_id)).all()
    assert len(tasks) == 2
    assert history == ["received", "in_review"]
    assert templates(runtime, reference) == IN_REVIEW_EMAILS
    assert len(mails_about(runtime.settings.mail_dir, reference)) == len(IN_REVIEW_EMAILS)


def test_one_event_delivered_to_two_threads_at_once_has_one_effect(runtime: Runtime) -> None:
    reference = submit(runtime, "Raced")
    with unit_of_work(runtime.session_factory) as session:
        row = session.execute(
            select(OutboxMessage.payload, OutboxMessage.event_id)
            .join(Idea, Idea.id == OutboxMessage.idea_id)
            .where(Idea.reference == reference)
        ).one()
    payload = json.loads(row.payload)
    ctx = StageContext(runtime.settings)
    barrier = threading.Barrier(2)

    def deliver() -> None:
        barrier.wait()
        run_handler(review_actors.screen_idea, runtime.session_factory, ctx, payload)

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(deliver) for _ in range(2)]:
            future.result()

    factory = runtime.session_factory
    assert idea_status(factory, reference) == "in_review"
    assert count(factory, select(ProcessedMessage).where(ProcessedMessage.event_id == row.event_id).subquery()) == 1
    with unit_of_work(factory) as session:
        idea_id = session.scalar(select(Idea.id).where(Idea.reference == reference))
    assert count(factory, select(ReviewTask).where(ReviewTask.idea_id == idea_id).subquery()) == 2
    assert count(factory, select(FailedMessage).where(FailedMessage.idea_id == idea_id).subquery()) == 0


def test_a_message_that_can_never_succeed_is_recorded_for_administrators_and_not_raised(runtime: Runtime) -> None:
    reference = submit(runtime, "Will be refused")
    with unit_of_work(runtime.session_factory) as session:
        payload = session.scalar(
            select(OutboxMessage.payload)
            .join(Idea, Idea.id == OutboxMessage.idea_id)
            .where(Idea.reference == reference)
        )
    event = json.loads(payload)  # type: ignore[arg-type]
    event["idea_id"] = 987_654_321  # an idea that does not exist
    run_handler(review_actors.screen_idea, runtime.session_factory, StageContext(runtime.settings), event)

    with unit_of_work(runtime.session_factory) as session:
        failed = session.scalars(select(FailedMessage).where(FailedMessage.idea_id == 987_654_321)).all()
    assert [f.consumer for f in failed] == ["review.screen_idea"]
    assert "no idea with id 987654321" in failed[0].error
    # The refused message counts as handled, by its failure: a redelivery is not tried again (and does not
    # fail again); an administrator retries it once the cause is fixed.
    handled = select(ProcessedMessage).where(ProcessedMessage.event_id == uuid.UUID(event["event_id"])).subquery()
    assert count(runtime.session_factory, handled) == 1
    run_handler(review_actors.screen_idea, runtime.session_factory, StageContext(runtime.settings), event)
    assert (
        count(runtime.session_factory, select(FailedMessage).where(FailedMessage.idea_id == 987_654_321).subquery())
        == 1
    )


def drain(connection: Connection, queue: Queue) -> list[dict[str, Any]]:
    """Every message on `queue`, in the order it gives them, until it has had none for two seconds."""
    received = []
    with connection.SimpleQueue(queue) as simple:
        while True:
            try:
                message = simple.get(timeout=2)
            except simple.Empty:
                return received
            received.append(message.payload)
            message.ack()


@contextlib.contextmanager
def auditor(stack, name: str) -> Iterator[tuple[Runtime, Connection, Queue]]:  # type: ignore[no-untyped-def]
    """A subscriber queue of our own on the topic exchange, for every idea event; deleted with the stack."""
    runtime = Runtime(stack.settings())
    audit_queue = f"{stack.prefix}{name}"
    stack.extra_env["_kombu_queues"] = ",".join(filter(None, [stack.extra_env.get("_kombu_queues"), audit_queue]))
    queue = subscriber_queue(runtime.settings.events_exchange, audit_queue, "idea.#")
    try:
        with Connection(runtime.settings.effective_broker_url) as connection:
            queue(connection.default_channel).declare()
            yield runtime, connection, queue
    finally:
        runtime.close()


def test_every_event_is_published_on_the_topic_exchange_for_any_subscriber(stack, reviewers) -> None:  # type: ignore[no-untyped-def]
    with auditor(stack, "audit") as (runtime, connection, queue):
        reference = submit(runtime, "Heard by an auditor")
        runtime.relay().run_once()
        received = drain(connection, queue)
    mine = [m for m in received if m["idea_reference"] == reference]
    assert [m["type"] for m in mine] == ["idea.received.v1"]
    assert mine[0]["submitter"]["email"] == "sub@example.gov.uk"


def test_a_relay_batch_reaches_the_exchange_whole_and_in_the_order_of_the_outbox(stack, reviewers) -> None:  # type: ignore[no-untyped-def]
    """On Redis the relay's events go out as one pipeline at the end of its batch: none lost, none reordered."""
    with auditor(stack, "audit-order") as (runtime, connection, queue):
        references = [submit(runtime, f"Ordered {n}") for n in range(25)]
        with unit_of_work(runtime.session_factory) as session:
            outbox_order = [
                str(event_id)
                for event_id in session.scalars(
                    select(OutboxMessage.event_id)
                    .join(Idea, Idea.id == OutboxMessage.idea_id)
                    .where(Idea.reference.in_(references))
                    .order_by(OutboxMessage.id)
                )
            ]
        assert runtime.relay().run_once() >= len(references)
        received = drain(connection, queue)
    mine = [m["event_id"] for m in received if m["idea_reference"] in references]
    assert len(outbox_order) == len(references)
    assert mine == outbox_order


class _FailingAtTheEndOfABatch:
    """A publisher whose batch fails when it is sent, as a pipeline to a broker that went away does."""

    def __init__(self) -> None:
        self.published: list[str] = []

    def publish(self, event_type: str, payload: str) -> None:
        self.published.append(event_type)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        yield
        raise ConnectionError("the broker went away while the batch was sent")


def test_a_batch_that_fails_when_sent_leaves_its_rows_to_be_published_again(runtime: Runtime) -> None:
    from shared.bus.relay import Relay

    submit(runtime, "Sent in a batch that failed")
    waiting = unpublished(runtime)
    failing = _FailingAtTheEndOfABatch()
    relay = Relay(runtime.session_factory, runtime.broker, runtime.routes(), publisher=failing)
    with pytest.raises(ConnectionError):
        relay.run_once()
    assert failing.published, "the events were handed to the publisher"
    assert unpublished(runtime) == waiting  # not marked: the next run publishes them again
    assert runtime.relay().run_once() >= waiting
    assert unpublished(runtime) == 0


def delayed_waiting(runtime: Runtime) -> int:
    """Delayed messages waiting in the broker for the review queue (its `.DQ`)."""
    broker, queue = runtime.broker, runtime.settings.queue("review")
    if isinstance(broker, RabbitmqBroker):
        return int(broker.get_queue_message_counts(queue)[1])
    return int(broker.client.llen(f"{broker.namespace}:{dq_name(queue)}"))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("horizon", "delayed"),
    [(3600, 4), (45, 2), (10, 0)],
    ids=["both-within-the-horizon", "only-the-reminders", "all-left-to-the-sweep"],
)
def test_only_deadlines_within_the_horizon_become_delayed_messages(stack, reviewers, horizon, delayed) -> None:  # type: ignore[no-untyped-def]
    """Two reviewers, each with a reminder in 30 s and a deadline in 60 s: a delayed message each, up to the horizon.

    Beyond the horizon nothing is sent: a worker would hold the message in memory until then, and the
    review worker's sweep acts on it when it is due (`tests/e2e/test_review_deadlines.py` shows that).
    """
    runtime = Runtime(
        stack.settings(review_deadline="60s", review_reminder="30s", deadline_message_horizon_seconds=horizon)
    )
    try:
        runtime.broker.declare_queue(runtime.settings.queue("review"))
        runtime.broker.flush(runtime.settings.queue("review"))
        with unit_of_work(runtime.session_factory) as session:
            created = submit_idea(
                session,
                Submission(title="Timed", problem="Slow.", idea="Quicker.", email="sub@example.gov.uk"),
                channel="api",
                departments=runtime.settings.departments,
            )
            payload = session.scalar(
                select(OutboxMessage.payload).where(
                    OutboxMessage.idea_id == created.id, OutboxMessage.event_type == "idea.received.v1"
                )
            )
        with unit_of_work(runtime.session_factory) as session:
            screening.screen_idea(session, IdeaReceivedV1.model_validate_json(payload), settings=runtime.settings)  # type: ignore[arg-type]
        while runtime.relay().run_once():
            pass
        assert delayed_waiting(runtime) == delayed
    finally:
        runtime.broker.flush(runtime.settings.queue("review"))
        runtime.close()


def test_on_postgresql_a_commit_wakes_the_relay_without_waiting_for_its_next_look(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = runtime.relay()
    if runtime.engine.dialect.name != "postgresql":
        assert relay.commits is None  # SQLite has no NOTIFY: the relay looks every IDEAHUB_RELAY_IDLE_MS
        return
    relay.run_once()  # what earlier tests left
    # Idle, it would look again only after 30 s: a commit must wake it.
    monkeypatch.setattr(relay_module, "COMMIT_WAIT_SECONDS", 30.0)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run_forever, args=(stop,), kwargs={"idle_seconds": 30})
    thread.start()
    try:
        time.sleep(1.5)  # past its first look, into its wait
        reference = submit(runtime, "Wakes the relay")
        committed = time.monotonic()
        wait_for(lambda: unpublished(runtime) == 0, timeout=10, what=f"{reference} to be published")
        assert time.monotonic() - committed < 2
    finally:
        stop.set()
        submit(runtime, "Wakes it to stop")
        thread.join(40)
    assert not thread.is_alive()


def test_a_relay_that_cannot_listen_says_so_and_falls_back_to_looking_every_idle_interval() -> None:
    commits = relay_module.OutboxCommits("postgresql://nobody@127.0.0.1:1/nothing")
    assert commits.wait(0.1) is False
    commits.close()
