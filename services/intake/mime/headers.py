"""Reading headers without trusting them: encodings, addresses, Message-IDs, and mail never to be answered."""

from __future__ import annotations

import email
import email.header
import email.policy
import re
import unicodedata
from email.headerregistry import AddressHeader
from email.message import Message
from email.utils import getaddresses, parseaddr

TITLE_LIMIT = 200
_MESSAGE_ID = re.compile(r"<([!-;=?-~]{1,250})>")  # printable ASCII without < and >
# A subject's reply and forward markers, in the languages mail programs write them.
REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|sv|tr|wg)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_ANGLE_ADDRESS = re.compile(r"<\s*([^<>\s]+@[^<>\s]+)\s*>\s*$")
_LOOP_SENDERS = frozenset({"mailer-daemon", "postmaster"})
# Charsets commonly declared for text that is really a superset (as browsers read them).
_CHARSET_ALIASES = {"iso-8859-1": "windows-1252", "latin1": "windows-1252", "latin-1": "windows-1252"}


def raw_header(message: Message, name: str) -> str | None:
    """A header's value as sent; parsing it through the policy can raise on hostile input."""
    try:
        for key, value in message.raw_items():
            if key.lower() == name.lower():
                return str(value)
    except Exception:  # a header we cannot even list is a header we do not have
        return None
    return None


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text in its declared charset, else UTF-8, else Windows-1252; never an exception."""
    declared = (charset or "").strip().strip('"').lower() or None
    candidates = [_CHARSET_ALIASES.get(declared, declared)] if declared else []
    for candidate in [*candidates, "utf-8", "windows-1252"]:
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def _decode_words(value: str) -> str:
    """Encoded words (RFC 2047) and raw 8-bit UTF-8 in a header, as text."""
    if any("\udc80" <= ch <= "\udcff" for ch in value):  # raw 8-bit bytes, kept as surrogates by the parser
        value = decode_bytes(value.encode("ascii", "surrogateescape"), "utf-8")
    try:
        chunks = email.header.decode_header(value)
    except Exception:
        return value
    out = []
    for chunk, charset in chunks:
        out.append(decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return "".join(out)


def one_line(value: str) -> str:
    """No line breaks, control or format characters, runs of white space: safe for any header or field."""
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in value)
    return " ".join(cleaned.split())


def header_text(message: Message, name: str) -> str:
    raw = raw_header(message, name)
    return one_line(_decode_words(raw)) if raw is not None else ""


def message_ids(value: str | None) -> list[str]:
    return [f"<{found}>" for found in _MESSAGE_ID.findall(value or "")]


def sender_of(message: Message) -> tuple[str | None, str | None]:
    """(display name, address) of the first author, whatever the header holds."""
    raw = raw_header(message, "From")
    if raw is None:
        return None, None
    name, address = "", ""
    try:
        header = message["From"]
        if not isinstance(header, AddressHeader):  # a message read without the modern policy
            raise TypeError("not an address header")
        first = header.addresses[0]
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


def automatic(message: Message, sender: str | None, envelope_from: str | None) -> str | None:
    """Why a message was sent by a machine (auto-reply, bounce, list): such mail is never answered."""
    auto = (raw_header(message, "Auto-Submitted") or "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = (raw_header(message, "Precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list"):
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Failed-Recipients"):
        if raw_header(message, name) is not None:
            return f"{name} header"
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return "empty envelope sender"
    return_path = raw_header(message, "Return-Path")
    if return_path is not None and return_path.strip() in ("", "<>"):
        return "empty Return-Path"
    if message.get_content_type() == "multipart/report":
        return "a delivery or read report"
    for address in (sender, envelope_from):
        if address and address.partition("@")[0].strip("<").lower() in _LOOP_SENDERS:
            return "sent by a mail system"
    return None
