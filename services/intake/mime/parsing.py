"""A whole message read into `Parsed`: the headers, the text and the files. Parsing never raises."""

from __future__ import annotations

import email
import email.header
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser

from services.intake import handlers
from services.intake.mime.attachments import Collected, collect, judge_files
from services.intake.mime.headers import REPLY_PREFIX, automatic, header_text, message_ids, raw_header, sender_of
from services.intake.mime.text import body_part, normalise_text, part_text
from shared.config import Settings
from shared.logging import get_logger

log = get_logger("ideahub.intake.mime")

TEXT_LIMIT = 10_000
_BOUNDARY_LINE = re.compile(r"--([0-9A-Za-z'()+_,./:=? -]{0,69}[0-9A-Za-z'()+_,./:=?-])\s*")


@dataclass
class Parsed:
    """A message as intake reads it: single-line header fields, the text, the files."""

    key: str  # sha256 of the Message-ID, or of the raw bytes when it has none
    message_id: str | None
    sender: str | None  # the From address (else the envelope sender), lower case
    sender_name: str | None
    subject: str
    text: str
    references: list[str] = field(default_factory=list)  # In-Reply-To, then References, newest first
    attachments: list[handlers.NewAttachment] = field(default_factory=list)
    attachments_refused: list[str] = field(default_factory=list)
    automatic: str | None = None  # why this is an auto-reply or a bounce, never to be answered
    broken: str | None = None  # why the MIME structure could not be read, if it could not


def _repair(message: EmailMessage) -> tuple[EmailMessage, str | None]:
    """A multipart message without its boundary parameter: find the boundary in the body, or read it as text."""
    payload = message.get_payload()
    if message.get_content_maintype() != "multipart" or not isinstance(payload, str):
        return message, None
    boundary = next((m[1] for line in payload.splitlines() if (m := _BOUNDARY_LINE.fullmatch(line))), None)
    if boundary is None:
        return message, None  # no parts at all: it is read as plain text
    try:
        message.set_param("boundary", boundary)
        fixed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    except Exception:
        return message, "its MIME structure is broken"
    if not fixed.is_multipart():
        return message, "its MIME structure is broken"
    return fixed, None


def message_key(message_id: str | None, raw: bytes) -> str:
    return hashlib.sha256(message_id.encode() if message_id else raw).hexdigest()


def parse(raw: bytes, *, settings: Settings, envelope_from: str | None = None) -> Parsed:
    """Read a message; never raises."""
    try:
        message: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)
        message, broken = _repair(message)
    except Exception:  # the parser is lenient; this is for the unforeseen, such as parts nested too deep
        try:  # the headers alone, to say who sent it and so answer it
            message = BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
        except Exception:
            return Parsed(message_key(None, raw), None, None, None, "", "", broken="it could not be read as an email")
        broken = "it could not be read as an email"
    ids = message_ids(raw_header(message, "Message-ID"))
    message_id = ids[0] if ids else None
    name, address = sender_of(message)
    if address is None and envelope_from and envelope_from not in ("<>",):
        address = envelope_from.strip("<>").lower()
    references = message_ids(raw_header(message, "In-Reply-To"))
    references += list(reversed(message_ids(raw_header(message, "References"))))
    parsed = Parsed(
        key=message_key(message_id, raw),
        message_id=message_id,
        sender=address,
        sender_name=name,
        subject=header_text(message, "Subject"),
        text="",
        references=references,
        automatic=automatic(message, address, envelope_from),
        broken=broken,
    )
    if broken:
        return parsed
    try:
        _read_body(parsed, message, settings)
    except Exception:  # e.g. parts nested deeper than recursion allows: nothing kept is better than a crash
        log.warning("mail.unreadable_structure", message_key=parsed.key[:16], exc_info=True)
        parsed.text, parsed.attachments, parsed.attachments_refused = "", [], []
        parsed.broken = "its MIME structure could not be read"
    return parsed


def _read_body(parsed: Parsed, message: EmailMessage, settings: Settings) -> None:
    """The text, the files and the files not kept; a forwarded message's text when there is no other."""
    if message.get_content_maintype() == "multipart" and not message.is_multipart():
        parsed.text = normalise_text(part_text(message))  # declared multipart, holding plain text
        return
    body = body_part(message)
    found = Collected()
    collect(message, body, found, message.get_content_type(), top=not message.is_multipart())
    text = normalise_text("\n\n".join([part_text(body) if body is not None else "", *found.extra_text]))
    for inner in found.forwarded:
        inner_body = body_part(inner)
        if not text and inner_body is not None:
            # A forwarded message with nothing said around it: its text is the idea, its subject the title.
            text = normalise_text(part_text(inner_body))
            if not REPLY_PREFIX.sub("", parsed.subject):
                parsed.subject = header_text(inner, "Subject")
        collect(inner, inner_body, found, inner.get_content_type(), top=not inner.is_multipart())
    parsed.text = text
    parsed.attachments, parsed.attachments_refused = judge_files(found.files, settings)
