"""Who is told what, rendered from templates and delivered once per (event, recipient, channel)."""

from __future__ import annotations

import hashlib
from email.charset import QP, Charset
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from services.notify.mailer import Mailer, mailer_for
from shared import lifecycle
from shared.config import Settings
from shared.contracts.events import EventBase, IdeaReceivedV1, IdeaStatusChangedV1, utcnow
from shared.db.models import Idea, Notification
from shared.db.util import insert_ignore
from shared.logging import get_logger

log = get_logger("ideahub.notify")
CHANNEL = "email"
_SUBMITTER = select(Idea.title, Idea.submitter_name, Idea.submitter_email, Idea.status_token).where(
    Idea.id == bindparam("idea_id")
)

SUBJECTS = {
    "received": "We have your idea",
    "status_changed": "Your idea is now {status_words}",
}


@lru_cache(maxsize=1)
def templates() -> Environment:
    return Environment(
        loader=PackageLoader("services.notify", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


@lru_cache(maxsize=4)
def _mailer(smtp_url: str | None, mail_dir: str) -> Mailer:
    from pathlib import Path

    return mailer_for(smtp_url, Path(mail_dir))


def notification_key(event_id: object, recipient: str, channel: str) -> str:
    digest = hashlib.sha256(f"{event_id}|{recipient.lower()}|{channel}".encode()).hexdigest()[:16]
    return f"{event_id}-{digest}"


def status_words(status: str) -> str:
    return status.replace("_", " ")


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable .eml files and 7-bit-safe transport


def build_email(
    *, settings: Settings, template: str, recipient: str, context: dict[str, Any], key: str, reference: str
) -> Message:
    """A multipart/alternative message: the plain-text and HTML renderings of one template.

    Built with the `email.mime` classes: the modern `EmailMessage` API re-parses every
    header through its registry and costs three times as much CPU, which matters at one
    message per status change. Every header here is ours or validated at intake, and the
    display name is stripped of line breaks all the same.
    """
    env = templates()
    message = MIMEMultipart("alternative")
    message["Subject"] = f"[{reference}] {SUBJECTS[template].format(**context)}"
    message["From"] = settings.mail_from
    display_name = " ".join(str(context.get("name") or "").split())
    message["To"] = formataddr((display_name, parseaddr(recipient)[1]), charset="utf-8")
    message["Date"] = format_datetime(utcnow())
    domain = parseaddr(settings.mail_from)[1].partition("@")[2] or "ideahub.local"
    # Our own Message-ID, so that replies thread back to the idea.
    message["Message-ID"] = f"<{key}.{reference}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.attach(MIMEText(env.get_template(f"{template}.txt").render(**context), "plain", _UTF8_QP))  # type: ignore[arg-type]
    message.attach(MIMEText(env.get_template(f"{template}.html").render(**context), "html", _UTF8_QP))  # type: ignore[arg-type]
    return message


def _tell_submitter(
    session: Session, event: EventBase, *, settings: Settings, template: str, extra: dict[str, Any]
) -> None:
    idea = session.connection().execute(_SUBMITTER, {"idea_id": event.idea_id}).one_or_none()
    if idea is None or not idea.submitter_email:
        return
    recipient = idea.submitter_email
    key = notification_key(event.event_id, recipient, CHANNEL)
    context = {
        "name": idea.submitter_name,
        "title": idea.title,
        "reference": event.idea_reference,
        "status_url": f"{settings.public_url.rstrip('/')}/status/{idea.status_token}",
        **extra,
    }
    message = build_email(
        settings=settings,
        template=template,
        recipient=recipient,
        context=context,
        key=key,
        reference=event.idea_reference,
    )
    row = {
        "event_id": event.event_id,
        "idea_id": event.idea_id,
        "recipient": recipient,
        "channel": CHANNEL,
        "template": template,
        "subject": str(message["Subject"]),
        "created_at": utcnow(),
    }
    mailer = _mailer(settings.smtp_url, str(settings.mail_dir))
    # The row is keyed by (event, recipient, channel): a second delivery of the event finds it and stops.
    if mailer.idempotent:
        # Delivering twice under one key leaves one message (an .eml file named by the key), so deliver
        # first and record it in one statement.
        mailer.send(message, key=key)
        insert_ignore(session, Notification.__table__, row | {"state": "sent", "sent_at": utcnow()})
    else:
        if not insert_ignore(session, Notification.__table__, row | {"state": "pending"}):
            return
        mailer.send(message, key=key)
        session.execute(
            update(Notification)
            .where(
                Notification.event_id == event.event_id,
                Notification.recipient == recipient,
                Notification.channel == CHANNEL,
            )
            .values(state="sent", sent_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    log.info("notify.sent", template=template)


def idea_received(session: Session, event: IdeaReceivedV1, *, settings: Settings) -> None:
    _tell_submitter(session, event, settings=settings, template="received", extra={})


def status_changed(session: Session, event: IdeaStatusChangedV1, *, settings: Settings) -> None:
    status = lifecycle.Status(event.to_status)
    _tell_submitter(
        session,
        event,
        settings=settings,
        template="status_changed",
        extra={
            "status_words": status_words(status.value),
            "description": lifecycle.DESCRIPTIONS[status],
            "reasons": event.reasons,
            "reason": event.reason if status in (lifecycle.Status.WITHDRAWN, lifecycle.Status.UNMATCHED) else None,
        },
    )
