"""The idea lifecycle: every ordered pair of statuses, as a rule and as a write to a real SQLite database.

The expected graph is written out here from the specification, not derived from `lifecycle.TRANSITIONS`,
so that a change to the code's graph shows up as a failing pair.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import insert, select

from shared import lifecycle
from shared.clock import utcnow
from shared.contracts.events import IdeaStatusChangedV1, parse_event
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrate import upgrade
from shared.db.models import Idea, OutboxMessage, StatusChange
from shared.db.uow import unit_of_work
from shared.errors import IllegalTransition, NotFound, StaleStatus

STATUSES = [
    "received",
    "in_review",
    "needs_info",
    "matching",
    "unmatched",
    "incubating",
    "implemented",
    "closed",
    "rejected",
    "duplicate",
    "withdrawn",
]
FINALS = {"implemented", "closed", "rejected", "duplicate", "withdrawn"}
FORWARD = {
    "received": {"in_review"},
    "in_review": {"needs_info", "matching", "rejected", "duplicate"},
    "needs_info": {"in_review"},
    "matching": {"incubating", "unmatched"},
    "unmatched": {"matching", "incubating", "closed"},
    "incubating": {"implemented", "closed"},
}
LEGAL = {(source, target) for source, targets in FORWARD.items() for target in targets} | {
    (source, "withdrawn") for source in STATUSES if source not in FINALS
}
ALL_PAIRS = list(itertools.product(STATUSES, STATUSES))
LEGAL_PAIRS = [pair for pair in ALL_PAIRS if pair in LEGAL]
ILLEGAL_PAIRS = [pair for pair in ALL_PAIRS if pair not in LEGAL]


def pair_id(pair: tuple[str, str]) -> str:
    return f"{pair[0]}->{pair[1]}"


def test_the_statuses_are_the_eleven_of_the_specification():
    assert [status.value for status in lifecycle.Status] == STATUSES


def test_the_final_statuses_are_implemented_closed_rejected_duplicate_and_withdrawn():
    assert {status.value for status in lifecycle.FINAL} == FINALS


def test_a_new_idea_starts_as_received():
    assert lifecycle.INITIAL == "received"


def test_the_expected_graph_has_nineteen_legal_moves():
    # 13 forward moves plus a withdrawal from each of the 6 statuses that are not final
    # (a guard on the table above, so that a typo in it cannot go unnoticed).
    assert len(LEGAL) == 19
    assert len(ALL_PAIRS) == 121


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[pair_id(p) for p in ALL_PAIRS])
def test_is_allowed_follows_the_lifecycle_graph(current, target):
    assert lifecycle.is_allowed(current, target) is ((current, target) in LEGAL)
    assert lifecycle.is_allowed(lifecycle.Status(current), lifecycle.Status(target)) is ((current, target) in LEGAL)


@pytest.mark.parametrize(("current", "target"), LEGAL_PAIRS, ids=[pair_id(p) for p in LEGAL_PAIRS])
def test_ensure_allowed_accepts_a_legal_move(current, target):
    lifecycle.ensure_allowed(current, target)


@pytest.mark.parametrize(("current", "target"), ILLEGAL_PAIRS, ids=[pair_id(p) for p in ILLEGAL_PAIRS])
def test_ensure_allowed_refuses_an_illegal_move_naming_both_statuses(current, target):
    with pytest.raises(IllegalTransition) as raised:
        lifecycle.ensure_allowed(lifecycle.Status(current), lifecycle.Status(target))
    message = str(raised.value)
    assert f"from {current} to {target}" in message
    assert (raised.value.current, raised.value.target) == (current, target)


@pytest.mark.parametrize("final", sorted(FINALS))
def test_a_final_status_goes_nowhere(final):
    assert not any(lifecycle.is_allowed(final, target) for target in STATUSES)


def test_an_unknown_status_is_not_a_status():
    with pytest.raises(ValueError, match="archived"):
        lifecycle.is_allowed("received", "archived")


# --- transition() against a real, migrated SQLite database ------------------------------------------------------


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    """One migrated database for the module; every test inserts its own idea, so tests do not interfere."""
    url = f"sqlite:///{tmp_path_factory.mktemp('lifecycle') / 'ideahub.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def insert_idea(factory, status: str) -> int:
    now = utcnow()
    token = uuid.uuid4().hex
    with unit_of_work(factory) as session:
        return session.execute(
            insert(Idea)
            .values(
                status=status,
                title="Shorter queues at the front desk",
                problem="People wait an hour to be seen.",
                proposal="Give out numbered tickets.",
                status_token=token,
                channel="api",
                correlation_id=uuid.uuid4(),
                reference=f"IH-{token[:12].upper()}",
                created_at=now,
                updated_at=now,
                version=1,
            )
            .returning(Idea.id)
        ).scalar_one()


@dataclass(frozen=True)
class Footprint:
    """Everything a transition may write about one idea."""

    status: str
    version: int
    updated_at: datetime
    history: list[tuple[str | None, str]]
    outbox: list[tuple[str, str]]


def footprint(session, idea_id: int) -> Footprint:
    idea = session.execute(select(Idea.status, Idea.version, Idea.updated_at).where(Idea.id == idea_id)).one()
    history = session.execute(
        select(StatusChange.from_status, StatusChange.to_status)
        .where(StatusChange.idea_id == idea_id)
        .order_by(StatusChange.id)
    ).all()
    outbox = session.execute(
        select(OutboxMessage.event_type, OutboxMessage.payload)
        .where(OutboxMessage.idea_id == idea_id)
        .order_by(OutboxMessage.id)
    ).all()
    return Footprint(
        idea.status, idea.version, idea.updated_at, [tuple(h) for h in history], [tuple(o) for o in outbox]
    )


def read_footprint(factory, idea_id: int) -> Footprint:
    with factory() as session:
        return footprint(session, idea_id)


@pytest.mark.parametrize(("current", "target"), LEGAL_PAIRS, ids=[pair_id(p) for p in LEGAL_PAIRS])
def test_a_legal_transition_updates_the_status_and_records_history_and_an_event(factory, current, target):
    idea_id = insert_idea(factory, current)

    with unit_of_work(factory) as session:
        event = lifecycle.transition(
            session, lifecycle.load(session, idea_id), lifecycle.Status(target), reason="because", actor="tester"
        )

    after = read_footprint(factory, idea_id)
    assert after.status == target
    assert after.version == 2
    assert after.history == [(current, target)]
    assert len(after.outbox) == 1
    event_type, payload = after.outbox[0]
    assert event_type == "idea.status_changed.v1"
    published = parse_event(payload)
    assert published == event
    assert (published.idea_id, published.from_status, published.to_status) == (idea_id, current, target)
    assert (published.reason, published.actor) == ("because", "tester")


@pytest.mark.parametrize(("current", "target"), ILLEGAL_PAIRS, ids=[pair_id(p) for p in ILLEGAL_PAIRS])
def test_an_illegal_transition_raises_and_changes_nothing(factory, current, target):
    idea_id = insert_idea(factory, current)
    before = read_footprint(factory, idea_id)
    seen_inside: list[Footprint] = []

    def attempt() -> None:
        with unit_of_work(factory) as session:
            try:
                lifecycle.transition(session, lifecycle.load(session, idea_id), lifecycle.Status(target))
            finally:
                seen_inside.append(footprint(session, idea_id))

    with pytest.raises(IllegalTransition, match=f"from {current} to {target}"):
        attempt()

    assert seen_inside == [before], "transition() wrote something before refusing the move"
    assert read_footprint(factory, idea_id) == before


def test_a_stale_idea_state_raises_stale_status_and_changes_nothing(factory):
    idea_id = insert_idea(factory, "in_review")
    with factory() as session:
        stale = lifecycle.load(session, idea_id)
    with unit_of_work(factory) as session:  # another writer gets there first
        lifecycle.transition(session, lifecycle.load(session, idea_id), lifecycle.Status.NEEDS_INFO)
    before = read_footprint(factory, idea_id)

    def attempt() -> None:
        with unit_of_work(factory) as session:
            lifecycle.transition(session, stale, lifecycle.Status.MATCHING)

    with pytest.raises(StaleStatus, match="in_review"):
        attempt()

    after = read_footprint(factory, idea_id)
    assert after == before
    assert after.status == "needs_info"
    assert after.history == [("in_review", "needs_info")]
    assert len(after.outbox) == 1


def test_loading_an_idea_that_does_not_exist_raises_not_found(factory):
    with factory() as session, pytest.raises(NotFound, match="999999"):
        lifecycle.load(session, 999_999)


def test_load_by_reference_finds_the_same_idea(factory):
    idea_id = insert_idea(factory, "matching")
    with factory() as session:
        by_id = lifecycle.load(session, idea_id)
        assert lifecycle.load_by_reference(session, by_id.reference) == by_id
    assert by_id.status is lifecycle.Status.MATCHING


# --- transition_many(): several ideas in one go -----------------------------------------------------------------


def test_several_moves_are_made_each_with_its_history_and_its_events_in_order(factory):
    received = [insert_idea(factory, "received") for _ in range(3)]
    reviewed = insert_idea(factory, "in_review")
    with unit_of_work(factory) as session:
        moves = [
            lifecycle.Move(lifecycle.load(session, i), lifecycle.Status.IN_REVIEW, reason=f"r{i}") for i in received
        ]
        moves.append(lifecycle.Move(lifecycle.load(session, reviewed), lifecycle.Status.REJECTED, reasons=("weak",)))
        events = lifecycle.transition_many(session, moves)

    assert [(e.idea_id, e.to_status) for e in events] == [(i, "in_review") for i in received] + [(reviewed, "rejected")]
    for idea_id, event in zip([*received, reviewed], events, strict=True):
        after = read_footprint(factory, idea_id)
        assert after.status == event.to_status
        assert after.version == 2
        assert after.history == [(event.from_status, event.to_status)]
        assert [parse_event(payload) for _, payload in after.outbox] == [event]
    assert events[0].reason == f"r{received[0]}"
    assert events[-1].reasons == ["weak"]


def test_the_events_a_move_brings_follow_its_status_change(factory):
    idea_id = insert_idea(factory, "received")
    with unit_of_work(factory) as session:
        idea = lifecycle.load(session, idea_id)
        extra = IdeaStatusChangedV1(
            idea_id=idea_id, idea_reference=idea.reference, correlation_id=idea.correlation_id, from_status="x",
            to_status="y",
        )  # fmt: skip
        (event,) = lifecycle.transition_many(
            session, [lifecycle.Move(idea, lifecycle.Status.IN_REVIEW, with_events=[extra])]
        )
    assert [parse_event(payload) for _, payload in read_footprint(factory, idea_id).outbox] == [event, extra]


def test_one_illegal_move_among_several_writes_nothing(factory):
    ideas = [insert_idea(factory, "received"), insert_idea(factory, "implemented")]
    before = [read_footprint(factory, i) for i in ideas]
    seen_inside: list[list[Footprint]] = []

    def attempt() -> None:
        with unit_of_work(factory) as session:
            states = [lifecycle.load(session, i) for i in ideas]
            try:
                lifecycle.transition_many(session, [lifecycle.Move(s, lifecycle.Status.IN_REVIEW) for s in states])
            finally:
                seen_inside.append([footprint(session, i) for i in ideas])

    with pytest.raises(IllegalTransition, match="from implemented to in_review"):
        attempt()
    assert seen_inside == [before], "transition_many() wrote something before refusing a move"
    assert [read_footprint(factory, i) for i in ideas] == before


def test_one_stale_move_among_several_raises_and_the_unit_of_work_keeps_none_of_them(factory):
    fresh, raced = insert_idea(factory, "received"), insert_idea(factory, "received")
    with factory() as session:
        states = [lifecycle.load(session, fresh), lifecycle.load(session, raced)]
    with unit_of_work(factory) as session:  # another writer moves one of them first
        lifecycle.transition(session, lifecycle.load(session, raced), lifecycle.Status.WITHDRAWN)
    before = [read_footprint(factory, i) for i in (fresh, raced)]

    def attempt() -> None:
        with unit_of_work(factory) as session:
            lifecycle.transition_many(session, [lifecycle.Move(s, lifecycle.Status.IN_REVIEW) for s in states])

    with pytest.raises(StaleStatus, match="no longer received"):
        attempt()
    assert [read_footprint(factory, i) for i in (fresh, raced)] == before
    assert before[0].status == "received"


def test_load_many_with_text_reads_several_ideas_and_leaves_out_missing_ones(factory):
    ideas = [insert_idea(factory, "received"), insert_idea(factory, "matching")]
    with factory() as session:
        found = lifecycle.load_many_with_text(session, [*ideas, 999_999])
        assert set(found) == set(ideas)
        state, text = found[ideas[1]]
        assert state == lifecycle.load(session, ideas[1])
        assert text == (
            "Shorter queues at the front desk",
            "People wait an hour to be seen.",
            "Give out numbered tickets.",
        )
