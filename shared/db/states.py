"""State machines for the rows that have a `state`: review tasks, questions, offers, notifications.

The idea's own status has `shared.lifecycle`; every other stateful row declares its states as a
`StrEnum` and its moves as a `StateMachine`, beside its table in `shared.db.models`, and changes
state only through `StateMachine.update`, which refuses an illegal move before any SQL is built.

Every change of state is a conditional UPDATE (`WHERE state IN (<what the caller read>)`), run by
`claim`, which answers how many rows it changed: 0 means another writer (a racing worker, the
sweep, a person's answer) got there first, and the caller does nothing more. This is how a
reminder, an escalation or an answer happens once, whichever of several callers comes first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Table, Update, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from shared.errors import PermanentError

S = TypeVar("S", bound=StrEnum)


class IllegalStateChange(PermanentError):
    """A programming error: code asked for a move its table does not allow."""

    def __init__(self, what: str, current: str, target: str) -> None:
        super().__init__(f"a {what} cannot go from {current} to {target}")
        self.current = current
        self.target = target


class StateMachine(Generic[S]):
    """The states of one kind of row and the moves allowed between them.

    `moves` maps every state to the states it may go to; a state with none is final. `initial`
    are the states a row may be inserted in. Staying in a state is not a move: `update` with the
    same current and target state is a conditional update of the row's other columns.
    """

    def __init__(self, what: str, moves: Mapping[S, Iterable[S]], *, initial: Iterable[S]) -> None:
        self.what = what
        self.moves: dict[S, frozenset[S]] = {state: frozenset(targets) for state, targets in moves.items()}
        self.initial = frozenset(initial)
        states = set(self.moves)
        kinds = {type(state) for state in states}
        if len(kinds) != 1:
            raise TypeError(f"the states of a {what} must be one enum")
        (kind,) = kinds
        missing = set(kind) - states
        if missing:
            raise ValueError(f"every state of a {what} needs its row of moves: {sorted(missing)}")
        unknown = {t for targets in self.moves.values() for t in targets} | self.initial
        if not unknown <= states:
            raise ValueError(f"a {what} moves to states it does not have: {sorted(unknown - states)}")
        self.final = frozenset(state for state, targets in self.moves.items() if not targets)

    def allowed(self, current: S, target: S) -> bool:
        return target in self.moves[current]

    def check(self, current: S, target: S) -> None:
        if current != target and not self.allowed(current, target):
            raise IllegalStateChange(self.what, current, target)

    def update(
        self, table: Table, current: S | Iterable[S], target: S, *where: ColumnElement[bool], **values: Any
    ) -> Update:
        """The conditional UPDATE that moves a row of `table` from `current` (one state or several) to `target`.

        Built once per call site, it may hold bind parameters for hot paths; run it with `claim`.
        """
        currents = [current] if isinstance(current, StrEnum) else list(current)
        if not currents:
            raise ValueError("say which state the row is moved from")
        for state in currents:
            self.check(state, target)
        column = table.c.state
        from_state = column == currents[0].value if len(currents) == 1 else column.in_([s.value for s in currents])
        return update(table).where(from_state, *where).values(state=target.value, **values)


def claim(
    session: Session | Connection,
    statement: Update,
    parameters: Mapping[str, Any] | None = None,
) -> int:
    """Run a conditional UPDATE; how many rows it changed (0: another writer got there first)."""
    connection = session.connection() if isinstance(session, Session) else session
    return connection.execute(statement, parameters).rowcount


def claimed_one(session: Session | Connection, statement: Update, parameters: Mapping[str, Any] | None = None) -> bool:
    """`claim` for one row: True when this caller changed it."""
    return claim(session, statement, parameters) == 1
