"""Which files a message carries, and which of them are kept within the configured limits."""

from __future__ import annotations

import mimetypes
import unicodedata
from dataclasses import dataclass, field
from email.message import EmailMessage, Message

from services.intake import handlers
from services.intake.mime.headers import raw_header
from services.intake.mime.text import part_text
from shared.config import Settings

REFUSED_NAMES_LIMIT = 20


def safe_filename(name: str | None, content_type: str, index: int) -> str:
    """A name to show and store: no folders, no control or direction-changing characters, not too long."""
    cleaned = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in cleaned if unicodedata.category(ch)[0] != "C")
    cleaned = " ".join(cleaned.split()).strip(" .")
    if not cleaned:
        cleaned = f"attachment-{index}{mimetypes.guess_extension(content_type) or ''}"
    if len(cleaned) > 150:
        stem, dot, extension = cleaned.rpartition(".")
        extension = extension if dot and len(extension) <= 10 else ""
        cleaned = (stem if extension else cleaned)[: 150 - len(extension) - 1].rstrip() + (
            f".{extension}" if extension else ""
        )
    return cleaned


def in_units(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    return f"{max(1, limit // 1024)} KB"


@dataclass
class Collected:
    files: list[tuple[str | None, str, bytes | None]] = field(default_factory=list)  # name, type, content
    extra_text: list[str] = field(default_factory=list)
    forwarded: list[EmailMessage] = field(default_factory=list)


def _filename(part: Message) -> str | None:
    try:
        return part.get_filename()
    except Exception:
        raw = part.get_param("filename", header="content-disposition") or part.get_param("name")
        return str(raw) if raw else None


def collect(part: Message, body: Message | None, found: Collected, parent: str, *, top: bool = False) -> None:
    """Every part that is not the body: files, further inline text, forwarded messages."""
    if part is body:
        return
    content_type = part.get_content_type()
    if content_type == "message/rfc822" and not top:
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], EmailMessage):
            found.forwarded.append(payload[0])
        return
    if part.is_multipart():
        for child in part.get_payload():
            if isinstance(child, Message):  # a multipart's payload is its parts
                collect(child, body, found, content_type)
        return
    if top:
        return  # a single-part message: it is the body, or it has none
    name = _filename(part)
    disposition = part.get_content_disposition()
    if content_type in ("text/plain", "text/html") and not name and disposition != "attachment":
        if content_type == "text/plain" and parent == "multipart/mixed":
            found.extra_text.append(part_text(part))  # text after a picture, as some clients send it
        return  # otherwise another rendering of the body
    if parent == "multipart/related" and raw_header(part, "Content-ID") and disposition != "attachment":
        return  # a picture inside the HTML (a logo in a signature): part of the body, not a file sent
    try:
        content = part.get_payload(decode=True)
    except Exception:
        content = None
    found.files.append((name, content_type, content if isinstance(content, bytes) else None))


def judge_files(
    files: list[tuple[str | None, str, bytes | None]], settings: Settings
) -> tuple[list[handlers.NewAttachment], list[str]]:
    kept: list[handlers.NewAttachment] = []
    refused: list[str] = []
    allowed = {t.lower() for t in settings.attachment_types}
    for index, (raw_name, declared, content) in enumerate(files, start=1):
        name = safe_filename(raw_name, declared, index)
        guessed = mimetypes.guess_type(name, strict=False)[0]
        content_type = guessed if declared == "application/octet-stream" and guessed else declared
        reason = None
        if content is None:
            reason = "it could not be read"
        elif content_type not in allowed or (guessed is not None and guessed not in allowed):
            reason = "this type of file is not accepted"
        elif not content:
            reason = "it is empty"
        elif len(content) > settings.max_attachment_bytes:
            reason = f"it is larger than {in_units(settings.max_attachment_bytes)}"
        elif len(kept) >= settings.max_attachments:
            reason = f"we keep at most {settings.max_attachments} files from one email"
        if reason is None and content is not None:
            kept.append(handlers.NewAttachment(name, content_type, content))
        elif reason is not None and len(refused) < REFUSED_NAMES_LIMIT:
            refused.append(f"{name} ({reason})")
    return kept, refused
