"""Screening: a received idea is checked for likely duplicates, given its reviewers and put in review.

It costs the same few statements for one idea or a batch (docs/decisions/0007-batched-screening-and-group-commit.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from services.review import similarity
from services.review.assignment import NEW_TASKS, ReviewerPool
from shared import lifecycle
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import (
    IdeaReceivedV1,
    ReviewAssignedV1,
)
from shared.db.models import (
    TaskState,
)
from shared.errors import NotFound
from shared.logging import about, get_logger
from shared.workdays import deadline

log = get_logger("ideahub.review")
Status = lifecycle.Status


def screen_idea(session: Session, event: IdeaReceivedV1, *, settings: Settings) -> None:
    """Check a received idea, assign its reviewers and put it in review."""
    screen_ideas(session, [event], settings=settings)


def screen_ideas(session: Session, events: Sequence[IdeaReceivedV1], *, settings: Settings) -> None:
    """Check received ideas, assign their reviewers and put them in review, in the caller's transaction.

    However many ideas there are, it costs the same few statements (read the ideas, read the reviewers,
    add the tasks, search and index for duplicates, move the ideas), so that a worker that takes several
    at once (`shared.worker.stage.GroupCommit`) does less for each. The ideas are screened in order, each
    as if the earlier ones had been screened and committed before it.
    """
    found = lifecycle.load_many_with_text(session, [event.idea_id for event in events])
    todo = []
    for event in events:
        if event.idea_id not in found:
            raise NotFound(f"no idea with id {event.idea_id}")
        idea, text = found[event.idea_id]
        if idea.status is not Status.RECEIVED:
            log.info("review.screen_skipped", status=idea.status.value, **about(event))  # withdrawn meanwhile, say
            continue
        todo.append((event, idea, text))
    if not todo:
        return
    pool = ReviewerPool.read(session)
    chosen = [
        pool.choose(
            settings.reviewers_per_idea,
            department=event.department,
            theme=event.theme,
            exclude_email=event.submitter.email,
        )
        for event, _, _ in todo
    ]
    now = utcnow()
    due = deadline(now, settings.review_deadline)
    rows = [
        {"idea_id": idea.id, "reviewer_id": r, "state": TaskState.OPEN, "assigned_at": now, "due_at": due}
        for (_, idea, _), reviewers in zip(todo, chosen, strict=True)
        for r in reviewers
    ]
    task_ids = (
        {(row.idea_id, row.reviewer_id): row.id for row in session.connection().execute(NEW_TASKS, rows)}
        if rows
        else {}
    )
    # Recorded for reviewers to judge; a likely duplicate changes neither status nor assignment.
    duplicates = similarity.find_and_index_many(
        session, [(idea.id, text) for _, idea, text in todo], threshold=settings.duplicate_threshold, now=now
    )
    moves = []
    for (event, idea, _), reviewers in zip(todo, chosen, strict=True):
        assigned = [
            ReviewAssignedV1.caused_by(event, task_id=task_ids[idea.id, r], reviewer_id=r, due_at=due)
            for r in reviewers
        ]
        moves.append(
            lifecycle.Move(
                idea,
                Status.IN_REVIEW,
                reason=f"{len(reviewers)} reviewer(s) assigned",
                actor="screening",
                cause=event,
                with_events=assigned,
            )
        )
    lifecycle.transition_many(session, moves)
    for (event, _, _), reviewers in zip(todo, chosen, strict=True):
        if not reviewers:
            log.warning("review.no_reviewers_available", **about(event))
        log.info(
            "review.idea_screened", reviewers=len(reviewers), duplicates=len(duplicates[event.idea_id]), **about(event)
        )
