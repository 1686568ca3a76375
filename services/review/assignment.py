"""Which reviewers get an idea: the idea's department first, then its theme, then the least loaded.

The active reviewers are read once, each with their load, into a `ReviewerPool`; a screening of
several ideas then chooses for each in turn from the pool, which counts what it has just given, so
that a batch spreads its tasks exactly as the same ideas screened one after another would.

A reviewer's load is counted from their tasks when the pool is read, never kept in a counter: a
counter on each reviewer's row is a row every screening updates, and its lock, held until commit,
made screenings wait for one another. The count stops at LOAD_CAP, so that reading the pool costs
the same however many tasks are waiting: past it a reviewer is simply busy, and among equally
loaded reviewers the one given a task longest ago goes first (a round robin). Both read an index alone.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from shared.db.models import WAITING, Person, ReviewTask

LOAD_CAP = 50

_people = Person.__table__
_tasks = ReviewTask.__table__
# A new task, answering the ids the caller needs to announce it.
NEW_TASKS = _tasks.insert().returning(_tasks.c.id, _tasks.c.idea_id, _tasks.c.reviewer_id)
_waiting = (
    select(literal(1))
    .where(_tasks.c.reviewer_id == _people.c.id, _tasks.c.state.in_([state.value for state in WAITING]))
    .correlate(_people)
    .limit(LOAD_CAP)
    .subquery("waiting")
)
_POOL = select(
    _people.c.id,
    _people.c.email,
    _people.c.department,
    _people.c.themes,
    select(func.count()).select_from(_waiting).scalar_subquery().label("load"),
    func.coalesce(
        select(func.max(_tasks.c.id)).where(_tasks.c.reviewer_id == _people.c.id).correlate(_people).scalar_subquery(),
        0,
    ).label("last_given"),
).where(_people.c.role == "reviewer", _people.c.active.is_(True))


@dataclass
class Reviewer:
    id: int
    email: str
    department: str | None
    themes: str  # case-folded; empty when none are given
    load: int  # waiting tasks, up to LOAD_CAP
    last_given: int  # the order of their latest task: higher is more recent; 0 for none

    def rank(self, department: str | None, theme: str | None) -> tuple[int, int, int, int, int]:
        """Smaller is chosen first. A missing department or theme matches nobody, so it sorts everyone alike."""
        return (
            0 if department is not None and self.department == department else 1,
            0 if theme and theme.casefold() in self.themes else 1,
            self.load,
            self.last_given,
            self.id,
        )


class ReviewerPool:
    """The active reviewers and their loads, read in one statement, to choose from for one idea or many."""

    def __init__(self, reviewers: list[Reviewer]) -> None:
        self.reviewers = reviewers
        self._given = max((r.last_given for r in reviewers), default=0)

    @classmethod
    def read(cls, session: Session) -> ReviewerPool:
        rows = session.connection().execute(_POOL)
        return cls(
            [
                Reviewer(
                    row.id, row.email.lower(), row.department, (row.themes or "").casefold(), row.load, row.last_given
                )
                for row in rows
            ]
        )

    def choose(
        self,
        count: int,
        *,
        department: str | None,
        theme: str | None,
        exclude_email: str | None,
        exclude_ids: Collection[int] = (),
    ) -> list[int]:
        """Up to `count` reviewers, best first, never the submitter nor anyone in `exclude_ids`; counted as given."""
        submitter = (exclude_email or "").lower()
        eligible = (r for r in self.reviewers if r.email != submitter and r.id not in exclude_ids)
        chosen = heapq.nsmallest(count, eligible, key=lambda r: r.rank(department, theme))
        for reviewer in chosen:
            reviewer.load = min(reviewer.load + 1, LOAD_CAP)
            self._given += 1
            reviewer.last_given = self._given
        return [reviewer.id for reviewer in chosen]
