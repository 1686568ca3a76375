"""Screening several ideas at once: the same outcome as one after another, for less work, on real workers."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from sqlalchemy import event, func, select

from infra import people
from infra.composition import Runtime, queue_names
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.review import screening
from shared.contracts.events import IdeaReceivedV1, parse_event
from shared.db.models import DuplicateCandidate, Idea, OutboxMessage, ProcessedMessage, ReviewTask
from shared.db.uow import unit_of_work
from tests.helpers import wait_for

REVIEWERS = [f"batch.reviewer{n}@example.gov.uk" for n in (1, 2, 3)]
TEXT = (
    "Numbered tickets at the housing office front desk",
    "Residents queue for an hour at the housing office without knowing who is next, and arguments start.",
    "Hand out numbered tickets at the door and show the current number on a screen above the counters.",
)
NEAR_COPY = (
    "Numbered tickets at the housing office front desk",
    "Residents wait an hour at the housing office without knowing who is next, and arguments begin.",
    "Hand out numbered tickets at the door and show the number being served on a screen above the counters.",
)


@pytest.fixture(scope="module")
def reviewers(stack) -> None:  # type: ignore[no-untyped-def]
    settings = stack.settings()
    for n, email in enumerate(REVIEWERS):
        people.add(settings, email=email, name=f"Batch Reviewer {n}", role="reviewer")


@pytest.fixture
def runtime(stack, reviewers) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    rt = Runtime(stack.settings())
    yield rt
    rt.close()


def submitted(runtime: Runtime, texts: list[tuple[str, str, str]]) -> list[IdeaReceivedV1]:
    events = []
    for title, problem, idea in texts:
        with unit_of_work(runtime.session_factory) as session:
            created = submit_idea(
                session,
                Submission(title=title, problem=problem, idea=idea, email="staff@example.gov.uk"),
                channel="api",
                departments=runtime.settings.departments,
            )
            payload = session.scalar(select(OutboxMessage.payload).where(OutboxMessage.idea_id == created.id))
        events.append(IdeaReceivedV1.model_validate_json(payload))  # type: ignore[arg-type]
    return events


def unrelated(n: int, tag: str) -> tuple[str, str, str]:
    return (f"Idea {tag} {n}", f"Problem {tag}{n} words{n} alpha{n}", f"Proposal {tag}{n} beta{n} gamma{n}")


def screen_together(runtime: Runtime, events: list[IdeaReceivedV1]) -> None:
    with unit_of_work(runtime.session_factory) as session:
        screening.screen_ideas(session, events, settings=runtime.settings)


def test_a_batch_is_screened_as_the_same_ideas_would_be_one_after_another(runtime: Runtime) -> None:
    texts = [unrelated(n, "spread") for n in range(11)]
    texts.insert(3, TEXT)
    texts.append(NEAR_COPY)  # its original is earlier in the same batch, not yet indexed when the batch began
    events = submitted(runtime, texts)
    screen_together(runtime, events)

    ids = [e.idea_id for e in events]
    with unit_of_work(runtime.session_factory) as session:
        statuses = set(session.scalars(select(Idea.status).where(Idea.id.in_(ids))))
        tasks = session.execute(select(ReviewTask.id, ReviewTask.idea_id, ReviewTask.reviewer_id)).all()
        candidates = session.execute(
            select(DuplicateCandidate.idea_id, DuplicateCandidate.other_idea_id).where(
                DuplicateCandidate.idea_id.in_(ids)
            )
        ).all()
        outbox = [
            parse_event(p) for p in session.scalars(select(OutboxMessage.payload).where(OutboxMessage.idea_id.in_(ids)))
        ]
    assert statuses == {"in_review"}
    # Each pick counted what the batch had already given: 13 ideas x 2 reviewers spread over 3 (9, 9, 8),
    # where a pool that forgot them would have given every idea to the same two.
    per_reviewer = Counter(t.reviewer_id for t in tasks if t.idea_id in ids)
    assert sorted(per_reviewer.values()) == [8, 9, 9]
    assert Counter(t.idea_id for t in tasks if t.idea_id in ids) == dict.fromkeys(ids, 2)
    assert [(c.idea_id, c.other_idea_id) for c in candidates] == [(ids[-1], ids[3])]
    # Each idea's status change, then its two assignments naming its own tasks.
    task_of = {(t.idea_id, t.reviewer_id): t.id for t in tasks}
    for e in events:
        mine = [o for o in outbox if o.idea_id == e.idea_id and o.type != "idea.received.v1"]
        assert [o.type for o in mine] == ["idea.status_changed.v1", "review.assigned.v1", "review.assigned.v1"]
        assert all(o.causation_id == e.event_id for o in mine)
        assert {o.task_id for o in mine[1:]} == {task_of[e.idea_id, o.reviewer_id] for o in mine[1:]}  # type: ignore[attr-defined]


def test_screening_a_batch_takes_the_same_statements_as_one_idea_on_postgresql(runtime: Runtime) -> None:
    statements: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = runtime.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        counts = []
        for size in (1, 8):
            events = submitted(runtime, [unrelated(n, f"count{size}") for n in range(size)])
            statements.clear()
            screen_together(runtime, events)
            counts.append(len(statements))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    if engine.dialect.name == "postgresql":
        assert counts[1] == counts[0]
    else:  # SQLite, in-process and without LATERAL, reads each idea's duplicate candidates apart
        assert counts[1] == counts[0] + 7


def review_messages(runtime: Runtime) -> list[Any]:
    """The messages waiting on the review queue, taken off it."""
    consumer = runtime.broker.consume(runtime.settings.queue("review"), prefetch=100, timeout=500)
    messages = []
    try:
        for message in consumer:
            if message is None:
                break
            messages.append(message)
            consumer.ack(message)
    finally:
        consumer.close()
    return messages


def test_the_relay_sends_a_passes_events_for_a_batched_actor_together_in_outbox_order(runtime: Runtime) -> None:
    while runtime.relay().run_once():  # what earlier tests left in the outbox goes first
        pass
    review_messages(runtime)
    events = submitted(runtime, [unrelated(n, "relayed") for n in range(5)])
    runtime.relay().run_once()
    (message,) = [m for m in review_messages(runtime) if m.actor_name == "review.screen_idea"]
    assert [p["event_id"] for p in message.args[0]] == [str(e.event_id) for e in events]

    submitted(runtime, [unrelated(n, "capped") for n in range(5)])
    relay = runtime.relay()
    relay.routes = {
        kind: [dataclasses.replace(r, batch=2) if r.batch else r for r in routes]
        for kind, routes in relay.routes.items()
    }
    relay.run_once()
    sizes = [len(m.args[0]) for m in review_messages(runtime) if m.actor_name == "review.screen_idea"]
    assert sizes == [2, 2, 1]


def test_a_backlog_of_single_messages_on_the_real_broker_is_screened_in_fewer_transactions_than_ideas(
    runtime: Runtime,
) -> None:
    events = submitted(runtime, [unrelated(n, "backlog") for n in range(24)])
    ids = [e.idea_id for e in events]
    # One outbox row a pass: one event a message, so that only the workers' group commit can join them.
    one_by_one = Runtime(runtime.settings.model_copy(update={"relay_batch": 1}))
    relay = one_by_one.relay()
    while relay.run_once():
        pass
    one_by_one.close()

    runtime.register_stages(["review"])
    worker = dramatiq.Worker(
        runtime.broker, queues=set(queue_names(runtime.settings, ["review"])), worker_threads=4, worker_timeout=20
    )
    worker.start()
    try:

        def screened() -> bool:
            with unit_of_work(runtime.session_factory) as session:
                count = session.scalar(select(func.count()).where(Idea.id.in_(ids), Idea.status == "in_review"))
            return count == len(ids)

        wait_for(screened, what="the backlog to be screened")
    finally:
        worker.stop(timeout=10_000)

    received = {e.event_id for e in events}
    with unit_of_work(runtime.session_factory) as session:
        handled = session.execute(
            select(ProcessedMessage.event_id, ProcessedMessage.processed_at).where(
                ProcessedMessage.consumer == "review.screen_idea"
            )
        ).all()
        tasks = Counter(session.scalars(select(ReviewTask.idea_id).where(ReviewTask.idea_id.in_(ids))))
    mine = [h for h in handled if h.event_id in received]
    assert len(mine) == len(events)
    transactions = len({h.processed_at for h in mine})  # one time for every event a transaction records
    assert transactions < len(events)
    assert tasks == dict.fromkeys(ids, 2)
