"""The event models. Each docstring says when the event is emitted."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shared.clock import utcnow


class Submitter(BaseModel):
    """Who sent an idea. The only personal data an event may carry."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    email: str | None = None
    anonymous: bool = False


class EventBase(BaseModel):
    """The envelope every event carries. Most events are about one idea (`IdeaEvent`); some are not."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # The event's name with its major version, `idea.received.v1`: each event narrows it to a Literal.
    type: str
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    # The idea it is about, if any.
    idea_id: int | None = None
    idea_reference: str | None = None
    # Follows the idea across services: set at intake, copied into every event after.
    correlation_id: uuid.UUID
    # The event (or request) that caused this one; None for a person's action, a sweep or intake.
    causation_id: uuid.UUID | None = None


class IdeaRef(Protocol):
    """What an event needs to know of the idea it is about (`shared.lifecycle.IdeaState` is one)."""

    @property
    def id(self) -> int: ...

    @property
    def reference(self) -> str: ...

    @property
    def correlation_id(self) -> uuid.UUID: ...


class IdeaEvent(EventBase):
    """An event about one idea: it names the idea and carries the idea's correlation id."""

    idea_id: int
    idea_reference: str

    @classmethod
    def about(cls, idea: IdeaRef, *, cause: EventBase | None = None, **fields: Any) -> Self:
        """A new event about `idea`, caused by `cause` when there is one (a sweep or a person has none)."""
        return cls(
            idea_id=idea.id,
            idea_reference=idea.reference,
            correlation_id=idea.correlation_id,
            causation_id=cause.event_id if cause is not None else None,
            **fields,
        )

    @classmethod
    def caused_by(cls, cause: IdeaEvent, **fields: Any) -> Self:
        """A new event about the same idea as `cause`, in the same correlation, caused by it."""
        return cls(
            idea_id=cause.idea_id,
            idea_reference=cause.idea_reference,
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
            **fields,
        )


# The ways an idea comes in.
Channel = Literal["api", "web", "email", "import"]


class IdeaReceivedV1(IdeaEvent):
    """An idea was stored and given its reference (any channel)."""

    type: Literal["idea.received.v1"] = "idea.received.v1"
    title: str
    department: str | None = None
    theme: str | None = None
    channel: Channel = "api"
    submitter: Submitter
    # Email intake: the submitter's Message-ID (the acknowledgement answers it, so it threads),
    # and the attachments that were not kept, named in the acknowledgement with the reason.
    in_reply_to: str | None = None
    attachments_refused: list[str] = []


class IdeaStatusChangedV1(IdeaEvent):
    """An idea moved from one status to another through the lifecycle."""

    type: Literal["idea.status_changed.v1"] = "idea.status_changed.v1"
    from_status: str
    to_status: str
    reason: str | None = None
    # Reasons given by reviewers (never their names), for a decision.
    reasons: list[str] = []
    actor: str | None = None


class ReviewAssignedV1(IdeaEvent):
    """A reviewer was given a review task for an idea."""

    type: Literal["review.assigned.v1"] = "review.assigned.v1"
    task_id: int
    reviewer_id: int
    due_at: datetime


class ReviewSubmittedV1(IdeaEvent):
    """A reviewer scored an idea."""

    type: Literal["review.submitted.v1"] = "review.submitted.v1"
    task_id: int
    reviewer_id: int
    recommendation: Literal["accept", "reject", "needs_info"]
    overall: float


class OfferMadeV1(IdeaEvent):
    """An idea was offered to a sponsor, with the reasons for the choice."""

    type: Literal["offer.made.v1"] = "offer.made.v1"
    offer_id: int
    sponsor_id: int
    rank: int
    due_at: datetime
    reasons: list[str] = []


class OfferAnsweredV1(IdeaEvent):
    """A sponsor accepted or declined an offer (or it lapsed)."""

    type: Literal["offer.answered.v1"] = "offer.answered.v1"
    offer_id: int
    sponsor_id: int
    answer: Literal["accepted", "declined", "expired"]
    reason: str | None = None


