"""The idea lifecycle of SPEC section 2, as data, and `transition()`: the only writer of an idea's status.

A transition is checked against `TRANSITIONS`; an illegal one raises IllegalTransition
before anything is written. The update is conditional on the status that was read,
so two workers racing on one idea cannot both move it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from shared.bus import outbox
from shared.clock import utcnow
from shared.contracts.events import EventBase, IdeaStatusChangedV1
from shared.db.models import Idea, StatusChange
from shared.db.states import claim
from shared.errors import IllegalTransition, NotFound, StaleStatus


class Status(StrEnum):
    RECEIVED = "received"
    IN_REVIEW = "in_review"
    NEEDS_INFO = "needs_info"
    MATCHING = "matching"
    UNMATCHED = "unmatched"
    INCUBATING = "incubating"
    IMPLEMENTED = "implemented"
    CLOSED = "closed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    WITHDRAWN = "withdrawn"


INITIAL = Status.RECEIVED
FINAL = frozenset({Status.IMPLEMENTED, Status.CLOSED, Status.REJECTED, Status.DUPLICATE, Status.WITHDRAWN})

_FORWARD: dict[Status, frozenset[Status]] = {
    Status.RECEIVED: frozenset({Status.IN_REVIEW}),
    Status.IN_REVIEW: frozenset({Status.NEEDS_INFO, Status.MATCHING, Status.REJECTED, Status.DUPLICATE}),
    Status.NEEDS_INFO: frozenset({Status.IN_REVIEW}),
    Status.MATCHING: frozenset({Status.INCUBATING, Status.UNMATCHED}),
    Status.UNMATCHED: frozenset({Status.MATCHING, Status.INCUBATING, Status.CLOSED}),
    Status.INCUBATING: frozenset({Status.IMPLEMENTED, Status.CLOSED}),
}

# Every status that is not final may also be withdrawn by its submitter.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    status: (_FORWARD.get(status, frozenset()) | {Status.WITHDRAWN}) if status not in FINAL else frozenset()
    for status in Status
}

DESCRIPTIONS: dict[Status, str] = {
    Status.RECEIVED: "We have your idea and are checking it.",
    Status.IN_REVIEW: "Senior staff are reviewing your idea.",
    Status.NEEDS_INFO: "A reviewer has asked you a question.",
    Status.MATCHING: "Your idea was accepted and we are finding a sponsor for it.",
    Status.UNMATCHED: "Your idea was accepted but no sponsor has taken it on yet.",
    Status.INCUBATING: "A sponsor is trying your idea out.",
    Status.IMPLEMENTED: "Your idea has been put into practice.",
    Status.CLOSED: "Your idea was tried and has been closed.",
    Status.REJECTED: "Your idea will not go further this time.",
    Status.DUPLICATE: "Your idea is the same as one we already have.",
    Status.WITHDRAWN: "You withdrew your idea.",
}


def is_allowed(current: Status | str, target: Status | str) -> bool:
    return Status(target) in TRANSITIONS[Status(current)]


def ensure_allowed(current: Status | str, target: Status | str) -> None:
    if not is_allowed(current, target):
        raise IllegalTransition(str(current), str(target))


@dataclass(frozen=True)
class IdeaState:
    """What a transition needs to know of an idea."""

    id: int
    reference: str
    status: Status
    correlation_id: uuid.UUID


_ideas = Idea.__table__
_STATE = select(_ideas.c.id, _ideas.c.reference, _ideas.c.status, _ideas.c.correlation_id)
_LOAD = _STATE.where(_ideas.c.id == bindparam("idea_id"))
_LOAD_BY_REFERENCE = _STATE.where(_ideas.c.reference == bindparam("reference"))
_MOVE = (
    update(_ideas)
    .where(_ideas.c.id.in_(bindparam("idea_ids", expanding=True)), _ideas.c.status == bindparam("from_status"))
    .values(status=bindparam("to_status"), updated_at=bindparam("at"), version=_ideas.c.version + 1)
)
_HISTORY = StatusChange.__table__.insert()


def _state(row: Any) -> IdeaState:
    return IdeaState(row.id, row.reference, Status(row.status), row.correlation_id)


def load(session: Session, idea_id: int) -> IdeaState:
    row = session.connection().execute(_LOAD, {"idea_id": idea_id}).one_or_none()
    if row is None:
        raise NotFound(f"no idea with id {idea_id}")
    return _state(row)


_WITH_TEXT = select(*_STATE.selected_columns, _ideas.c.title, _ideas.c.problem, _ideas.c.proposal).where(
    _ideas.c.id.in_(bindparam("idea_ids", expanding=True))
)

Text = tuple[str, str, str]


def load_with_text(session: Session, idea_id: int) -> tuple[IdeaState, Text]:
    """The idea's state, and its title, problem and proposal, in one read (screening needs both)."""
    found = load_many_with_text(session, [idea_id])
    if idea_id not in found:
        raise NotFound(f"no idea with id {idea_id}")
    return found[idea_id]


