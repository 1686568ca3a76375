"""Reading an email: one MIME message in, its sender, title, text, attachments and reply markers out.

Parsing never raises: a part it cannot read is left out, or named as not kept, and a message it
cannot make anything of raises `Unusable` with a reason in plain words (from `submission_of`).
Uses the standard library's modern email API; nothing here touches the database.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import hashlib
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from pydantic import ValidationError

from services.intake import handlers
from services.intake.schemas import Submission
from shared.config import Settings
from shared.logging import get_logger

log = get_logger("ideahub.intake.mime")

TITLE_LIMIT = 200
TEXT_LIMIT = 10_000
THEME_LIMIT = 100  # the column's width (the Submission model allows 200)
REFUSED_NAMES_LIMIT = 20
_REFERENCE = re.compile(r"\bIH-(\d{4})-(\d{6})\b", re.IGNORECASE)
# Our own Message-IDs carry the reference: <key.IH-2026-000123@domain> (services/notify/render.py).
_OUR_MESSAGE_ID = re.compile(r"\.(IH-\d{4}-\d{6})@")
_MESSAGE_ID = re.compile(r"<([!-;=?-~]{1,250})>")  # printable ASCII without < and >
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|sv|tr|wg)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_BOUNDARY_LINE = re.compile(r"--([0-9A-Za-z'()+_,./:=? -]{0,69}[0-9A-Za-z'()+_,./:=?-])\s*")
_ANGLE_ADDRESS = re.compile(r"<\s*([^<>\s]+@[^<>\s]+)\s*>\s*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LOOP_SENDERS = frozenset({"mailer-daemon", "postmaster"})
# Charsets commonly declared for text that is really a superset (as browsers read them).
_CHARSET_ALIASES = {"iso-8859-1": "windows-1252", "latin1": "windows-1252", "latin-1": "windows-1252"}


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


# --- reading headers without trusting them --------------------------------------------------------------------------


def _raw_header(message: Message, name: str) -> str | None:
    """A header's value as sent; parsing it through the policy can raise on hostile input."""
    try:
        for key, value in message.raw_items():
            if key.lower() == name.lower():
                return str(value)
    except Exception:  # a header we cannot even list is a header we do not have
        return None
    return None


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Text in its declared charset, else UTF-8, else Windows-1252; never an exception."""
    declared = (charset or "").strip().strip('"').lower() or None
    candidates = [_CHARSET_ALIASES.get(declared, declared)] if declared else []
    for candidate in [*candidates, "utf-8", "windows-1252"]:
        try:
            return data.decode(candidate)  # type: ignore[arg-type]
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def _decode_words(value: str) -> str:
    """Encoded words (RFC 2047) and raw 8-bit UTF-8 in a header, as text."""
    if any("\udc80" <= ch <= "\udcff" for ch in value):  # raw 8-bit bytes, kept as surrogates by the parser
        value = _decode_bytes(value.encode("ascii", "surrogateescape"), "utf-8")
    try:
        chunks = email.header.decode_header(value)
    except Exception:
        return value
    out = []
    for chunk, charset in chunks:
        out.append(_decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return "".join(out)


def one_line(value: str) -> str:
    """No line breaks, control or format characters, runs of white space: safe for any header or field."""
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in value)
    return " ".join(cleaned.split())


def _header_text(message: Message, name: str) -> str:
    raw = _raw_header(message, name)
    return one_line(_decode_words(raw)) if raw is not None else ""


def _message_ids(value: str | None) -> list[str]:
    return [f"<{found}>" for found in _MESSAGE_ID.findall(value or "")]


def _from(message: Message) -> tuple[str | None, str | None]:
    """(display name, address) of the first author, whatever the header holds."""
    raw = _raw_header(message, "From")
    if raw is None:
        return None, None
    name, address = "", ""
    try:
        header = message["From"]
        first = header.addresses[0]  # type: ignore[union-attr]
        name, address = first.display_name, first.addr_spec
    except Exception:  # e.g. an encoded line break in the name: read it the old way
        angle = _ANGLE_ADDRESS.search(raw)
        if angle:
            name, address = _decode_words(raw[: angle.start()].strip().strip('"')), angle[1]
        else:
            pairs = getaddresses([raw]) or [parseaddr(raw)]
            name, address = _decode_words(pairs[0][0]), pairs[0][1]
    address = one_line(address).replace(" ", "").lower()
    return one_line(name)[:TITLE_LIMIT] or None, address or None


def _automatic(message: Message, sender: str | None, envelope_from: str | None) -> str | None:
    """Why a message was sent by a machine (auto-reply, bounce, list): such mail is never answered."""
    auto = (_raw_header(message, "Auto-Submitted") or "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = (_raw_header(message, "Precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list"):
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Failed-Recipients"):
        if _raw_header(message, name) is not None:
            return f"{name} header"
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return "empty envelope sender"
    return_path = _raw_header(message, "Return-Path")
    if return_path is not None and return_path.strip() in ("", "<>"):
        return "empty Return-Path"
    if message.get_content_type() == "multipart/report":
        return "a delivery or read report"
    for address in (sender, envelope_from):
        if address and address.partition("@")[0].strip("<").lower() in _LOOP_SENDERS:
            return "sent by a mail system"
    return None


# --- the text -------------------------------------------------------------------------------------------------------


class _HtmlText(HTMLParser):
    """The readable text of an HTML body: paragraphs kept, script and style dropped, quotes marked with `>`."""

    BLOCKS = frozenset(
        "address article aside blockquote dd div dl dt figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav "
        "ol p pre section table tbody td th thead tr ul".split()
    )
    HIDDEN = frozenset({"script", "style", "head", "title", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.words: list[str] = []
        self.hidden = 0
        self.quote = 0
        self.pre = 0

    def _flush(self, *, paragraph: bool) -> None:
        text = "".join(self.words)
        self.words = []
        prefix = "> " * self.quote
        pieces = text.split("\n") if self.pre else [" ".join(text.split())]
        for piece in pieces:
            if piece.strip():
                self.lines.append(prefix + piece.rstrip())
        if paragraph and self.lines and self.lines[-1]:
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self._flush(paragraph=False)
        elif tag in self.BLOCKS:
            self._flush(paragraph=tag not in ("li", "td", "th", "dd", "dt", "tr"))
            if tag == "blockquote":
                self.quote += 1
            elif tag == "pre":
                self.pre += 1
            elif tag == "li":
                self.words.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self._flush(paragraph=tag not in ("li", "td", "th", "dd", "dt", "tr"))
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)
            elif tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or tag in self.BLOCKS:
            self._flush(paragraph=tag != "br")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.words.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; keep what was read before anything odd
        pass
    parser._flush(paragraph=True)
    return "\n".join(parser.lines).strip("\n")


def _unflow(text: str, *, delsp: bool) -> str:
    """Join the soft line breaks of format=flowed text (RFC 3676); quoted lines are left as they are."""
    out: list[str] = []
    carry = ""
    for line in text.split("\n"):
        if line.startswith(" "):
            line = line[1:]  # space-stuffing
        if line.endswith(" ") and line != "-- " and not line.startswith(">"):
            carry += line[:-1] if delsp else line
            continue
        out.append(carry + line)
        carry = ""
    if carry:
        out.append(carry)
    return "\n".join(out)


def normalise_text(text: str) -> str:
    """LF line ends, no control characters, no trailing spaces, at most one blank line in a row."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _part_text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return ""
    if not isinstance(payload, bytes):
        return ""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = _decode_bytes(payload, charset)
    if part.get_content_type() == "text/html":
        return html_to_text(text)
    if (part.get_param("format") or "").lower() == "flowed":  # type: ignore[union-attr]
        text = _unflow(text.replace("\r\n", "\n"), delsp=(part.get_param("delsp") or "").lower() == "yes")  # type: ignore[union-attr]
    return text