class IncubationStartedV1(IdeaEvent):
    """The incubation stage opened an idea's incubation record for its sponsor."""

    type: Literal["incubation.started.v1"] = "incubation.started.v1"
    sponsor_id: int


class MilestoneReachedV1(IdeaEvent):
    """A sponsor marked one of an incubating idea's milestones as reached."""

    type: Literal["milestone.reached.v1"] = "milestone.reached.v1"
    milestone_id: int
    title: str


class ReviewReminderV1(IdeaEvent):
    """A review task's deadline is near and its reviewer has not answered."""

    type: Literal["review.reminder.v1"] = "review.reminder.v1"
    task_id: int
    reviewer_id: int
    due_at: datetime


class ReviewEscalatedV1(IdeaEvent):
    """A review task passed its deadline: its reviewer was replaced (when someone could be found)."""

    type: Literal["review.escalated.v1"] = "review.escalated.v1"
    task_id: int
    reviewer_id: int
    replacement_id: int | None = None
    # "declined": the reviewer handed the task back and nobody could take it over.
    reason: Literal["late", "declined"] = "late"


class QuestionAskedV1(IdeaEvent):
    """A reviewer asked the submitter a question; it lapses at `due_at` if unanswered."""

    type: Literal["question.asked.v1"] = "question.asked.v1"
    question_id: int
    task_id: int | None = None
    due_at: datetime


class QuestionReminderV1(IdeaEvent):
    """A question's deadline is near and the submitter has not answered it."""

    type: Literal["question.reminder.v1"] = "question.reminder.v1"
    question_id: int
    question: str
    due_at: datetime


class ReviewResumedV1(IdeaEvent):
    """An idea came back to review after a question (answered, or not by its deadline): one per open task.

    `answer` is None when the question lapsed; `due_at` is the task's deadline, moved on by the pause.
    """

    type: Literal["review.resumed.v1"] = "review.resumed.v1"
    task_id: int
    reviewer_id: int
    due_at: datetime
    question: str
    answer: str | None = None


class OfferReminderV1(IdeaEvent):
    """A sponsorship offer's deadline is near and its sponsor has not answered."""

    type: Literal["offer.reminder.v1"] = "offer.reminder.v1"
    offer_id: int
    sponsor_id: int
    due_at: datetime


class MilestoneScheduledV1(IdeaEvent):
    """A milestone was put in an incubation's plan, or given a new date.

    Its reminder comes `IDEAHUB_MILESTONE_REMINDER` before `due_at`; at `overdue_at` (`due_at` plus
    `IDEAHUB_MILESTONE_GRACE`), not reached, it is overdue. A later event about the same milestone supersedes it.
    """

    type: Literal["milestone.scheduled.v1"] = "milestone.scheduled.v1"
    milestone_id: int
    sponsor_id: int
    title: str
    due_at: datetime
    overdue_at: datetime


class MilestoneReminderV1(IdeaEvent):
    """A milestone's due date is near and it is not reached: its sponsor is reminded."""

    type: Literal["milestone.reminder.v1"] = "milestone.reminder.v1"
    milestone_id: int
    sponsor_id: int
    title: str
    due_at: datetime


class MilestoneOverdueV1(IdeaEvent):
    """A milestone passed its due date by the grace and is not reached: its sponsor and administrators are told."""

    type: Literal["milestone.overdue.v1"] = "milestone.overdue.v1"
    milestone_id: int
    sponsor_id: int
    title: str
    due_at: datetime


class AdminActionV1(IdeaEvent):
    """An administrator acted on an idea: reassigned a review, added a reviewer, marked it a duplicate, retried or
    discarded a failed message... Kept on the idea's timeline with who did it and why; it tells nobody by itself.
    """

    type: Literal["admin.action_taken.v1"] = "admin.action_taken.v1"
    action: str
    by_id: int
    by_name: str
    reason: str | None = None
    detail: dict[str, str | int | None] = {}


