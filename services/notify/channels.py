"""Delivery channels: an .eml file in the data folder, SMTP, or a signed webhook.

Each `send` delivers one stored, rendered notification. It calls `claim()` at the
last moment before the message leaves (for SMTP: after the server has accepted
sender and recipient, before DATA), and goes no further if the claim fails: the
claim is the database's record that this attempt is under way. It raises
`TemporaryFailure` (retry later) or `PermanentFailure` (do not retry).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import httpx

Claim = Callable[[], bool]


@dataclass(frozen=True)
class Outgoing:
    """What a channel needs to deliver one notification."""

    key: str
    recipient: str
    subject: str
    body: str  # the whole RFC 5322 message for email; the JSON document for a webhook
    template: str


class TemporaryFailure(Exception):
    """Worth trying again later: a 4xx reply, a refused or dropped connection, a timeout."""


class PermanentFailure(Exception):
    """Trying again will not help: a 5xx reply, a webhook answering 4xx."""


class NotClaimed(Exception):
    """Another worker has this notification in hand, or it is already settled."""


class Channel(Protocol):
    name: str
    # True when delivering the same key twice still leaves one message delivered.
    idempotent: bool
    # Whether a delivery whose worker died mid-send is sent again (or left for an administrator).
    retry_in_doubt: bool

    def send(self, outgoing: Outgoing, claim: Claim) -> None: ...


class FileChannel:
    """Writes `<key>.eml` by rename: written again after a crash, it replaces itself rather than adding one."""

    name = "email"
    idempotent = True
    retry_in_doubt = True

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        return self.folder / f"{key}.eml"

    def send(self, outgoing: Outgoing, claim: Claim) -> None:
        if not claim():
            raise NotClaimed
        tmp = self.folder / f".{outgoing.key}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            tmp.write_bytes(outgoing.body.encode())
            os.replace(tmp, self.path_for(outgoing.key))
        except OSError as exc:  # a full or read-only disk may be fixed: try again later
            raise TemporaryFailure(f"could not write the .eml file: {exc}") from exc


def _smtp_failure(code: int, reply: bytes | str, when: str) -> Exception:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    message = f"{when}: {code} {text}".strip()
    return TemporaryFailure(message) if 400 <= code < 500 else PermanentFailure(message)


class SmtpChannel:
    """`smtp://host:port`, `smtp+starttls://user:pass@host:587` or `smtps://user:pass@host:465`.

    Each thread keeps its own connection open between messages.
    """

    name = "email"
    idempotent = False
    retry_in_doubt = False  # the server may have it: sending again could deliver it twice

    def __init__(self, url: str, mail_from: str, *, timeout: float = 30) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtp+starttls", "smtps"}:
            raise ValueError("IDEAHUB_SMTP_URL must start smtp://, smtp+starttls:// or smtps://")
        self.scheme = parts.scheme
        self.host = parts.hostname or "localhost"
        self.port = parts.port or {"smtp": 25, "smtp+starttls": 587, "smtps": 465}[parts.scheme]
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self.sender = parseaddr(mail_from)[1]
        self._local = threading.local()

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.scheme == "smtp+starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _drop(self) -> None:
        smtp = getattr(self._local, "smtp", None)
        self._local.smtp = None
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass

    def _envelope(self, recipient: str) -> smtplib.SMTP:
        """A connection on which MAIL FROM and RCPT TO were accepted; an idle one closed by the server is replaced."""
        for fresh in (False, True):
            smtp = getattr(self._local, "smtp", None)
            if smtp is None or fresh:
                self._drop()
                smtp = self._local.smtp = self._connect()
            try:
                code, reply = smtp.mail(self.sender)
            except smtplib.SMTPServerDisconnected:
                if fresh:
                    raise
                continue
            if code == 421 and not fresh:  # a kept connection the server closed while idle (RFC 5321 §3.8)
                continue
            if code != 250:
                if code == 421:
                    self._drop()
                raise _smtp_failure(code, reply, "MAIL FROM refused")
            code, reply = smtp.rcpt(recipient)
            if code == 421:
                self._drop()
                raise _smtp_failure(code, reply, "recipient refused")
            if code not in (250, 251):
                smtp.rset()
                raise _smtp_failure(code, reply, "recipient refused")
            return smtp
        raise AssertionError("unreachable")

    def send(self, outgoing: Outgoing, claim: Claim) -> None:
        try:
            smtp = self._envelope(outgoing.recipient)
            if not claim():
                smtp.rset()
                raise NotClaimed
            # smtplib fixes line endings only in str; SMTP wants CRLF, and a bare LF makes one endless line.
            code, reply = smtp.data(outgoing.body.replace("\r\n", "\n").replace("\n", "\r\n").encode())
            if code != 250:
                raise _smtp_failure(code, reply, "message refused")
        except (TemporaryFailure, PermanentFailure, NotClaimed):
            raise
        except smtplib.SMTPResponseException as exc:  # DATA refused, or a failed login or STARTTLS
            self._drop()
            if isinstance(exc, smtplib.SMTPAuthenticationError):  # a configuration fault an administrator can fix
                raise TemporaryFailure(f"SMTP login refused: {exc.smtp_code}") from exc
            raise _smtp_failure(exc.smtp_code, exc.smtp_error, "SMTP error") from exc
        except (OSError, smtplib.SMTPException) as exc:  # refused, dropped or timed out: the server did not take it
            self._drop()
            raise TemporaryFailure(f"SMTP connection failed: {type(exc).__name__}: {exc}") from exc


class WebhookChannel:
    """POSTs the event as JSON, signed: `Ideahub-Signature: sha256=HMAC(secret, "<timestamp>.<body>")`.

    `Ideahub-Delivery` carries the notification key, the same on every attempt, so a receiver can drop a
    repeat. 2xx is delivered; 408, 425, 429, 5xx and network errors are retried; any other answer is final.
    """

    name = "webhook"
    idempotent = False
    retry_in_doubt = True  # the receiver can drop a repeat by its Ideahub-Delivery key

    def __init__(self, secret: str, *, timeout: float = 10) -> None:
        self.secret = secret.encode()
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)

    def signature(self, timestamp: str, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()

    def send(self, outgoing: Outgoing, claim: Claim) -> None:
        if not claim():
            raise NotClaimed
        body = outgoing.body.encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Ideahub-Webhook/1",
            "Ideahub-Delivery": outgoing.key,
            "Ideahub-Event": outgoing.template,
            "Ideahub-Timestamp": timestamp,
            "Ideahub-Signature": self.signature(timestamp, body),
        }
        try:
            response = self.client.post(outgoing.recipient, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"webhook unreachable: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in (408, 425, 429) or status >= 500:
            raise TemporaryFailure(f"webhook answered HTTP {status}")
        raise PermanentFailure(f"webhook answered HTTP {status}")
