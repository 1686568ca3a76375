"""A batched stage actor: deliveries that arrive together are handled together, each still on its own terms.

These drive `GroupCommit` and the exactly-once core (`handle_once`) with real threads and a real (SQLite) database; the
delivery by a real broker and worker is in test_batched_screening.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import pytest
from dramatiq.broker import MessageProxy
from sqlalchemy import select

from infra.composition import Runtime
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from shared.bus.exactly_once import Delivery, handle_once
from shared.config import Settings
from shared.db.models import FailedMessage, OutboxMessage, ProcessedMessage
from shared.db.uow import unit_of_work
from shared.errors import PermanentError
from shared.worker.declare import StageActor, StageContext
from shared.worker.group_commit import GroupCommit
from shared.worker.stage import RecordFinalFailures, consumer_of

CONSUMER = "test.grouped"


@dataclass
class Recorder:
    """A batched handler that notes each batch it is given, and can be held or made to fail."""

    batches: list[list[str]] = field(default_factory=list)
    hold: threading.Event | None = None  # the first batch waits for it
    entered: threading.Event = field(default_factory=threading.Event)
    refuse: str | None = None  # a batch holding this reference is refused for good
    broken: bool = False  # every batch fails as if the database had gone away

    def __call__(self, session: Any, events: list[Any], ctx: StageContext) -> None:
        self.batches.append([event.idea_reference for event in events])
        if not self.entered.is_set():
            self.entered.set()
            if self.hold is not None:
                assert self.hold.wait(10)
        if self.broken:
            raise ConnectionError("the database went away")
        if self.refuse in self.batches[-1]:
            raise PermanentError(f"{self.refuse} cannot be handled")


@pytest.fixture
def runtime(sqlite_settings: Settings) -> Runtime:
    return Runtime(sqlite_settings)


def received(runtime: Runtime, count: int) -> list[dict[str, Any]]:
    """`count` new ideas' idea.received payloads, as the relay would deliver them."""
    payloads = []
    for n in range(count):
        with unit_of_work(runtime.session_factory) as session:
            created = submit_idea(
                session,
                Submission(title=f"Idea {n}", problem="P", idea="I", email="someone@example.gov.uk"),
                channel="api",
                departments=runtime.settings.departments,
            )
            payloads.append(
                json.loads(session.scalar(select(OutboxMessage.payload).where(OutboxMessage.idea_id == created.id)))
            )
    return payloads


def stage_of(recorder: Recorder) -> StageActor:
    return StageActor(fn=recorder, actor_name=CONSUMER, queue="test", batched=True)


def processed(runtime: Runtime) -> set[str]:
    with unit_of_work(runtime.session_factory) as session:
        ids = session.scalars(select(ProcessedMessage.event_id).where(ProcessedMessage.consumer == CONSUMER))
        return {str(event_id) for event_id in ids}


def failed(runtime: Runtime) -> list[str]:
    with unit_of_work(runtime.session_factory) as session:
        return [
            str(f) for f in session.scalars(select(FailedMessage.event_id).where(FailedMessage.consumer == CONSUMER))
        ]


def wait_until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_deliveries_that_arrive_while_one_is_handled_are_handled_together_and_each_waits_for_its_own(
    runtime: Runtime,
) -> None:
    payloads = received(runtime, 4)
    recorder = Recorder(hold=threading.Event())
    group = GroupCommit(consumer_of(stage_of(recorder), StageContext(runtime.settings)), runtime.session_factory)
    outcomes: dict[int, BaseException | None] = {}

    def deliver(n: int) -> None:
        try:
            group(payloads[n])
            outcomes[n] = None
        except BaseException as exc:
            outcomes[n] = exc

    first = threading.Thread(target=deliver, args=(0,))
    first.start()
    assert recorder.entered.wait(10)
    others = [threading.Thread(target=deliver, args=(n,)) for n in (1, 2, 3)]
    for thread in others:
        thread.start()
    wait_until(lambda: group.queued == 3)
    time.sleep(0.1)
    assert all(thread.is_alive() for thread in [first, *others]), "a delivery returned before it was handled"

    recorder.hold.set()  # type: ignore[union-attr]
    for thread in [first, *others]:
        thread.join(10)
    references = [p["idea_reference"] for p in payloads]
    assert recorder.batches == [references[:1], references[1:]]
    assert outcomes == {0: None, 1: None, 2: None, 3: None}
    assert processed(runtime) == {p["event_id"] for p in payloads}


