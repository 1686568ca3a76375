"""`ideahub smtp`: an SMTP server (aiosmtpd) that takes mail for the intake address only.

The conversation refuses what it can before a message is stored: another recipient
(550: no open relay), a sender's domain not allowed (550 at MAIL FROM), a sender over
the rate limit (450 4.7.1 at RCPT: their server tries again later), a message over
the size limit (552 during DATA, by aiosmtpd's `data_size_limit`). DATA hands the
message to `mail.take_in` in a thread and answers 250 only after it has committed,
so nothing accepted is lost; anything unforeseen answers 451 and the sender retries.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import parseaddr
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from services.intake import mail
from shared.config import Settings
from shared.logging import get_logger
from shared.ratelimit import RateLimiter

log = get_logger("ideahub.intake.smtp")

# Database work runs in these threads: as many as the connections a process's pool keeps.
THREADS = 8


def _address(value: str) -> str:
    return parseaddr(value)[1].strip().lower()


class IntakeHandler:
    """aiosmtpd's handler: the MAIL, RCPT and DATA hooks."""

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session], *, threads: int = THREADS) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.intake = _address(settings.intake_address)
        self.domains = [d.lower().lstrip("@") for d in settings.intake_allowed_domains]
        self.limiter = RateLimiter(settings.mail_rate_limit)
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="smtp-intake")
        self.in_flight = 0
        self._lock = threading.Lock()

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]) -> str:
        sender = address.strip("<>").lower()
        if sender and self.domains:
            domain = sender.rpartition("@")[2]
            if not any(domain == d or domain.endswith("." + d) for d in self.domains):
                log.info("smtp.sender_refused", sender_domain=domain)
                return "550 5.7.1 Mail from this domain is not accepted here"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if address.strip("<>").lower() != self.intake:
            return f"550 5.1.1 This server takes mail for {self.intake} only"
        if not envelope.rcpt_tos:  # once a message, when it is certain to be ours
            wait = self.limiter.take((envelope.mail_from or "").strip("<>").lower())
            if wait is not None:
                log.info("smtp.rate_limited", retry_in=round(wait))
                return f"450 4.7.1 Too many messages from this sender; try again in {self.limiter.retry_after(wait)} s"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or b""
        work = functools.partial(
            mail.take_in, self.session_factory, raw, settings=self.settings, envelope_from=envelope.mail_from
        )
        with self._lock:
            self.in_flight += 1
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(self.executor, work)
        except Exception:
            log.exception("smtp.take_in_failed")
            return "451 4.3.0 Could not store the message just now; please try again later"
        finally:
            with self._lock:
                self.in_flight -= 1
        if outcome.reference:
            return f"250 2.0.0 Received: {outcome.reference}"
        return "250 2.0.0 Received"

    def drain(self, timeout: float) -> None:
        """Wait for the messages being stored to be answered."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.executor.shutdown(wait=True)


class IntakeServer:
    """The SMTP server on `settings.http_host`, `settings.smtp_intake_port` (or `port`)."""

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session], *, port: int | None = None) -> None:
        self.handler = IntakeHandler(settings, session_factory)
        self.port = port or settings.smtp_intake_port
        self.controller = Controller(
            self.handler,
            hostname=settings.http_host,
            port=self.port,
            data_size_limit=settings.max_message_bytes,
            enable_SMTPUTF8=True,
            ident="Ideahub intake",
        )

    def start(self) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
        self.controller.start()
        log.info("smtp.started", host=self.controller.hostname, port=self.port)

    def stop(self, *, timeout: float = 30.0) -> None:
        """Stop listening, let the messages being stored be answered, then close."""
        server = self.controller.server
        if server is not None:
            self.controller.loop.call_soon_threadsafe(server.close)
        self.handler.drain(timeout)
        self.controller.stop()
        self.handler.close()
        log.info("smtp.stopped")

    def __enter__(self) -> IntakeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(settings: Settings, session_factory: sessionmaker[Session], stop: threading.Event) -> None:
    """Run until `stop` is set (SIGTERM or Ctrl-C)."""
    with IntakeServer(settings, session_factory):
        stop.wait()
