"""A message's text: its body part, HTML made plain, format=flowed joined, control characters removed."""

from __future__ import annotations

import re
from email.message import EmailMessage, Message
from html.parser import HTMLParser

from services.intake.mime.headers import decode_bytes

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


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


def _param(part: Message, name: str) -> str:
    """A Content-Type parameter in lower case; "" when absent or written in RFC 2231's encoded form."""
    value = part.get_param(name)
    return value.lower() if isinstance(value, str) else ""


def part_text(part: Message) -> str:
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
    text = decode_bytes(payload, charset)
    if part.get_content_type() == "text/html":
        return html_to_text(text)
    if _param(part, "format") == "flowed":
        text = _unflow(text.replace("\r\n", "\n"), delsp=_param(part, "delsp") == "yes")
    return text


def body_part(message: EmailMessage) -> Message | None:
    try:
        body = message.get_body(preferencelist=("plain", "html"))
        if body is not None and body.get_content_type() == "text/plain" and not part_text(body).strip():
            body = message.get_body(preferencelist=("html",)) or body  # an empty plain part beside real HTML
    except Exception:
        return None
    return body
