"""Replies: the reference a message answers, and its text without the quoted message below it."""

from __future__ import annotations

import re

from services.intake.mime.parsing import Parsed
from services.intake.mime.text import normalise_text

_REFERENCE = re.compile(r"\bIH-(\d{4})-(\d{6})\b", re.IGNORECASE)
# Our own Message-IDs carry the reference: <key.IH-2026-000123@domain> (services/notify/render.py).
_OUR_MESSAGE_ID = re.compile(r"\.(IH-\d{4}-\d{6})@")


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
