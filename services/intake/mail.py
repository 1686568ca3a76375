"""Email intake: one MIME message in; an idea, a reply about one, a refusal or nothing out.

Every mail channel (the SMTP server, the IMAP poller) hands the raw bytes to `take_in`. It
parses them (`mime.py`, the standard library's modern API), decides what the message is, and
records the message in `inbound_mail` in the same transaction as its effect, so that the
same message taken in twice (an SMTP retry, an IMAP poll after a crash) has one effect and
gets one reply. Parsing never raises: a part it cannot read is left out, or named as not
kept, and a message it cannot make anything of is refused with a reason in plain words.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Literal

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from services.intake import handlers
from services.intake.mime import (
    TEXT_LIMIT,
    Parsed,
    Unusable,
    in_units,
    parse,
    reference_in,
    shorten,
    submission_of,
    without_quotes,
)
from services.intake.schemas import Submission
from shared.bus import outbox
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import MailRefusedV1
from shared.db.models import Idea, InboundMail
from shared.db.uow import unit_of_work
from shared.db.util import insert_ignore_returning
from shared.logging import get_logger

log = get_logger("ideahub.intake.mail")

OutcomeKind = Literal["idea", "answer", "note", "refused", "ignored"]


@dataclass(frozen=True)
class Outcome:
    """What became of one message; `duplicate` when an earlier delivery of it already had this effect."""

    kind: OutcomeKind
    idea_id: int | None = None
    reference: str | None = None
    detail: str | None = None
    duplicate: bool = False


# --- taking a message in --------------------------------------------------------------------------------------------


def _domain_allowed(address: str, domains: list[str]) -> bool:
    domain = address.rpartition("@")[2].lower()
    return any(domain == d.lower() or domain.endswith("." + d.lower().lstrip(".")) for d in domains)


def _ours(settings: Settings) -> set[str]:
    return {parseaddr(a)[1].lower() for a in (settings.mail_from, settings.intake_address) if parseaddr(a)[1]}


def _can_answer(parsed: Parsed) -> bool:
    try:
        Submission.model_validate({"title": "t", "problem": "p", "idea": "i", "email": parsed.sender or ""})
    except ValidationError:
        return False
    return True


def _refuse(session: Session, parsed: Parsed, reason: str, *, tell: bool = True) -> Outcome:
    if tell and parsed.sender is not None and _can_answer(parsed):
        outbox.emit(
            session,
            MailRefusedV1(
                to=parsed.sender,
                subject=shorten(parsed.subject) or "(no subject)",
                reason=reason.rstrip("."),
                in_reply_to=parsed.message_id,
                correlation_id=uuid.uuid4(),
            ),
        )
    return Outcome("refused", detail=reason)


def _reply(session: Session, parsed: Parsed, reference: str) -> Outcome:
    idea = session.execute(select(Idea.id, Idea.submitter_email).where(Idea.reference == reference)).one_or_none()
    if idea is None:
        return _refuse(session, parsed, f"we could not find an idea with the reference {reference}")
    if (idea.submitter_email or "").lower() != parsed.sender:
        # Said without naming who did send it: the idea may be anonymous.
        return _refuse(
            session,
            parsed,
            f"only the person who sent idea {reference} can add to it by email, from the address they sent it from",
        )
    text = without_quotes(parsed.text)
    if not text:
        return _refuse(session, parsed, "we could not find any words of your own in your reply")
    if len(text) > TEXT_LIMIT:
        return _refuse(session, parsed, f"your reply is too long (at most {TEXT_LIMIT:,} characters)")
    kind = handlers.reply(session, idea.id, text, channel="email")
    return Outcome(kind, idea_id=idea.id, reference=reference)


def _idea(session: Session, parsed: Parsed, settings: Settings) -> Outcome:
    try:
        submission = submission_of(parsed, settings)
    except Unusable as exc:
        return _refuse(session, parsed, str(exc))
    source = handlers.Source(
        key="email:" + handlers.digest(parsed.message_id or parsed.key),
        fingerprint=handlers.fingerprint_of(submission),
        attachments=parsed.attachments,
        attachments_refused=parsed.attachments_refused,
        in_reply_to=parsed.message_id,
    )
    created = handlers.submit_idea(
        session, submission, channel="email", departments=settings.departments, source=source
    )
    return Outcome("idea", idea_id=created.id, reference=created.reference, duplicate=not created.new)


def _decide(session: Session, parsed: Parsed, settings: Settings, size: int) -> Outcome:
    if parsed.automatic:
        return Outcome("ignored", detail=f"not answered: {parsed.automatic}")
    if parsed.sender is None:
        return _refuse(session, parsed, "the email has no sender address", tell=False)
    if parsed.sender in _ours(settings):
        return Outcome("ignored", detail="sent by Ideahub itself")
    if settings.intake_allowed_domains and not _domain_allowed(parsed.sender, settings.intake_allowed_domains):
        # Not told: answering addresses from anywhere would make us a source of backscatter.
        return _refuse(session, parsed, "the sender's domain is not allowed", tell=False)
    if size > settings.max_message_bytes:
        return _refuse(session, parsed, f"your email is larger than {in_units(settings.max_message_bytes)}")
    reference = reference_in(parsed)
    if reference is not None:
        return _reply(session, parsed, reference)
    if parsed.broken and not parsed.text:
        return _refuse(session, parsed, f"we could not read your email: {parsed.broken}")
    return _idea(session, parsed, settings)


def take_in(
    session_factory: sessionmaker[Session],
    raw: bytes,
    *,
    settings: Settings,
    envelope_from: str | None = None,
    size: int | None = None,
) -> Outcome:
    """Make one message into what it is, once: the one function every mail channel calls.

    Commits before it returns, so a channel may acknowledge the message when it does. `size`
    is the message's full size when `raw` holds its headers only (IMAP, for mail over the limit).
    """
    parsed = parse(raw, settings=settings, envelope_from=envelope_from)
    with unit_of_work(session_factory) as session:
        row = {
            "message_key": parsed.key,
            "received_at": utcnow(),
            "sender": (parsed.sender or envelope_from or "")[:320],
            "outcome": "ignored",
            "idea_id": None,
            "detail": None,
        }
        # First in the transaction: a concurrent delivery of the same message waits here, then finds it.
        # (RETURNING, not the row count: SQLAlchemy 2.1 reports -1 for an INSERT on psycopg.)
        if insert_ignore_returning(session, InboundMail.__table__, row, InboundMail.message_key) is None:
            previous = session.execute(
                select(InboundMail.outcome, InboundMail.idea_id, InboundMail.detail).where(
                    InboundMail.message_key == parsed.key
                )
            ).one()
            log.info("mail.duplicate_ignored", message_key=parsed.key[:16], outcome=previous.outcome)
            found = previous.outcome in ("idea", "answer", "note")
            return Outcome(
                previous.outcome,
                previous.idea_id,
                reference=previous.detail if found else None,
                detail=None if found else previous.detail,
                duplicate=True,
            )
        outcome = _decide(session, parsed, settings, size if size is not None else len(raw))
        session.execute(
            update(InboundMail)
            .where(InboundMail.message_key == parsed.key)
            .values(outcome=outcome.kind, idea_id=outcome.idea_id, detail=outcome.detail or outcome.reference)
        )
    log.info(
        "mail.taken_in",
        outcome=outcome.kind,
        idea_reference=outcome.reference,
        message_key=parsed.key[:16],
        sender_domain=(parsed.sender or "").rpartition("@")[2] or None,
        attachments=len(parsed.attachments),
        attachments_refused=len(parsed.attachments_refused),
        detail=outcome.detail,
    )
    return outcome