def test_a_delivery_alone_is_handled_at_once_as_a_batch_of_one(runtime: Runtime) -> None:
    payloads = received(runtime, 2)
    recorder = Recorder()
    group = GroupCommit(consumer_of(stage_of(recorder), StageContext(runtime.settings)), runtime.session_factory)
    group(payloads[0])
    group(payloads[1])
    assert recorder.batches == [[payloads[0]["idea_reference"]], [payloads[1]["idea_reference"]]]


def test_an_event_refused_in_a_batch_is_recorded_alone_and_the_others_are_handled(runtime: Runtime) -> None:
    payloads = received(runtime, 3)
    bad = payloads[1]["idea_reference"]
    recorder = Recorder(refuse=bad)
    deliveries = [Delivery(p) for p in payloads]
    handle_once(consumer_of(stage_of(recorder), StageContext(runtime.settings)), runtime.session_factory, deliveries)

    references = [p["idea_reference"] for p in payloads]
    assert recorder.batches == [references, *([r] for r in references)]  # together, then each alone
    for delivery in deliveries:
        delivery.outcome()  # none raises: a refusal is recorded, not retried
    # All three are handled: two by their effect, the refused one by its failure record, so that a
    # redelivery leaves it to an administrator rather than failing it again.
    assert processed(runtime) == {p["event_id"] for p in payloads}
    assert failed(runtime) == [payloads[1]["event_id"]]
    handle_once(
        consumer_of(stage_of(recorder), StageContext(runtime.settings)),
        runtime.session_factory,
        [Delivery(payloads[1])],
    )
    assert failed(runtime) == [payloads[1]["event_id"]]  # redelivered: not tried, not failed again


def test_when_a_batch_fails_for_a_passing_reason_every_delivery_raises_it_for_the_broker_to_retry(
    runtime: Runtime,
) -> None:
    payloads = received(runtime, 3)
    deliveries = [Delivery(p) for p in payloads]
    broken = consumer_of(stage_of(Recorder(broken=True)), StageContext(runtime.settings))
    handle_once(broken, runtime.session_factory, deliveries)
    for delivery in deliveries:
        with pytest.raises(ConnectionError):
            delivery.outcome()
    assert processed(runtime) == set()
    assert failed(runtime) == []


def test_an_event_handled_before_is_left_out_of_the_batch_and_a_malformed_one_is_recorded(runtime: Runtime) -> None:
    payloads = received(runtime, 3)
    recorder = Recorder()
    ctx = StageContext(runtime.settings)
    handle_once(consumer_of(stage_of(recorder), ctx), runtime.session_factory, [Delivery(payloads[0])])
    malformed = {"type": "idea.received.v1", "event_id": "not a uuid"}
    deliveries = [Delivery(p) for p in (payloads[0], malformed, payloads[1], payloads[2])]
    handle_once(consumer_of(stage_of(recorder), ctx), runtime.session_factory, deliveries)

    references = [p["idea_reference"] for p in payloads]
    assert recorder.batches == [references[:1], references[1:]]
    for delivery in deliveries:
        delivery.outcome()
    assert processed(runtime) == {p["event_id"] for p in payloads}
    with unit_of_work(runtime.session_factory) as session:
        errors = session.scalars(select(FailedMessage.error).where(FailedMessage.consumer == CONSUMER)).all()
    assert len(errors) == 1
    assert errors[0].startswith("malformed event")


def test_a_grouped_message_that_failed_for_good_is_recorded_event_by_event(runtime: Runtime) -> None:
    payloads = received(runtime, 2)
    message = MessageProxy(
        dramatiq.Message(queue_name="test", actor_name=CONSUMER, args=(payloads,), kwargs={}, options={})
    )
    message.fail()  # dramatiq's Retries gave up on it
    RecordFinalFailures(runtime.session_factory).after_process_message(
        runtime.broker, message, exception=ConnectionError("the database went away")
    )
    assert sorted(failed(runtime)) == sorted(p["event_id"] for p in payloads)


def test_a_message_holding_a_list_waits_for_all_its_events_and_raises_the_first_error(runtime: Runtime) -> None:
    payloads = received(runtime, 3)
    recorder = Recorder()
    group = GroupCommit(consumer_of(stage_of(recorder), StageContext(runtime.settings)), runtime.session_factory)
    group(payloads[:2])
    group(payloads[2])  # a single event, as a message queued before the relay grouped them
    references = [p["idea_reference"] for p in payloads]
    assert recorder.batches == [references[:2], references[2:]]
    broken = GroupCommit(
        consumer_of(stage_of(Recorder(broken=True)), StageContext(runtime.settings)), runtime.session_factory
    )
    with pytest.raises(ConnectionError):
        broken(received(runtime, 2))