class CaseStudyPublishedV1(IdeaEvent):
    """An administrator published the case study of an idea (again, after withdrawing it, is a new event)."""

    type: Literal["case_study.published.v1"] = "case_study.published.v1"
    case_study_id: int
    slug: str
    title: str


class NotificationFailedV1(IdeaEvent):
    """A notification could not be delivered (after its last retry, or for good), or may not have been."""

    type: Literal["notification.failed.v1"] = "notification.failed.v1"
    notification_id: int
    channel: str
    template: str
    state: Literal["failed", "unconfirmed"]
    error: str


class MessageFailedV1(IdeaEvent):
    """A stage gave up on an event about this idea; it is kept in failed_messages for administrators."""

    type: Literal["message.failed.v1"] = "message.failed.v1"
    failed_message_id: int
    consumer: str
    error: str


class MailRefusedV1(EventBase):
    """Email intake could not make an idea (or a reply) of a message; its sender is told why.

    Not about any idea (`idea_id` and `idea_reference` are empty); `correlation_id` is new.
    """

    type: Literal["mail.refused.v1"] = "mail.refused.v1"
    to: str
    subject: str
    reason: str
    # The refused message's Message-ID, so the reply threads with it.
    in_reply_to: str | None = None


class SignInRequestedV1(EventBase):
    """A member of staff asked for a sign-in link; notify emails it to them.

    The event carries no secret: notify signs the link (`link_id`, `expires_at`) with the installation's
    secret key, and the link works once (`sign_in_links.used_at`). Not about any idea.
    """

    type: Literal["staff.sign_in_requested.v1"] = "staff.sign_in_requested.v1"
    link_id: uuid.UUID
    person_id: int
    expires_at: datetime


Event = Annotated[
    IdeaReceivedV1
    | IdeaStatusChangedV1
    | ReviewAssignedV1
    | ReviewSubmittedV1
    | OfferMadeV1
    | OfferAnsweredV1
    | IncubationStartedV1
    | MilestoneReachedV1
    | ReviewReminderV1
    | ReviewEscalatedV1
    | QuestionAskedV1
    | QuestionReminderV1
    | ReviewResumedV1
    | OfferReminderV1
    | MilestoneScheduledV1
    | MilestoneReminderV1
    | MilestoneOverdueV1
    | CaseStudyPublishedV1
    | AdminActionV1
    | NotificationFailedV1
    | MessageFailedV1
    | MailRefusedV1
    | SignInRequestedV1,
    Field(discriminator="type"),
]

_adapter: TypeAdapter[Event] = TypeAdapter(Event)

EVENT_TYPES: dict[str, type[EventBase]] = {
    model.model_fields["type"].default: model
    for model in (
        IdeaReceivedV1,
        IdeaStatusChangedV1,
        ReviewAssignedV1,
        ReviewSubmittedV1,
        OfferMadeV1,
        OfferAnsweredV1,
        IncubationStartedV1,
        MilestoneReachedV1,
        ReviewReminderV1,
        ReviewEscalatedV1,
        QuestionAskedV1,
        QuestionReminderV1,
        ReviewResumedV1,
        OfferReminderV1,
        MilestoneScheduledV1,
        MilestoneReminderV1,
        MilestoneOverdueV1,
        CaseStudyPublishedV1,
        AdminActionV1,
        NotificationFailedV1,
        MessageFailedV1,
        MailRefusedV1,
        SignInRequestedV1,
    )
}


def parse_event(data: str | bytes | dict[str, Any]) -> Event:
    """Parse any event from JSON text or a dict, by its `type`."""
    if isinstance(data, dict):
        return _adapter.validate_python(data)
    return _adapter.validate_json(data)
