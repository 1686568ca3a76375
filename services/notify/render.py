"""Templates to messages: Jinja2, a plain-text and an HTML part for every message.

Each message is `<audience>/<name>.txt` and `.html` under `templates/`; the
subject is the `subject` block of the .txt template, and the idea's reference is
put in front of it here, so that an overridden template cannot leave it out (a
message about no idea, such as a refused email, has none).
A folder named by `IDEAHUB_TEMPLATES_DIR` is searched first: a file there with
the same name replaces ours.
"""

from __future__ import annotations

import binascii
import re
import secrets
from email.policy import Compat32
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape

from shared.clock import utcnow


@lru_cache(maxsize=4)
def environment(override_dir: Path | None) -> Environment:
    loaders: list[Any] = [PackageLoader("services.notify", "templates")]
    if override_dir is not None:
        loaders.insert(0, FileSystemLoader(str(override_dir)))
    return Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates are read once per process: no file-system check on every message. A changed override
        # takes effect when the notify worker restarts.
        auto_reload=False,
    )


def render(env: Environment, template: str, context: dict[str, Any], *, reference: str | None) -> tuple[str, str, str]:
    """(subject, text, html) for one message."""
    text_template = env.get_template(f"{template}.txt")
    block = text_template.blocks.get("subject")
    if block is None:
        raise LookupError(f"{template}.txt has no subject block")
    subject = " ".join("".join(block(text_template.new_context(context))).split())
    if reference:
        subject = f"[{reference}] {subject}"
    full = {**context, "subject": subject}
    return subject, text_template.render(full), env.get_template(f"{template}.html").render(full)


class _Policy(Compat32):
    """compat32, with a short cut for the headers that need no work: one line of plain ASCII, short unless
    lines are not wrapped (as when a whole message is written: `_FOLDING`).

    compat32 folds every header through `email.header.Header`, a large share of notify's CPU (the
    figures are in CHANGELOG.md); such a header comes out of it unchanged, so it is written as it is.
    Anything else (non-ASCII, a line break, runs of spaces, or long when lines are wrapped) still goes
    through `Header`, which folds, encodes, and refuses an injected line.
    """

    def fold(self, name: str, value: Any) -> str:
        if (
            type(value) is str
            and (not self.max_line_length or len(name) + len(value) < 76)
            and value.isascii()
            and value.isprintable()
            and value == value.strip()
            and "  " not in value
        ):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)


_POLICY = _Policy()
# What `Message.as_string()` folds with: its `maxheaderlen=0` turns off wrapping by length.
_FOLDING = _POLICY.clone(max_line_length=0)
_LINE_BREAK = re.compile(r"\r\n?")


def _part(subtype: str, content: str) -> str:
    """A text part: its headers, then its UTF-8 quoted-printable (binascii's encoder, in C), lines ended by \\n.

    Quoted-printable keeps the .eml files readable and the message 7-bit.
    """
    body = binascii.b2a_qp(_LINE_BREAK.sub("\n", content).encode(), istext=True).decode("ascii")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\n'
        "MIME-Version: 1.0\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        f"\n{body}"
    )


def build_email(
    *,
    mail_from: str,
    recipient: str,
    recipient_name: str | None,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    headers: dict[str, str] | None = None,
) -> str:
    """A multipart/alternative message as 7-bit text, with a plain-text and an HTML part.

    It is what `email.mime`'s MIMEMultipart of two quoted-printable MIMEText parts writes with
    `as_string()` (tests/unit/test_notify_templates.py compares them), written directly: the
    classes and their generator were a large share of notify's CPU (CHANGELOG.md). Every
    header is still folded by the email package's compat32 policy (`_POLICY`), which encodes
    non-ASCII text and refuses a value with a line break that would start another header; display
    names are stripped of line breaks besides.
    """
    # Both parts are quoted-printable, in which "=" is always followed by two hex digits or a line end,
    # so a boundary starting "=_" cannot occur in them.
    boundary = f"=_{secrets.token_hex(12)}"
    display_name = " ".join(str(recipient_name or "").split())
    fields = [
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ("MIME-Version", "1.0"),
        ("Subject", subject),
        ("From", mail_from),
        ("To", formataddr((display_name, address_of(recipient)), charset="utf-8")),
        ("Date", format_datetime(utcnow())),
        ("Message-ID", message_id),
        ("Auto-Submitted", "auto-generated"),
        *(headers or {}).items(),
    ]
    head = "".join(_FOLDING.fold(name, value) for name, value in fields)
    return f"{head}\n--{boundary}\n{_part('plain', text)}\n--{boundary}\n{_part('html', html)}\n--{boundary}--\n"


_BARE_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


@lru_cache(maxsize=256)
def address_of(mailbox: str) -> str:
    """The bare address of a mailbox (`Ideahub <ideahub@localhost>`, or one already bare, as we store them)."""
    return mailbox if _BARE_ADDRESS.fullmatch(mailbox) else parseaddr(mailbox)[1]


def message_id(key: str, reference: str | None, mail_from: str) -> str:
    """Our own Message-ID, carrying the reference, so that replies thread back to the idea."""
    domain = address_of(mail_from).partition("@")[2] or "ideahub.local"
    return f"<{key}.{reference}@{domain}>" if reference else f"<{key}@{domain}>"


_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,250}>")  # printable ASCII without < and >, in angle brackets


def thread_headers(in_reply_to: str | None) -> dict[str, str]:
    """In-Reply-To and References for an answer to `in_reply_to`, if that is a well-formed Message-ID.

    It came from someone else's email: anything else (a line break, a second header) is dropped.
    """
    if in_reply_to is None or not _MESSAGE_ID.fullmatch(in_reply_to):
        return {}
    return {"In-Reply-To": in_reply_to, "References": in_reply_to}
