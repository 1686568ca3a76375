"""`ideahub imap`: take mail from a shared mailbox, for installations whose mail server keeps it.

Every `imap_poll_seconds` the poller logs in to `settings.imap_url`
(`imap://user:password@host:143/INBOX`, or `imaps://` with a verified certificate),
hands each message to `mail.take_in` (the same function the SMTP server calls), and
moves it to `settings.imap_processed_folder`: by MOVE where the server has it, else
COPY, \\Deleted and EXPUNGE. A message is moved only after `take_in` has committed,
and a crash between the two is harmless: the next poll takes it in again and
`inbound_mail` makes that a no-op. A sender over the rate limit keeps their message
in the mailbox until a later poll. Mail over the size limit is not downloaded: its
headers are enough to tell the sender why it was refused.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import imaplib
import re
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy.orm import Session, sessionmaker

from services.intake import mail
from shared.config import Settings
from shared.logging import get_logger
from shared.ratelimit import RateLimiter

log = get_logger("ideahub.intake.imap")

BATCH = 200  # messages a poll takes at most: the rest wait for the next one
_FETCHED = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclass(frozen=True)
class Mailbox:
    secure: bool
    host: str
    port: int
    user: str
    password: str
    folder: str

    @classmethod
    def from_url(cls, url: str) -> Mailbox:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname:
            raise ValueError("IDEAHUB_IMAP_URL must look like imap://user:password@host:143/INBOX or imaps://...")
        secure = parts.scheme == "imaps"
        return cls(
            secure=secure,
            host=parts.hostname,
            port=parts.port or (993 if secure else 143),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
        )


@dataclass
class Poll:
    """What one poll did."""

    taken: int = 0  # messages handed to take_in and moved
    deferred: int = 0  # left for a later poll (rate limit, or an error)


def quoted(name: str) -> str:
    """A mailbox name as an IMAP quoted string."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(answer: tuple[str, Sequence[Any]], what: str) -> Sequence[Any]:
    status, data = answer
    if status != "OK":
        raise imaplib.IMAP4.error(f"{what}: {status} {data!r}")
    return data


class Poller:
    def __init__(self, settings: Settings, session_factory: sessionmaker[Session]) -> None:
        if not settings.imap_url:
            raise ValueError("IDEAHUB_IMAP_URL is not set")
        self.settings = settings
        self.session_factory = session_factory
        self.mailbox = Mailbox.from_url(settings.imap_url)
        self.limiter = RateLimiter(settings.mail_rate_limit)

    def connect(self) -> imaplib.IMAP4:
        box = self.mailbox
        client: imaplib.IMAP4
        if box.secure:
            client = imaplib.IMAP4_SSL(box.host, box.port, ssl_context=ssl.create_default_context(), timeout=60)
        else:
            client = imaplib.IMAP4(box.host, box.port, timeout=60)
        _check(client.login(box.user, box.password), "LOGIN")
        # What the server can do once logged in (MOVE, UIDPLUS), which may be more than it said before.
        status, data = client.capability()
        if status == "OK" and data and isinstance(data[-1], bytes):
            client.capabilities = tuple(data[-1].decode("ascii", "replace").upper().split())
        return client

    def _ensure_folder(self, client: imaplib.IMAP4) -> None:
        folder = quoted(self.settings.imap_processed_folder)
        status, data = client.list('""', folder)
        if status == "OK" and any(item for item in data if item):
            return
        status, data = client.create(folder)
        if status != "OK" and b"exists" not in b" ".join(d for d in data if isinstance(d, bytes)).lower():
            raise imaplib.IMAP4.error(f"cannot create {self.settings.imap_processed_folder}: {data!r}")
        client.subscribe(folder)

    def poll(self, stop: threading.Event | None = None) -> Poll:
        """One pass over the mailbox."""
        result = Poll()
        client = self.connect()
        try:
            self._ensure_folder(client)
            _check(client.select(quoted(self.mailbox.folder)), "SELECT")
            (found,) = _check(client.uid("SEARCH", "UNDELETED"), "SEARCH")
            # UIDs are ASCII digits; imaplib takes its arguments as str.
            uids = (found.decode("ascii") if isinstance(found, bytes) else "").split()[:BATCH]
            moved: list[str] = []
            for uid in uids:
                if stop is not None and stop.is_set():
                    break
                if self._take(client, uid):
                    moved.append(uid)
                    result.taken += 1
                else:
                    result.deferred += 1
            if moved and "MOVE" not in client.capabilities:
                self._expunge(client, moved)
        finally:
            try:
                client.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
        if result.taken or result.deferred:
            log.info("imap.polled", taken=result.taken, deferred=result.deferred)
        return result

    def _take(self, client: imaplib.IMAP4, uid: str) -> bool:
        """Take one message in and move it; False when it stays in the mailbox for now."""
        data = _check(client.uid("FETCH", uid, "(RFC822.SIZE BODY.PEEK[HEADER])"), "FETCH")
        first = next((item for item in data if isinstance(item, tuple)), None)
        if first is None:
            return False  # gone (another poller took it)
        size_match = _SIZE.search(first[0])
        size = int(size_match[1]) if size_match else 0
        header = first[1]
        sender = self._sender(header)
        wait = self.limiter.take(sender)
        if wait is not None:
            log.info("imap.rate_limited", retry_in=round(wait), uid=uid)
            return False
        if size > self.settings.max_message_bytes:
            raw, full_size = header, size  # not downloaded: refused from its headers
        else:
            body = _check(client.uid("FETCH", uid, "(BODY.PEEK[])"), "FETCH")
            item = next((entry for entry in body if isinstance(entry, tuple)), None)
            if item is None:
                return False
            raw, full_size = item[1], None
        try:
            mail.take_in(self.session_factory, raw, settings=self.settings, size=full_size)
        except Exception:
            log.exception("imap.take_in_failed", uid=uid)
            return False
        self._move(client, uid)
        return True

    @staticmethod
    def _sender(header: bytes) -> str:
        message = email.message_from_bytes(header, policy=email.policy.compat32)
        return (email.utils.parseaddr(str(message.get("From", "")))[1] or "").lower()

    def _move(self, client: imaplib.IMAP4, uid: str) -> None:
        folder = quoted(self.settings.imap_processed_folder)
        if "MOVE" in client.capabilities:
            _check(client.uid("MOVE", uid, folder), "MOVE")
            return
        _check(client.uid("COPY", uid, folder), "COPY")
        _check(client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")

    @staticmethod
    def _expunge(client: imaplib.IMAP4, uids: list[str]) -> None:
        if "UIDPLUS" in client.capabilities:  # only ours: another client's \Deleted messages are theirs to expunge
            _check(client.uid("EXPUNGE", ",".join(uids)), "UID EXPUNGE")
        else:
            _check(client.expunge(), "EXPUNGE")

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set; a failed poll is logged and tried again at the next interval."""
        log.info("imap.started", host=self.mailbox.host, folder=self.mailbox.folder)
        while not stop.is_set():
            try:
                self.poll(stop)
            except (imaplib.IMAP4.error, OSError) as exc:
                log.warning("imap.poll_failed", error=str(exc))
            except Exception:
                log.exception("imap.poll_failed")
            stop.wait(self.settings.imap_poll_seconds)
        log.info("imap.stopped")
