"""Who is told what: each event becomes a list of intents, one per recipient and channel.

The submitter hears of every change of status; whoever emailed something that
could not be taken in hears why; reviewers and sponsors of new
work, reminders and escalations; administrators of failures and unmatched
ideas; a member of staff, of the sign-in link they asked for (signed here,
with the installation's secret key: the event carries none); the webhook, if
configured, of every event its patterns select.

Anonymity: a staff member's message is rendered from a context that never holds
the submitter's name or email, and the webhook gets the event without them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.contracts import events as ev
from shared.db.models import Idea, NotificationPreference, Offer, OfferState, Person
from shared.signing import sign_in_token

# Statuses whose message needs the submitter's action: sent even when they stopped optional mail.
REQUIRED_STATUSES = frozenset({"needs_info"})
SUBMITTER_STATUSES = frozenset(
    {
        "in_review",
        "needs_info",
        "matching",
        "rejected",
        "duplicate",
        "incubating",
        "unmatched",
        "implemented",
        "closed",
        "withdrawn",
    }
)


@dataclass(frozen=True)
class Intent:
    audience: str  # submitter | reviewer | sponsor | admin | webhook
    template: str  # e.g. submitter/received; for a webhook, the event type
    recipient: str  # an email address, or the webhook's URL
    recipient_name: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    channel: str = "email"
    # Optional mail its recipient has turned off: recorded as skipped, not sent.
    skip: bool = False


@dataclass(frozen=True)
class IdeaFacts:
    title: str
    name: str | None
    email: str | None
    token: str
    department: str | None
    theme: str | None
    optional_mail: bool
    anonymous: bool


_IDEA_COLUMNS = select(
    Idea.id,
    Idea.title,
    Idea.submitter_name,
    Idea.submitter_email,
    Idea.status_token,
    Idea.department,
    Idea.theme,
    Idea.anonymous,
    NotificationPreference.optional_mail,
).outerjoin(NotificationPreference, NotificationPreference.idea_id == Idea.id)
_IDEA = _IDEA_COLUMNS.where(Idea.id == bindparam("idea_id"))
_IDEAS = _IDEA_COLUMNS.where(Idea.id.in_(bindparam("idea_ids", expanding=True)))
_PERSON = select(Person.name, Person.email).where(Person.id == bindparam("person_id"), Person.active.is_(True))
_PERSONS = select(Person.id, Person.name, Person.email).where(
    Person.id.in_(bindparam("person_ids", expanding=True)), Person.active.is_(True)
)
# The fields of an event that name a person the rules may write to or about.
_PERSON_FIELDS = ("reviewer_id", "replacement_id", "sponsor_id", "person_id")


def _facts(row: Any) -> IdeaFacts:
    return IdeaFacts(
        row.title,
        row.submitter_name,
        row.submitter_email,
        row.status_token,
        row.department,
        row.theme,
        row.optional_mail is not False,
        bool(row.anonymous),
    )


_ADMINS = select(Person.name, Person.email).where(Person.role == "admin", Person.active.is_(True)).order_by(Person.id)
_SPONSOR = (
    select(Person.name)
    .join(Offer, Offer.sponsor_id == Person.id)
    .where(Offer.idea_id == bindparam("idea_id"), Offer.state == OfferState.ACCEPTED)
)

try:
    _LONDON: ZoneInfo | None = ZoneInfo("Europe/London")
except ZoneInfoNotFoundError:  # a system without tz data: say UTC rather than guess
    _LONDON = None


def when(at: datetime) -> str:
    """A deadline as people read it: `Friday 4 December 2026 at 17:00` (UK time)."""
    if _LONDON is not None:
        return at.astimezone(_LONDON).strftime("%A %-d %B %Y at %H:%M")
    return at.strftime("%A %-d %B %Y at %H:%M UTC")


def topic_matches(topic: str, routing_key: str) -> bool:
    """AMQP topic matching: `*` stands for exactly one word, `#` for zero or more."""
    return _match(tuple(topic.split(".")), tuple(routing_key.split(".")))


@cache
def _match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    return bool(words) and head in ("*", words[0]) and _match(rest, words[1:])


def webhook_document(event: ev.EventBase) -> str:
    """The event as the webhook receives it: without the submitter, whose anonymity the receiver cannot keep,
    nor the address of someone whose email was refused, nor a submitter's answer to a reviewer's question."""
    data = event.model_dump(mode="json", exclude={"submitter", "to", "answer"})
    return json.dumps({"type": event.type, "event": data}, separators=(",", ":"), sort_keys=True)


class Rules:
    """Who is told of an event, and with what. One instance serves one transaction: what it looks up
    (an idea's facts, a person) is kept for the events after, and `preload` reads a batch's at once."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.connection = session.connection()
        self.settings = settings
        self.public = settings.public_url.rstrip("/")
        self._ideas: dict[int, IdeaFacts | None] = {}
        self._persons: dict[int, tuple[str, str] | None] = {}

    def preload(self, events: Sequence[ev.EventBase]) -> None:
        """Read the ideas and people these events name in two queries, instead of one or two an event."""
        idea_ids = {e.idea_id for e in events if e.idea_id is not None} - self._ideas.keys()
        if idea_ids:
            self._ideas |= dict.fromkeys(idea_ids)
            for row in self.connection.execute(_IDEAS, {"idea_ids": sorted(idea_ids)}):
                self._ideas[row.id] = _facts(row)
        person_ids = {
            value
            for e in events
            for name in _PERSON_FIELDS
            if isinstance(value := getattr(e, name, None), int) and value not in self._persons
        }
        if person_ids:
            self._persons |= dict.fromkeys(person_ids)
            for person in self.connection.execute(_PERSONS, {"person_ids": sorted(person_ids)}):
                self._persons[person.id] = (person.name, person.email)

    # Lookups
    def idea(self, idea_id: int | None) -> IdeaFacts | None:
        if idea_id is None:
            return None
        if idea_id not in self._ideas:
            row = self.connection.execute(_IDEA, {"idea_id": idea_id}).one_or_none()
            self._ideas[idea_id] = _facts(row) if row is not None else None
        return self._ideas[idea_id]

    def person(self, person_id: int | None) -> tuple[str, str] | None:
        if person_id is None:
            return None
        if person_id not in self._persons:
            row = self.connection.execute(_PERSON, {"person_id": person_id}).one_or_none()
            self._persons[person_id] = (row.name, row.email) if row else None
        return self._persons[person_id]

    def admins(self) -> list[tuple[str, str]]:
        return [(row.name, row.email) for row in self.connection.execute(_ADMINS)]

    # Intents
    def for_event(self, event: ev.EventBase) -> list[Intent]:
        intents = self._people(event)
        if self.settings.webhook_url and not event.type.startswith(("notification.", "staff.")):
            # A webhook is not told of failed notifications (a failing webhook would otherwise feed itself),
            # nor of staff signing in (who asked and when is no business of another system).
            if any(topic_matches(p, event.type) for p in self.settings.webhook_events):
                intents.append(
                    Intent(
                        "webhook",
                        event.type,
                        self.settings.webhook_url,
                        channel="webhook",
                        context={"document": webhook_document(event)},
                    )
                )
        return intents

    def _people(self, event: ev.EventBase) -> list[Intent]:
        """Who is told of this event: the submitter (or a sender), the staff doing the work, or administrators."""
        for audience in (self._for_submitters, self._for_staff, self._for_administrators):
            intents = audience(event)
            if intents is not None:
                return intents
        return []

    def _for_submitters(self, event: ev.EventBase) -> list[Intent] | None:
        match event:
            case ev.IdeaReceivedV1():
                return self._submitter(
                    event, "received", optional=False, attachments_refused=list(event.attachments_refused)
                )
            case ev.MailRefusedV1():
                # Whoever sent the message: not (yet) anyone's idea, so no status link and no name.
                context = {"title": event.subject, "reason": event.reason}
                return [Intent("sender", "sender/not_accepted", event.to, None, context)]
            case ev.IdeaStatusChangedV1():
                return self._status_changed(event)
            case ev.MilestoneReachedV1():
                return self._submitter(event, "milestone_reached", milestone_title=event.title)
            case ev.QuestionReminderV1():
                return self._submitter(
                    event, "question_reminder", optional=False, question=event.question, due_at=when(event.due_at)
                )
            case ev.CaseStudyPublishedV1():
                url = f"{self.public}/case-studies/{event.slug}"
                return self._submitter(event, "case_study_published", case_study_url=url)
        return None

    def _for_staff(self, event: ev.EventBase) -> list[Intent] | None:
        match event:
            case ev.SignInRequestedV1():
                return self._sign_in(event)
            case ev.ReviewAssignedV1():
                return self._staff(event, "reviewer", "review_assigned", event.reviewer_id, self._task(event))
            case ev.ReviewReminderV1():
                return self._staff(event, "reviewer", "review_reminder", event.reviewer_id, self._task(event))
            case ev.ReviewEscalatedV1():
                late, replacement = self.person(event.reviewer_id), self.person(event.replacement_id)
                declined = event.reason == "declined"  # they know: they handed it back themselves
                told = [] if declined else self._staff(event, "reviewer", "review_reassigned", event.reviewer_id, {})
                return told + self._admins(
                    event,
                    "review_escalated",
                    late_reviewer_name=late[0] if late else None,
                    replacement_name=replacement[0] if replacement else None,
                    declined=declined,
                )
            case ev.ReviewResumedV1():
                context = self._task(event) | {"question": event.question, "answer": event.answer}
                return self._staff(event, "reviewer", "review_resumed", event.reviewer_id, context)
            case ev.OfferMadeV1():
                return self._staff(
                    event, "sponsor", "offer_made", event.sponsor_id, self._offer(event) | {"reasons": event.reasons}
                )
            case ev.OfferReminderV1():
                return self._staff(event, "sponsor", "offer_reminder", event.sponsor_id, self._offer(event))
            case ev.MilestoneReminderV1():
                return self._staff(event, "sponsor", "milestone_reminder", event.sponsor_id, self._milestone(event))
            case ev.MilestoneOverdueV1():
                sponsor = self.person(event.sponsor_id)
                told = self._staff(event, "sponsor", "milestone_overdue", event.sponsor_id, self._milestone(event))
                return told + self._admins(
                    event, "milestone_overdue", sponsor_name=sponsor[0] if sponsor else None, **self._milestone(event)
                )
        return None

    def _for_administrators(self, event: ev.EventBase) -> list[Intent] | None:
        match event:
            case ev.NotificationFailedV1():
                if event.template.startswith("admin/"):  # telling administrators that telling them failed would loop
                    return []
                return self._admins(
                    event,
                    "notification_failed",
                    notification_id=event.notification_id,
                    channel=event.channel,
                    failed_template=event.template,
                    state=event.state,
                    error=event.error,
                )
            case ev.MessageFailedV1():
                return self._admins(
                    event,
                    "message_failed",
                    consumer=event.consumer,
                    error=event.error,
                    failed_message_id=event.failed_message_id,
                    failure_url=f"{self.public}/admin/failures/{event.failed_message_id}",
                )
        return None

    def _status_changed(self, event: ev.IdeaStatusChangedV1) -> list[Intent]:
        status = event.to_status
        intents: list[Intent] = []
        if status in SUBMITTER_STATUSES:
            said: dict[str, dict[str, Any]] = {
                "needs_info": {"question": event.reason or ""},
                "matching": {"reasons": list(event.reasons)},
                "rejected": {"reasons": list(event.reasons)},
                "duplicate": {"reason": event.reason},
                "implemented": {"summary": event.reason},
                "closed": {"summary": event.reason},
                "withdrawn": {"reason": event.reason},
            }
            extra = said.get(status, {})
            if status == "incubating":  # looked up only when it is said
                extra = {"sponsor_name": self._sponsor_name(event.idea_id)}
            intents += self._submitter(event, status, optional=status not in REQUIRED_STATUSES, **extra)
        if status == "unmatched":
            intents += self._admins(event, "idea_unmatched", idea_url=self._matching_url(event), reason=event.reason)
        return intents

    def _submitter(self, event: ev.EventBase, name: str, *, optional: bool = True, **extra: Any) -> list[Intent]:
        facts = self.idea(event.idea_id)
        if facts is None or not facts.email:
            return []
        context = {
            "title": facts.title,
            "status_url": f"{self.public}/status/{facts.token}",
            "stop_url": f"{self.public}/status/{facts.token}/stop-updates",
            "optional": optional,
            # An anonymous submitter is never asked to be named (in a case study, say).
            "anonymous": facts.anonymous,
            **extra,
        }
        return [
            Intent(
                "submitter",
                f"submitter/{name}",
                facts.email,
                facts.name,
                context,
                skip=optional and not facts.optional_mail,
            )
        ]

    def _staff(self, event: ev.EventBase, role: str, name: str, person_id: int, extra: dict[str, Any]) -> list[Intent]:
        person = self.person(person_id)
        facts = self.idea(event.idea_id)
        if person is None or facts is None:
            return []
        # Deliberately built from the idea's title and classification only: never its submitter.
        context = {"title": facts.title, "department": facts.department, "theme": facts.theme, **extra}
        return [Intent(role, f"{role}/{name}", person[1], person[0], context)]

    def _admins(self, event: ev.EventBase, name: str, **extra: Any) -> list[Intent]:
        facts = self.idea(event.idea_id)
        title = facts.title if facts else event.idea_reference
        # Every email to administrators links to the idea's page in the console, where they act on it.
        idea_url = f"{self.public}/admin/ideas/{event.idea_reference}"
        return [
            Intent("admin", f"admin/{name}", email, admin_name, {"title": title, "idea_url": idea_url, **extra})
            for admin_name, email in self.admins()
        ]

    def _sign_in(self, event: ev.SignInRequestedV1) -> list[Intent]:
        """The link, signed here: the event carries no secret. Nobody, if they were made inactive since asking."""
        person = self.person(event.person_id)
        if person is None:
            return []
        token = sign_in_token(self.settings.resolved_secret_key(), event.link_id, event.expires_at)
        minutes = max(1, round((event.expires_at - event.occurred_at).total_seconds() / 60))
        context = {"sign_in_url": f"{self.public}/sign-in/{token}", "expires_at": when(event.expires_at)}
        return [Intent("staff", "staff/sign_in", person[1], person[0], context | {"minutes": minutes})]

    def _task(self, event: ev.ReviewAssignedV1 | ev.ReviewReminderV1 | ev.ReviewResumedV1) -> dict[str, Any]:
        return {"task_url": f"{self.public}/reviews/tasks/{event.task_id}", "due_at": when(event.due_at)}

    def _offer(self, event: ev.OfferMadeV1 | ev.OfferReminderV1) -> dict[str, Any]:
        return {"offer_url": f"{self.public}/offers/{event.offer_id}", "due_at": when(event.due_at)}

    def _milestone(self, event: ev.MilestoneReminderV1 | ev.MilestoneOverdueV1) -> dict[str, Any]:
        return {
            "milestone_title": event.title,
            "due_at": when(event.due_at),
            "incubation_url": f"{self.public}/incubations/{event.idea_reference}",
        }

    def _matching_url(self, event: ev.EventBase) -> str:
        return f"{self.public}/admin/ideas/{event.idea_reference}/matching"

    def _sponsor_name(self, idea_id: int) -> str | None:
        return self.connection.execute(_SPONSOR, {"idea_id": idea_id}).scalar()