def load_many_with_text(session: Session, idea_ids: Iterable[int]) -> dict[int, tuple[IdeaState, Text]]:
    """`load_with_text` for several ideas in one read; an id with no idea is absent from the answer."""
    rows = session.connection().execute(_WITH_TEXT, {"idea_ids": list(idea_ids)})
    return {row.id: (_state(row), (row.title, row.problem, row.proposal)) for row in rows}


def load_by_reference(session: Session, reference: str) -> IdeaState:
    row = session.connection().execute(_LOAD_BY_REFERENCE, {"reference": reference}).one_or_none()
    if row is None:
        raise NotFound(f"no idea with reference {reference}")
    return _state(row)


@dataclass(frozen=True)
class Move:
    """One idea's status change, as `transition` takes it: for `transition_many`."""

    idea: IdeaState
    target: Status
    reason: str | None = None
    reasons: Sequence[str] = ()
    actor: str | None = None
    cause: EventBase | None = None
    # Emitted after the status change, in the same statement: the events the change brings with it.
    with_events: Sequence[EventBase] = ()


def transition(
    session: Session,
    idea: IdeaState,
    target: Status,
    *,
    reason: str | None = None,
    reasons: Iterable[str] = (),
    actor: str | None = None,
    cause: EventBase | None = None,
    with_events: Iterable[EventBase] = (),
) -> IdeaStatusChangedV1:
    """Move `idea` to `target`, record it in the history and emit IdeaStatusChangedV1; the caller commits.

    `with_events` are emitted after it, in the same statement (the events the change brings with it).
    """
    move = Move(idea, target, reason, tuple(reasons), actor, cause, tuple(with_events))
    return transition_many(session, [move])[0]


def transition_many(session: Session, moves: Sequence[Move]) -> list[IdeaStatusChangedV1]:
    """Make several moves in a fixed number of statements, whatever their number; the caller commits.

    Every move is checked first: an illegal one raises IllegalTransition before anything is written.
    If an idea is no longer in the status that was read, StaleStatus is raised, and the caller's
    transaction, which may hold the other moves, must be rolled back (a unit of work does that).
    """
    for move in moves:
        ensure_allowed(move.idea.status, move.target)
    now = utcnow()
    connection = session.connection()
    by_change: dict[tuple[Status, Status], list[int]] = {}
    for move in moves:
        by_change.setdefault((move.idea.status, move.target), []).append(move.idea.id)
    for (current, target), ids in by_change.items():
        moved = claim(
            connection, _MOVE, {"idea_ids": ids, "from_status": current.value, "to_status": target.value, "at": now}
        )
        if moved != len(ids):
            stale = next(m.idea for m in moves if m.idea.id in ids)
            raise StaleStatus(
                f"{stale.reference} is no longer {current}"
                if len(ids) == 1
                else f"one of {len(ids)} ideas is no longer {current}"
            )
    events = [
        IdeaStatusChangedV1.about(
            move.idea,
            cause=move.cause,
            from_status=move.idea.status.value,
            to_status=move.target.value,
            reason=move.reason,
            reasons=list(move.reasons),
            actor=move.actor,
            occurred_at=now,
        )
        for move in moves
    ]
    connection.execute(
        _HISTORY,
        [
            _history_row(move.idea.id, move.idea.status, move.target, move.reason, move.actor, event.event_id, now)
            for move, event in zip(moves, events, strict=True)
        ],
    )
    outbox.emit(session, *(e for move, event in zip(moves, events, strict=True) for e in (event, *move.with_events)))
    return events


def _history_row(
    idea_id: int,
    from_status: Status | None,
    to_status: Status,
    reason: str | None,
    actor: str | None,
    event_id: uuid.UUID | None,
    at: datetime,
) -> dict[str, Any]:
    return {
        "idea_id": idea_id,
        "from_status": from_status.value if from_status else None,
        "to_status": to_status.value,
        "reason": reason,
        "actor": actor,
        "event_id": event_id,
        "at": at,
    }


def record_history(
    session: Session,
    idea_id: int,
    from_status: Status | None,
    to_status: Status,
    *,
    reason: str | None = None,
    actor: str | None = None,
    event_id: uuid.UUID | None = None,
) -> None:
    session.connection().execute(
        _HISTORY, _history_row(idea_id, from_status, to_status, reason, actor, event_id, utcnow())
    )
