"""The states of review tasks, questions, offers and notifications: every ordered pair, as a rule and as a write.

As for the idea lifecycle (test_lifecycle.py), the expected moves are written out here from the product rules
(docs/review.md, docs/matching.md, docs/notifications.md), not derived from the code's tables, so that a change
to a table shows up as a failing pair. Each legal move is then made by `StateMachine.update` and `claim` on a
real SQLite database: the row moves once, and a second writer that read the same state changes nothing.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrate import upgrade
from shared.db.models import (
    NOTIFICATION,
    OFFER,
    QUESTION,
    TASK,
    Idea,
    Notification,
    Offer,
    Person,
    Question,
    ReviewTask,
    TaskState,
)
from shared.db.states import IllegalStateChange, StateMachine, claim


@dataclass(frozen=True)
class Expected:
    machine: StateMachine[Any]
    states: list[str]
    moves: dict[str, set[str]]
    initial: set[str]
    table: Table


EXPECTED = {
    "review task": Expected(
        TASK,
        ["open", "asked", "done", "declined", "replaced", "expired", "cancelled"],
        {
            # A review, a question, handing it back, lateness with no review in (replaced) or with some
            # (expired), the idea leaving review (cancelled).
            "open": {"asked", "done", "declined", "replaced", "expired", "cancelled"},
            # The idea is back from the question; or the deadline, or the idea's end, closes it while it waits.
            "asked": {"open", "replaced", "expired", "cancelled"},
        },
        {"open"},
        ReviewTask.__table__,
    ),
    "question": Expected(
        QUESTION, ["open", "answered", "expired"], {"open": {"answered", "expired"}}, {"open"}, Question.__table__
    ),
    "sponsorship offer": Expected(
        OFFER,
        ["open", "accepted", "declined", "expired"],
        {"open": {"accepted", "declined", "expired"}},
        {"open"},
        Offer.__table__,
    ),
    "notification": Expected(
        NOTIFICATION,
        ["pending", "sending", "sent", "failed", "unconfirmed", "skipped"],
        {
            # Claimed just before it leaves; or failed for good before that (the server refused the recipient).
            "pending": {"sending", "failed"},
            # Delivered; a temporary failure; a permanent one; the worker died mid-send (email: unconfirmed;
            # a file or webhook: sent again).
            "sending": {"sent", "pending", "failed", "unconfirmed"},
            # An administrator resends.
            "failed": {"pending"},
            "unconfirmed": {"pending"},
        },
        {"pending", "sent", "skipped"},
        Notification.__table__,
    ),
}
PAIRS = [
    (kind, current, target)
    for kind, expected in EXPECTED.items()
    for current, target in itertools.product(expected.states, expected.states)
]
LEGAL = [(k, c, t) for k, c, t in PAIRS if t in EXPECTED[k].moves.get(c, set())]
ILLEGAL = [(k, c, t) for k, c, t in PAIRS if c != t and t not in EXPECTED[k].moves.get(c, set())]


def pair_id(pair: tuple[str, str, str]) -> str:
    return f"{pair[0]}:{pair[1]}->{pair[2]}"


@pytest.mark.parametrize("kind", EXPECTED)
def test_each_kind_has_exactly_the_states_of_its_rules(kind: str) -> None:
    expected = EXPECTED[kind]
    assert expected.machine.what == kind
    assert [state.value for state in expected.machine.moves] == expected.states
    assert {state.value for state in expected.machine.initial} == expected.initial
    final = {state for state in expected.states if not expected.moves.get(state)}
    assert {state.value for state in expected.machine.final} == final


@pytest.mark.parametrize(("kind", "current", "target"), PAIRS, ids=[pair_id(p) for p in PAIRS])
def test_allowed_follows_the_rules(kind: str, current: str, target: str) -> None:
    machine = EXPECTED[kind].machine
    enum = type(next(iter(machine.moves)))
    assert machine.allowed(enum(current), enum(target)) == (target in EXPECTED[kind].moves.get(current, set()))


@pytest.mark.parametrize(("kind", "current", "target"), ILLEGAL, ids=[pair_id(p) for p in ILLEGAL])
def test_an_illegal_move_is_refused_before_any_statement_is_built(kind: str, current: str, target: str) -> None:
    expected = EXPECTED[kind]
    enum = type(next(iter(expected.machine.moves)))
    with pytest.raises(IllegalStateChange, match=f"a {kind} cannot go from {current} to {target}"):
        expected.machine.update(expected.table, enum(current), enum(target))


def test_a_move_from_several_states_is_refused_if_any_of_them_may_not_make_it() -> None:
    with pytest.raises(IllegalStateChange, match="from done to expired"):
        TASK.update(ReviewTask.__table__, [TaskState.OPEN, TaskState.DONE], TaskState.EXPIRED)


def test_a_machine_must_give_every_state_its_row_of_moves() -> None:
    class Light(StrEnum):
        RED = "red"
        GREEN = "green"

    with pytest.raises(ValueError, match="needs its row of moves"):
        StateMachine("light", {Light.RED: {Light.GREEN}}, initial={Light.RED})


# --- the moves, made on a real database -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path_factory.mktemp('states') / 'states.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def _row(session: Session, kind: str, state: str) -> int:
    """A row of this kind in `state`, with the idea and the person it needs; its id."""
    now = utcnow()
    connection = session.connection()
    idea_id = connection.execute(
        insert(Idea.__table__).returning(Idea.__table__.c.id),
        {
            "reference": f"IH-T-{uuid.uuid4().hex[:8]}",
            "status": "in_review",
            "title": "t",
            "problem": "p",
            "proposal": "i",
            "status_token": uuid.uuid4().hex,
            "channel": "api",
            "correlation_id": uuid.uuid4(),
            "anonymous": False,
            "version": 1,
        },
    ).scalar_one()
    person_id = connection.execute(
        insert(Person.__table__).returning(Person.__table__.c.id),
        {"email": f"{uuid.uuid4().hex[:8]}@example.gov.uk", "name": "P", "role": "reviewer", "capacity": 3},
    ).scalar_one()
    due = now + timedelta(days=1)
    values: dict[str, dict[str, Any]] = {
        "review task": {"idea_id": idea_id, "reviewer_id": person_id, "due_at": due},
        "question": {"idea_id": idea_id, "text": "Why?", "due_at": due},
        "sponsorship offer": {
            "idea_id": idea_id,
            "sponsor_id": person_id,
            "rank": 1,
            "score": 0.5,
            "reasons": [],
            "due_at": due,
        },
        "notification": {
            "event_id": uuid.uuid4(),
            "idea_id": idea_id,
            "recipient": "a@example.gov.uk",
            "channel": "email",
            "template": "t",
            "subject": "s",
        },
    }
    table = EXPECTED[kind].table
    return int(connection.execute(insert(table).returning(table.c.id), {**values[kind], "state": state}).scalar_one())


@pytest.mark.parametrize(("kind", "current", "target"), LEGAL, ids=[pair_id(p) for p in LEGAL])
def test_a_legal_move_changes_the_row_once_and_a_second_writer_changes_nothing(
    session: Session, kind: str, current: str, target: str
) -> None:
    expected = EXPECTED[kind]
    enum = type(next(iter(expected.machine.moves)))
    table = expected.table
    row_id = _row(session, kind, current)
    move = expected.machine.update(table, enum(current), enum(target), table.c.id == row_id)
    assert claim(session, move) == 1
    assert claim(session, move) == 0  # whoever read the same state second finds it gone
    assert session.connection().execute(select(table.c.state).where(table.c.id == row_id)).scalar_one() == target
    session.rollback()


def test_staying_in_a_state_is_a_conditional_update_of_other_columns(session: Session) -> None:
    table = ReviewTask.__table__
    row_id = _row(session, "review task", "open")
    now = utcnow()
    remind = TASK.update(
        table, TaskState.OPEN, TaskState.OPEN, table.c.id == row_id, table.c.reminded_at.is_(None), reminded_at=now
    )
    assert claim(session, remind) == 1
    assert claim(session, remind) == 0  # reminded once
    session.rollback()
