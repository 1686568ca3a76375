"""What the review stage listens to, and when: deadlines are delayed messages, with a sweep as safety net."""

from services.review import actors, deadlines
from shared.contracts.events import (
    IdeaReceivedV1,
    IdeaStatusChangedV1,
    QuestionAskedV1,
    ReviewAssignedV1,
    ReviewResumedV1,
    ReviewSubmittedV1,
)
from shared.worker.declare import Deadline, Subscription
from shared.worker.sweep import Sweep

DUE = Deadline("due_at")
REVIEW_REMINDER = Deadline("due_at", before=lambda s: s.review_reminder)
INFO_REMINDER = Deadline("due_at", before=lambda s: s.info_reminder)

SUBSCRIPTIONS = [
    Subscription(IdeaReceivedV1, actors.screen_idea),
    Subscription(ReviewSubmittedV1, actors.decide),
    # A task's reminder and deadline, from when it is assigned and again when a question moved its deadline.
    *(
        s
        for event in (ReviewAssignedV1, ReviewResumedV1)
        for s in (
            Subscription(event, actors.remind_reviewer, at=REVIEW_REMINDER),
            Subscription(event, actors.escalate_review, at=DUE),
        )
    ),
    Subscription(QuestionAskedV1, actors.remind_submitter, at=INFO_REMINDER),
    Subscription(QuestionAskedV1, actors.expire_question, at=DUE),
    # Back from a question: the review clock runs again.
    Subscription(
        IdeaStatusChangedV1, actors.resume_review, where={"from_status": "needs_info", "to_status": "in_review"}
    ),
    # Withdrawn or marked a duplicate: the final statuses an idea reaches from review without a decision.
    Subscription(
        IdeaStatusChangedV1,
        actors.close_tasks,
        where={"from_status": ("in_review", "needs_info"), "to_status": ("withdrawn", "duplicate")},
    ),
]

# Work done on a clock: the safety net for deadlines whose delayed message was lost.
SWEEPS: list[Sweep] = [Sweep("review.deadlines", deadlines.sweep, every=lambda s: s.deadline_sweep_seconds)]
