"""Notify's work: an event in, its notifications recorded and delivered; and what administrators and submitters do.

Handlers that take a session never commit; the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from jinja2 import TemplateError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from services.notify.channels import Channel, FileChannel, SmtpChannel, WebhookChannel
from services.notify.delivery import Notifier
from services.notify.rules import Rules
from shared.bus.exactly_once import Consumer, Delivery, handle_once
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import Event
from shared.db.models import (
    NOTIFICATION,
    RESENDABLE,
    Idea,
    Notification,
    NotificationPreference,
    NotificationState,
)
from shared.db.states import claim
from shared.db.util import insert_ignore
from shared.errors import Conflict, NotFound
from shared.logging import about, bind, get_logger
from shared.paging import Page, PageRequest

log = get_logger("ideahub.notify")
CONSUMER = "notify"


def channels_for(settings: Settings) -> dict[str, Channel]:
    email: Channel = (
        SmtpChannel(settings.smtp_url, settings.mail_from) if settings.smtp_url else FileChannel(settings.mail_dir)
    )
    channels = {"email": email}
    if settings.webhook_url and settings.webhook_secret:
        channels["webhook"] = WebhookChannel(settings.webhook_secret)
    return channels


def notifier_for(settings: Settings, session_factory: sessionmaker[Session]) -> Notifier:
    return Notifier(settings, session_factory, channels_for(settings))


# A template that cannot be rendered, or data it cannot take: retrying will not help.
_UNRENDERABLE = (TemplateError, LookupError, ValueError, TypeError)


def _consumer(notifier: Notifier) -> Consumer[list[int]]:
    """Notify as an exactly-once consumer: an event's notifications recorded in the transaction that marks it handled.

    The people and ideas the events name are read together, and their notifications inserted together,
    so a batch costs about as much as one event. What an idempotent channel takes (an .eml file) is
    written while recording; the ids of the rest are returned, to be delivered after commit.
    """

    def record(session: Session, events: list[Event]) -> list[int]:
        rules = Rules(session, notifier.settings)
        rules.preload(events)
        rows = []
        for event in events:
            bind(event_type=event.type, **about(event))
            intents = rules.for_event(event)
            rows += notifier.prepare(event, intents)
            log.debug("notify.planned", notifications=len(intents))
        return notifier.store(session, rows)

    return Consumer(CONSUMER, record, refusals=_UNRENDERABLE, ignore_unknown=True)


def deliver_now(notifier: Notifier, ids: list[int]) -> None:
    """Deliver these recorded notifications, one after another, in this thread."""
    for notification_id in ids:
        try:
            notifier.deliver(notification_id)
        except Exception:  # recorded as pending: the sweep delivers it
            log.exception("notify.deliver_failed", notification_id=notification_id)


Deliver = Callable[[Notifier, list[int]], None]


def handle_events(notifier: Notifier, payloads: list[Mapping[str, Any]], deliver: Deliver = deliver_now) -> None:
    """Record the notifications a batch of events causes, then deliver them; safe to call again with the same events.

    Raises the first error that was not the events' own fault (the database went away, say), after
    delivering what was committed, so that the caller gives the batch back to the broker.
    """
    deliveries = [Delivery(payload) for payload in payloads]
    for ids in handle_once(_consumer(notifier), notifier.session_factory, deliveries):
        deliver(notifier, ids)
    for delivery in deliveries:
        delivery.outcome()


def handle_event(notifier: Notifier, payload: Mapping[str, Any]) -> None:
    """Record and deliver the notifications one event causes. Safe to call again with the same event."""
    handle_events(notifier, [payload])


# Administrators


@dataclass(frozen=True)
class NotificationView:
    """One line of the delivery log (also the API's answer)."""

    id: int
    idea_reference: str | None
    audience: str
    recipient: str
    channel: str
    template: str
    subject: str
    state: Literal["pending", "sending", "sent", "failed", "unconfirmed", "skipped"]
    attempts: int
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None


_VIEW_COLUMNS = (
    Notification.id,
    Idea.reference,
    Notification.audience,
    Notification.recipient,
    Notification.channel,
    Notification.template,
    Notification.subject,
    Notification.state,
    Notification.attempts,
    Notification.error,
    Notification.created_at,
    Notification.sent_at,
    Notification.next_attempt_at,
    Idea.anonymous,
)


def _view(row: Any, *, reveal: bool) -> NotificationView:
    recipient = row.recipient
    if not reveal and row.audience == "submitter" and row.anonymous:
        recipient = "the submitter (anonymous)"
    return NotificationView(
        id=row.id,
        idea_reference=row.reference,
        audience=row.audience,
        recipient=recipient,
        channel=row.channel,
        template=row.template,
        subject=row.subject,
        state=row.state,
        attempts=row.attempts,
        error=row.error,
        created_at=row.created_at,
        sent_at=row.sent_at,
        next_attempt_at=row.next_attempt_at,
    )


Resendable = Literal["failed", "unconfirmed"]


def failed(session: Session, *, page: PageRequest, state: Resendable | None = None) -> Page[NotificationView]:
    """Notifications that need an administrator, oldest first: failed for good, or unconfirmed after a worker died.

    `state` narrows the list to one of the two. A page is read with LIMIT and OFFSET on the state index.
    """
    states = [state] if state else [s.value for s in RESENDABLE]
    rows = session.execute(
        select(*_VIEW_COLUMNS)
        .outerjoin(Idea, Idea.id == Notification.idea_id)
        .where(Notification.state.in_(states))
        .order_by(Notification.id)
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    found = page.page(rows)
    return Page([_view(row, reveal=True) for row in found.items], found.number, found.size, found.has_next)


def resend(session: Session, notification_id: int) -> None:
    """Put a failed or unconfirmed notification back in line, with its retries renewed; the worker sends it."""
    state = session.scalar(select(Notification.state).where(Notification.id == notification_id))
    if state is None:
        raise NotFound(f"there is no notification {notification_id}")
    if state not in RESENDABLE:
        raise Conflict(f"notification {notification_id} is {state}: only failed or unconfirmed ones can be resent")
    table = Notification.__table__
    claim(
        session,
        NOTIFICATION.update(
            table,
            RESENDABLE,
            NotificationState.PENDING,
            table.c.id == notification_id,
            attempts=0,
            next_attempt_at=utcnow(),
            lease_until=None,
        ),
    )
    log.info("notify.resend_requested", notification_id=notification_id)


def delivery_log(session: Session, reference: str, *, reveal: bool) -> list[NotificationView]:
    """What was sent about one idea, to whom, when, through which channel, with which result."""
    idea_id = session.scalar(select(Idea.id).where(Idea.reference == reference))
    if idea_id is None:
        raise NotFound(f"there is no idea {reference}")
    rows = session.execute(
        select(*_VIEW_COLUMNS)
        .join(Idea, Idea.id == Notification.idea_id)
        .where(Notification.idea_id == idea_id)
        .order_by(Notification.id)
    )
    return [_view(row, reveal=reveal) for row in rows]


# Submitters


def _idea_for_token(session: Session, token: str) -> int:
    idea_id = session.scalar(select(Idea.id).where(Idea.status_token == token))
    if idea_id is None:
        raise NotFound("there is no idea with that status link")
    return idea_id


def optional_mail(session: Session, token: str) -> bool:
    idea_id = _idea_for_token(session, token)
    choice = session.scalar(
        select(NotificationPreference.optional_mail).where(NotificationPreference.idea_id == idea_id)
    )
    return choice is not False


def set_optional_mail(session: Session, token: str, wanted: bool) -> None:
    """Turn optional mail about one idea on or off. Mail that needs the submitter's action always goes."""
    idea_id = _idea_for_token(session, token)
    row = {"idea_id": idea_id, "optional_mail": wanted, "updated_at": utcnow()}
    if not insert_ignore(session, NotificationPreference.__table__, row):
        session.execute(
            update(NotificationPreference)
            .where(NotificationPreference.idea_id == idea_id)
            .values(optional_mail=wanted, updated_at=row["updated_at"])
            .execution_options(synchronize_session=False)
        )
    log.info("notify.preference_changed", idea_id=idea_id, optional_mail=wanted)