def _body_part(message: EmailMessage) -> Message | None:
    try:
        body = message.get_body(preferencelist=("plain", "html"))
        if body is not None and body.get_content_type() == "text/plain" and not _part_text(body).strip():
            body = message.get_body(preferencelist=("html",)) or body  # an empty plain part beside real HTML
    except Exception:
        return None
    return body


# --- attachments ----------------------------------------------------------------------------------------------------


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
class _Collected:
    files: list[tuple[str | None, str, bytes | None]] = field(default_factory=list)  # name, type, content
    extra_text: list[str] = field(default_factory=list)
    forwarded: list[EmailMessage] = field(default_factory=list)


def _filename(part: Message) -> str | None:
    try:
        return part.get_filename()
    except Exception:
        raw = part.get_param("filename", header="content-disposition") or part.get_param("name")
        return str(raw) if raw else None


def _collect(part: Message, body: Message | None, found: _Collected, parent: str, *, top: bool = False) -> None:
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
        for child in part.get_payload():  # type: ignore[union-attr]
            _collect(child, body, found, content_type)
        return
    if top:
        return  # a single-part message: it is the body, or it has none
    name = _filename(part)
    disposition = part.get_content_disposition()
    if content_type in ("text/plain", "text/html") and not name and disposition != "attachment":
        if content_type == "text/plain" and parent == "multipart/mixed":
            found.extra_text.append(_part_text(part))  # text after a picture, as some clients send it
        return  # otherwise another rendering of the body
    if parent == "multipart/related" and _raw_header(part, "Content-ID") and disposition != "attachment":
        return  # a picture inside the HTML (a logo in a signature): part of the body, not a file sent
    try:
        content = part.get_payload(decode=True)
    except Exception:
        content = None
    found.files.append((name, content_type, content if isinstance(content, bytes) else None))


