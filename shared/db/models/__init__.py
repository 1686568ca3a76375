"""Tables, one module per owning service. The database is the source of truth; the bus only carries what was
committed here.

Every service reads these tables, and each writes only its own (the owner is named in each module);
the idea's status is written only by `shared.lifecycle`, other states only through the `StateMachine`
declared beside their table.
"""

from shared.db.models.base import NAMING, Base, BigId, UtcDateTime
from shared.db.models.incubation import (
    CASE_STUDY,
    MILESTONE,
    CaseStudy,
    CaseStudyState,
    CreditConsent,
    Incubation,
    Milestone,
    MilestoneState,
    Outcome,
    ProgressUpdate,
)
from shared.db.models.intake import Attachment, Idea, IdeaMessage, InboundMail, StatusChange
from shared.db.models.matching import OFFER, Offer, OfferState
from shared.db.models.messaging import ConsumerCursor, FailedMessage, OutboxMessage, ProcessedMessage, WorkerHeartbeat
from shared.db.models.notify import NOTIFICATION, RESENDABLE, Notification, NotificationPreference, NotificationState
from shared.db.models.review import (
    QUESTION,
    TASK,
    WAITING,
    DuplicateCandidate,
    Question,
    QuestionState,
    Review,
    ReviewTask,
    SimilarityBand,
    TaskState,
)
from shared.db.models.staff import ApiToken, Person, SignInLink, StaffSession

__all__ = [
    "CASE_STUDY",
    "MILESTONE",
    "NAMING",
    "NOTIFICATION",
    "OFFER",
    "QUESTION",
    "RESENDABLE",
    "TASK",
    "WAITING",
    "ApiToken",
    "Attachment",
    "Base",
    "BigId",
    "CaseStudy",
    "CaseStudyState",
    "CreditConsent",
    "ConsumerCursor",
    "DuplicateCandidate",
    "FailedMessage",
    "Idea",
    "IdeaMessage",
    "InboundMail",
    "Incubation",
    "Milestone",
    "MilestoneState",
    "Notification",
    "NotificationPreference",
    "NotificationState",
    "Offer",
    "OfferState",
    "Outcome",
    "OutboxMessage",
    "Person",
    "ProcessedMessage",
    "ProgressUpdate",
    "Question",
    "QuestionState",
    "Review",
    "ReviewTask",
    "SignInLink",
    "SimilarityBand",
    "StaffSession",
    "StatusChange",
    "TaskState",
    "UtcDateTime",
    "WorkerHeartbeat",
]
