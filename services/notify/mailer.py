"""Delivery of a rendered email: an .eml file in the data folder, or SMTP.

The .eml file is named after its notification key and written by rename, so
writing it again after a crash replaces it rather than adding a second one.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import threading
from email.message import Message
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit


class Mailer(Protocol):
    # True when sending the same key twice still leaves one message delivered.
    idempotent: bool

    def send(self, message: Message, *, key: str) -> None: ...


class FileMailer:
    idempotent = True

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        return self.folder / f"{key}.eml"

    def send(self, message: Message, *, key: str) -> None:
        # The key is unique to this notification; the thread id keeps two deliveries racing apart.
        tmp = self.folder / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_bytes(message.as_bytes())
        os.replace(tmp, self.path_for(key))


class SmtpMailer:
    """`smtp://host:port`, `smtp+starttls://user:pass@host:587` or `smtps://user:pass@host:465`."""

    idempotent = False

    def __init__(self, url: str, *, timeout: float = 30) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtp+starttls", "smtps"}:
            raise ValueError("IDEAHUB_SMTP_URL must start smtp://, smtp+starttls:// or smtps://")
        self.scheme = parts.scheme
        self.host = parts.hostname or "localhost"
        self.port = parts.port or {"smtp": 25, "smtp+starttls": 587, "smtps": 465}[parts.scheme]
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    def send(self, message: Message, *, key: str) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.scheme == "smtp+starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


def mailer_for(smtp_url: str | None, mail_dir: Path) -> Mailer:
    return SmtpMailer(smtp_url) if smtp_url else FileMailer(mail_dir)