def _judge_files(
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
        if reason is None:
            kept.append(handlers.NewAttachment(name, content_type, content))  # type: ignore[arg-type]
        elif len(refused) < REFUSED_NAMES_LIMIT:
            refused.append(f"{name} ({reason})")
    return kept, refused


# --- parsing --------------------------------------------------------------------------------------------------------


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
    return fixed, None  # type: ignore[return-value]


def message_key(message_id: str | None, raw: bytes) -> str:
    return hashlib.sha256(message_id.encode() if message_id else raw).hexdigest()


def parse(raw: bytes, *, settings: Settings, envelope_from: str | None = None) -> Parsed:
    """Read a message; never raises."""
    try:
        message: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[assignment]
        message, broken = _repair(message)
    except Exception:  # the parser is lenient; this is for the unforeseen, such as parts nested too deep
        try:  # the headers alone, to say who sent it and so answer it
            message = BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)  # type: ignore[assignment]
        except Exception:
            return Parsed(message_key(None, raw), None, None, None, "", "", broken="it could not be read as an email")
        broken = "it could not be read as an email"
    ids = _message_ids(_raw_header(message, "Message-ID"))
    message_id = ids[0] if ids else None
    name, address = _from(message)
    if address is None and envelope_from and envelope_from not in ("<>",):
        address = envelope_from.strip("<>").lower()
    references = _message_ids(_raw_header(message, "In-Reply-To"))
    references += list(reversed(_message_ids(_raw_header(message, "References"))))
    parsed = Parsed(
        key=message_key(message_id, raw),
        message_id=message_id,
        sender=address,
        sender_name=name,
        subject=_header_text(message, "Subject"),
        text="",
        references=references,
        automatic=_automatic(message, address, envelope_from),
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
        parsed.text = normalise_text(_part_text(message))  # declared multipart, holding plain text
        return
    body = _body_part(message)
    found = _Collected()
    _collect(message, body, found, message.get_content_type(), top=not message.is_multipart())
    text = normalise_text("\n\n".join([_part_text(body) if body is not None else "", *found.extra_text]))
    for inner in found.forwarded:
        inner_body = _body_part(inner)
        if not text and inner_body is not None:
            # A forwarded message with nothing said around it: its text is the idea, its subject the title.
            text = normalise_text(_part_text(inner_body))
            if not _REPLY_PREFIX.sub("", parsed.subject):
                parsed.subject = _header_text(inner, "Subject")
        _collect(inner, inner_body, found, inner.get_content_type(), top=not inner.is_multipart())
    parsed.text = text
    parsed.attachments, parsed.attachments_refused = _judge_files(found.files, settings)


# --- from text to a submission --------------------------------------------------------------------------------------

_LABELS = {
    "problem": "problem",
    "the problem": "problem",
    "idea": "idea",
    "my idea": "idea",
    "the idea": "idea",
    "proposal": "idea",
    "benefit": "benefit",
    "benefits": "benefit",
    "expected benefit": "benefit",
    "department": "department",
    "theme": "theme",
    "anonymous": "anonymous",
}
_LABEL_LINE = re.compile(rf"^\s*({'|'.join(sorted(_LABELS, key=len, reverse=True))})\s*:\s*(.*)$", re.IGNORECASE)


class Unusable(Exception):
    """The message cannot become what it looks like; the reason is told to its sender in plain words."""


def sections(text: str) -> tuple[str, dict[str, str]]:
    """Text before any label, and each labelled section ("Problem:", "Idea:", ...) by its name."""
    found: dict[str, list[str]] = {}
    preamble: list[str] = []
    current: list[str] = preamble
    for line in text.split("\n"):
        match = _LABEL_LINE.match(line)
        if match:
            current = found.setdefault(_LABELS[match[1].lower()], [])
            if match[2].strip():
                current.append(match[2].strip())
            continue
        current.append(line)
    return "\n".join(preamble).strip(), {k: "\n".join(v).strip() for k, v in found.items()}


def shorten(text: str, limit: int = TITLE_LIMIT) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:.-") + "…"


def title_of(subject: str, text: str) -> str:
    title = _REPLY_PREFIX.sub("", subject).strip()
    if not title:
        title = next((line.strip() for line in text.split("\n") if line.strip()), "")
        title = one_line(title.lstrip("> "))
    return shorten(title)


def _department(value: str, departments: list[str]) -> str:
    for known in departments:
        if known.lower() == value.strip().lower():
            return known
    raise Unusable(f'we do not know the department "{shorten(value, 60)}": write one of {", ".join(departments)}')


def _anonymous(value: str) -> bool:
    word = value.strip().lower().rstrip(".")
    if word in ("yes", "y", "true"):
        return True
    if word in ("no", "n", "false", ""):
        return False
    raise Unusable(f'we could not tell what "Anonymous: {shorten(one_line(value), 40)}" means: write yes or no')


_FIELD_WORDS = {
    "title": "the subject",
    "problem": "the problem",
    "idea": "the idea",
    "benefit": "the benefit",
    "theme": "the theme",
    "email": "your email address",
    "name": "your name",
}


def _plain_words(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = _FIELD_WORDS.get(str(error["loc"][0]) if error["loc"] else "", "a field")
        if error["type"] == "string_too_long":
            limit = (error.get("ctx") or {}).get("max_length")
            problems.append(f"{where} is too long (at most {limit:,} characters)")
        elif error["type"] == "string_too_short":
            problems.append(f"{where} is empty")
        else:
            problems.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
    return "; ".join(problems)


def submission_of(parsed: Parsed, settings: Settings) -> Submission:
    """The idea a message holds, or Unusable with the reason."""
    if not parsed.text:
        if parsed.attachments or parsed.attachments_refused:
            raise Unusable("your email had files but no text: write your idea in the email itself")
        raise Unusable("we could not find any text in your email")
    preamble, found = sections(parsed.text)
    idea = found.get("idea") or preamble or found.get("problem")
    if not idea:
        raise Unusable('we could not find your idea in your email: write it in the text, or after "Idea:"')
    problem = found.get("problem") or idea.split("\n\n", 1)[0].strip()
    fields: dict[str, object] = {
        "title": title_of(parsed.subject, idea),
        "problem": problem,
        "idea": idea,
        "benefit": found.get("benefit") or None,
        "name": parsed.sender_name,
        "email": parsed.sender or "",
        "anonymous": _anonymous(found["anonymous"]) if "anonymous" in found else False,
    }
    if found.get("department"):
        fields["department"] = _department(one_line(found["department"]), settings.departments)
    if found.get("theme"):
        theme = one_line(found["theme"])
        if len(theme) > THEME_LIMIT:
            raise Unusable(f"the theme is too long (at most {THEME_LIMIT} characters)")
        fields["theme"] = theme
    try:
        return Submission.model_validate(fields)
    except ValidationError as exc:
        raise Unusable(_plain_words(exc)) from None


# --- replies --------------------------------------------------------------------------------------------------------

_ATTRIBUTION = re.compile(r"^\s*On\b.*\bwrote:\s*$", re.IGNORECASE)
_ATTRIBUTION_START = re.compile(r"^\s*On\b", re.IGNORECASE)
_OUTLOOK_QUOTE = re.compile(r"^\s*(-{2,}\s*Original Message\s*-{2,}|_{20,})\s*$", re.IGNORECASE)


def without_quotes(text: str) -> str:
    """A reply's own words: the "On ... wrote:" line, the `>` lines and a quoted Outlook message left out."""
    lines = text.split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _OUTLOOK_QUOTE.match(line):
            break
        if line.startswith("-- ") and line.strip() == "--":
            break  # the signature
        if _ATTRIBUTION.match(line):
            index += 1
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _ATTRIBUTION_START.match(line) and following.rstrip().endswith("wrote:"):
            index += 2  # an attribution wrapped onto two lines
            continue
        if not line.lstrip().startswith(">"):
            kept.append(line)
        index += 1
    return normalise_text("\n".join(kept))


def reference_in(parsed: Parsed) -> str | None:
    """The idea a message is about: our Message-ID it answers, else a reference in its subject."""
    for message_id in parsed.references:
        match = _OUR_MESSAGE_ID.search(message_id)
        if match:
            return match[1].upper()
    match = _REFERENCE.search(parsed.subject)
    return f"IH-{match[1]}-{match[2]}" if match else None
