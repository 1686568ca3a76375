"""Each notification from `pending` to `sent`, `failed` or `unconfirmed`: at most once, and never silently lost.

- `record` renders the messages an event causes and inserts one row for each,
  keyed by (event, recipient, channel); a redelivered event finds its rows and adds
  nothing. An idempotent channel (the .eml folder) is written at once and its row
  inserted as sent, in one transaction.
- `deliver` claims a pending row (a conditional UPDATE to `sending`, with a lease)
  at the last moment before the message leaves, sends it, and records the result:
  `sent`; `pending` again with a later `next_attempt_at` after a temporary failure;
  `failed` after a permanent one or the last attempt, with a `notification.failed`
  event for administrators.
- `sweep` runs every second or so in each notify worker: it delivers rows whose
  retry is due (and rows a dead worker recorded but never sent), and settles rows
  whose lease ran out because their worker died mid-send. An email in that state
  may have reached the server, so it becomes `unconfirmed` for an administrator to
  check and resend, rather than being sent twice; a webhook is sent again, with the
  same `Ideahub-Delivery` key for the receiver to drop a repeat.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from services.notify.channels import Channel, NotClaimed, Outgoing, PermanentFailure, TemporaryFailure
from services.notify.render import address_of, build_email, environment, message_id, render, thread_headers
from services.notify.rules import Intent
from shared.bus import outbox
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import EventBase, NotificationFailedV1
from shared.db.models import NOTIFICATION, Idea, Notification, NotificationState
from shared.db.states import claim
from shared.db.uow import unit_of_work
from shared.db.util import insert_ignore_many
from shared.logging import get_logger

log = get_logger("ideahub.notify")

_table = Notification.__table__
_c = _table.c

State = NotificationState
# The hot path's state changes, built once with bind parameters.
_CLAIM = NOTIFICATION.update(
    _table,
    State.PENDING,
    State.SENDING,
    _c.id == bindparam("nid"),
    attempts=_c.attempts + 1,
    lease_until=bindparam("lease_until"),
)
_SENT = NOTIFICATION.update(
    _table, State.SENDING, State.SENT, _c.id == bindparam("nid"), sent_at=bindparam("now"), lease_until=None, error=None
)
# After a temporary failure: from `sending` if the row was claimed, else (refused before the claim) `pending`.
_RETRY = {
    claimed: NOTIFICATION.update(
        _table,
        State.SENDING if claimed else State.PENDING,
        State.PENDING,
        _c.id == bindparam("nid"),
        attempts=bindparam("attempts"),
        next_attempt_at=bindparam("next_at"),
        lease_until=None,
        error=bindparam("error"),
    )
    for claimed in (True, False)
}
_ROW = (
    select(
        _c.id,
        _c.event_id,
        _c.idea_id,
        _c.recipient,
        _c.channel,
        _c.template,
        _c.subject,
        _c.body,
        _c.attempts,
        Idea.reference,
        Idea.correlation_id,
    )
    .outerjoin(Idea, Idea.id == _c.idea_id)
    .where(_c.id == bindparam("nid"))
)


def notification_key(event_id: object, recipient: str, channel: str) -> str:
    digest = hashlib.sha256(f"{event_id}|{recipient.lower()}|{channel}".encode()).hexdigest()[:16]
    return f"{event_id}-{digest}"


def _short(error: BaseException | str) -> str:
    return str(error)[:2000]


@dataclass
class Notifier:
    settings: Settings
    session_factory: sessionmaker[Session]
    channels: dict[str, Channel]

    # Planning

    def prepare(self, event: EventBase, intents: list[Intent]) -> list[dict[str, Any]]:
        """The notification rows of one event's intents, rendered; to an idempotent channel, already sent."""
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for intent in intents:
            channel = self.channels.get(intent.channel)
            if channel is None:
                continue
            key = notification_key(event.event_id, intent.recipient, intent.channel)
            subject, body = self._compose(event, intent, key)
            row: dict[str, Any] = {
                "event_id": event.event_id,
                "idea_id": event.idea_id,
                "recipient": intent.recipient,
                "channel": intent.channel,
                "template": intent.template,
                "subject": subject[:300],
                "audience": intent.audience,
                "body": body,
                "created_at": now,
                "sent_at": None,
                "attempts": 0,
                "error": None,
                "state": State.PENDING,
                # Delivered by this worker right after commit; the sweep takes it only if that never happens.
                "next_attempt_at": now + timedelta(seconds=self.settings.notify_send_lease_seconds),
            }
            if intent.skip:
                row |= {"state": State.SKIPPED, "next_attempt_at": None}
            elif channel.idempotent:
                # Writing the same key twice leaves one message: deliver first, record it as sent in one go.
                try:
                    channel.send(Outgoing(key, intent.recipient, subject, body, intent.template), lambda: True)
                    row |= {"state": State.SENT, "sent_at": now, "attempts": 1, "next_attempt_at": None}
                except TemporaryFailure as exc:
                    row |= {"attempts": 1, "error": _short(exc), "next_attempt_at": now + self.backoff(1)}
            rows.append(row)
        return rows

    def store(self, session: Session, rows: list[dict[str, Any]]) -> list[int]:
        """Insert the rows not yet recorded, in one statement; the ids this worker must now deliver."""
        new = insert_ignore_many(session, _table, rows, _c.id, _c.state, _c.channel, _c.template)
        for row in new:
            log.info("notify.recorded", template=row.template, channel=row.channel, state=row.state)
        return [
            row.id
            for row in new
            if row.state == State.PENDING and not getattr(self.channels.get(row.channel), "idempotent", True)
        ]

    def _compose(self, event: EventBase, intent: Intent, key: str) -> tuple[str, str]:
        if intent.channel == "webhook":
            return event.type, str(intent.context["document"])
        settings = self.settings
        context = {
            "reference": event.idea_reference,
            "public_url": settings.public_url.rstrip("/"),
            "audience": intent.audience,
            "recipient_name": intent.recipient_name,
            **intent.context,
        }
        subject, text, html = render(
            environment(settings.templates_dir), intent.template, context, reference=event.idea_reference
        )
        headers = thread_headers(getattr(event, "in_reply_to", None))
        intake = address_of(settings.intake_address)
        if intent.audience in ("submitter", "sender") and intake and intake != address_of(settings.mail_from):
            headers["Reply-To"] = intake  # a reply carrying the reference reaches email intake
        if intent.audience == "submitter" and intent.context.get("optional"):
            # RFC 8058 one-click unsubscribe: mail clients offer a button that posts here.
            stop = str(intent.context["stop_url"]).replace("/status/", "/api/v1/status/", 1)
            headers |= {"List-Unsubscribe": f"<{stop}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        body = build_email(
            mail_from=settings.mail_from,
            recipient=intent.recipient,
            recipient_name=intent.recipient_name,
            subject=subject,
            text=text,
            html=html,
            message_id=message_id(key, event.idea_reference, settings.mail_from),
            headers=headers,
        )
        return subject, body

    # Delivering

    def backoff(self, attempts: int) -> timedelta:
        """Exponential, capped, with a tenth of jitter so that retries of one outage spread out."""
        base = self.settings.notify_retry_seconds * 2 ** (attempts - 1)
        seconds = min(base, self.settings.notify_retry_max_seconds) * random.uniform(0.9, 1.1)
        return timedelta(seconds=seconds)

    def deliver(self, notification_id: int) -> str | None:
        """One attempt at a pending notification; the state it is left in, or None if it was not ours."""
        with unit_of_work(self.session_factory) as session:
            row = session.connection().execute(_ROW, {"nid": notification_id}).one_or_none()
        if row is None or row.body is None:
            return None
        channel = self.channels.get(row.channel)
        if channel is None:  # e.g. a webhook row after the webhook was removed from the configuration
            return None
        claimed = False

        def claim_row() -> bool:
            nonlocal claimed
            lease_until = utcnow() + timedelta(seconds=self.settings.notify_send_lease_seconds)
            with unit_of_work(self.session_factory) as session:
                claimed = claim(session, _CLAIM, {"nid": notification_id, "lease_until": lease_until}) == 1
            return claimed

        key = notification_key(row.event_id, row.recipient, row.channel)
        attempts = row.attempts + 1  # the claim counts it in the row; a failure before the claim is counted below
        try:
            channel.send(Outgoing(key, row.recipient, row.subject, row.body, row.template), claim_row)
        except NotClaimed:
            return None
        except PermanentFailure as exc:
            return self._fail(row, State.FAILED, _short(exc), attempts=attempts)
        except Exception as exc:  # TemporaryFailure, or anything unforeseen
            if attempts >= self.settings.notify_max_attempts:
                return self._fail(
                    row, State.FAILED, f"gave up after {attempts} attempts: {_short(exc)}", attempts=attempts
                )
            with unit_of_work(self.session_factory) as session:
                claim(
                    session,
                    _RETRY[claimed],
                    {
                        "nid": notification_id,
                        "attempts": attempts,
                        "next_at": utcnow() + self.backoff(attempts),
                        "error": _short(exc),
                    },
                )
            log.warning("notify.retry_later", notification_id=notification_id, attempts=attempts, error=_short(exc))
            return State.PENDING
        with unit_of_work(self.session_factory) as session:
            claim(session, _SENT, {"nid": notification_id, "now": utcnow()})
        log.info("notify.sent", notification_id=notification_id, template=row.template, channel=row.channel)
        return State.SENT

    def _fail(
        self,
        row: Any,
        state: Literal[State.FAILED, State.UNCONFIRMED],
        error: str,
        *,
        attempts: int | None = None,
        from_states: tuple[NotificationState, ...] = (State.SENDING, State.PENDING),
    ) -> str:
        """Settle a notification as failed or unconfirmed, and tell administrators (by an event), once."""
        values: dict[str, Any] = {"lease_until": None, "next_attempt_at": None, "error": error}
        if attempts is not None:
            values["attempts"] = attempts
        with unit_of_work(self.session_factory) as session:
            settled = claim(session, NOTIFICATION.update(_table, from_states, state, _c.id == row.id, **values))
            if settled and row.reference is not None:
                outbox.emit(
                    session,
                    NotificationFailedV1(
                        idea_id=row.idea_id,
                        idea_reference=row.reference,
                        correlation_id=row.correlation_id,
                        causation_id=row.event_id,
                        notification_id=row.id,
                        channel=row.channel,
                        template=row.template,
                        state="failed" if state is State.FAILED else "unconfirmed",
                        error=error[:500],
                    ),
                )
        log.error("notify." + state, notification_id=row.id, template=row.template, error=error)
        return state

    # The periodic sweep

    def sweep(self, *, limit: int = 100) -> int:
        """Settle deliveries whose worker died, then attempt the due ones; how many were attempted."""
        now = utcnow()
        with unit_of_work(self.session_factory) as session:
            stranded = session.execute(
                select(Notification.id, Notification.channel)
                .where(Notification.state == State.SENDING, Notification.lease_until < now)
                .limit(limit)
            ).all()
        for stranded_id, channel_name in stranded:
            channel = self.channels.get(channel_name)
            if channel is not None and channel.retry_in_doubt:
                with unit_of_work(self.session_factory) as session:
                    again = NOTIFICATION.update(
                        _table,
                        State.SENDING,
                        State.PENDING,
                        _c.id == stranded_id,
                        next_attempt_at=now,
                        lease_until=None,
                    )
                    claim(session, again)
                continue
            with unit_of_work(self.session_factory) as session:
                row = session.connection().execute(_ROW, {"nid": stranded_id}).one()
            self._fail(
                row,
                State.UNCONFIRMED,
                "the worker stopped while sending: the mail server may or may not have the message",
                from_states=(State.SENDING,),
            )
        with unit_of_work(self.session_factory) as session:
            due = session.scalars(
                select(Notification.id)
                .where(Notification.state == State.PENDING, Notification.next_attempt_at <= now)
                .order_by(Notification.next_attempt_at)
                .limit(limit)
            ).all()
        for notification_id in due:
            self.deliver(notification_id)
        return len(due)
