"""Notify's delivery modes against real servers: retries, failures, resends, the webhook, anonymity, opt-out.

Each test drives `handle_event`, `Notifier.deliver` and `Notifier.sweep` in this
process, with payloads taken from the outbox after a real submission, against an
aiosmtpd server or an HTTP server on 127.0.0.1 that fails in a scripted way.
SQLite only: none of this depends on the broker.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from sqlalchemy import event, select, update

from infra import people
from infra.composition import Runtime
from services.intake.handlers import Created, submit_idea
from services.intake.schemas import Submission
from services.notify.delivery import Notifier
from services.notify.handlers import (
    delivery_log,
    failed,
    handle_event,
    handle_events,
    notifier_for,
    resend,
    set_optional_mail,
)
from services.review.screening import screen_idea
from shared.clock import utcnow
from shared.config import Settings, load_settings
from shared.contracts.events import IdeaReceivedV1, IdeaStatusChangedV1
from shared.db.migrate import upgrade
from shared.db.models import Notification, OutboxMessage
from shared.db.uow import unit_of_work
from shared.errors import Conflict, NotFound
from shared.paging import PageRequest
from tests.conftest import free_port
from tests.helpers import wait_for

ADMIN = "ada.admin@example.gov.uk"
MAIL_FROM = "Ideahub <hub@example.gov.uk>"
SETTLED = ("sent", "failed", "unconfirmed", "skipped")


# A real SMTP server whose answers a test can script


class ScriptedInbox:
    """An aiosmtpd handler: refuses chosen recipients, answers chosen DATA commands badly, keeps the rest."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refused_recipients: set[str] = set()
        self.data_replies: list[str] = []  # the next DATA commands get these answers instead of 250
        self.drops = 0  # the next DATA commands are cut off: the connection closes without an answer
        self.idle_closes = 0  # connections closed for idleness (IdleTimeoutSMTP)
        self.raw: list[bytes] = []  # each accepted message's DATA, as it came over the wire
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if address.lower() in self.refused_recipients:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.drops:
                self.drops -= 1
                server.transport.close()  # gone mid-DATA, before taking the message
                return "421 4.3.0 Closing"  # written to a closed transport: the client never reads it
            if self.data_replies:
                return self.data_replies.pop(0)
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
            self.raw.append(bytes(envelope.original_content))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for rcpts, m in self.messages if address.lower() in (r.lower() for r in rcpts)]


class IdleTimeoutSMTP(SMTP):
    """Closes an idle connection as Postfix does at smtpd_timeout: a 421 first (RFC 5321 section 3.8)."""

    def _timeout_cb(self) -> None:
        self._writer.write(b"421 4.4.2 Error: timeout exceeded\r\n")
        self.event_handler.idle_closes += 1
        super()._timeout_cb()


class IdleTimeoutController(Controller):
    def factory(self) -> SMTP:
        return IdleTimeoutSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class SmtpServer:
    inbox: ScriptedInbox
    port: int
    controller: Controller | None = None
    idle_timeout: float | None = None  # close idle connections after this long, with a 421

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.idle_timeout is None:
            self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        else:
            self.controller = IdleTimeoutController(
                self.inbox, hostname="127.0.0.1", port=self.port, timeout=self.idle_timeout
            )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(ScriptedInbox(), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


# A real HTTP server to receive the webhook


@dataclass
class HookRequest:
    path: str
    headers: dict[str, str]
    body: bytes


class HookServer(ThreadingHTTPServer):
    def __init__(self, statuses: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), HookHandler)
        self.statuses = statuses  # answers for the next requests; 200 after them
        self.requests: list[HookRequest] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/ideahub"


class HookHandler(BaseHTTPRequestHandler):
    server: HookServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.requests.append(HookRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hook_server() -> Iterator[Callable[[list[int]], HookServer]]:
    servers: list[HookServer] = []

    def start(statuses: list[int]) -> HookServer:
        server = HookServer(list(statuses))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# One Ideahub installation on SQLite, with an administrator


@dataclass
class Hub:
    settings: Settings
    runtime: Runtime
    notifier: Notifier = field(init=False)

    def __post_init__(self) -> None:
        self.notifier = notifier_for(self.settings, self.runtime.session_factory)

    @property
    def factory(self) -> Any:
        return self.runtime.session_factory

    def submit(self, **fields: Any) -> tuple[Created, dict[str, Any]]:
        """A real submission; its idea.received.v1 payload as the outbox holds it."""
        body = {"title": "Shorter forms", "problem": "P", "idea": "I", "email": "sam.submitter@example.gov.uk"}
        with unit_of_work(self.factory) as session:
            created = submit_idea(
                session, Submission(**(body | fields)), channel="api", departments=self.settings.departments
            )
        return created, self.events(created.id, "idea.received.v1")[0]

    def events(self, idea_id: int, event_type: str) -> list[dict[str, Any]]:
        with unit_of_work(self.factory) as session:
            payloads = session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == event_type)
                .order_by(OutboxMessage.id)
            ).all()
        return [json.loads(p) for p in payloads]

    def screen(self, received: dict[str, Any]) -> None:
        """Run the review stage's screening on the idea, as its worker would: status in_review, reviewers assigned."""
        with unit_of_work(self.factory) as session:
            screen_idea(session, IdeaReceivedV1.model_validate(received), settings=self.settings)

    def rows(self, idea_id: int) -> list[Notification]:
        with unit_of_work(self.factory) as session:
            return list(
                session.scalars(select(Notification).where(Notification.idea_id == idea_id).order_by(Notification.id))
            )

    def row(self, idea_id: int, template: str, channel: str = "email") -> Notification:
        found = [r for r in self.rows(idea_id) if r.template == template and r.channel == channel]
        assert len(found) == 1, f"expected one {template} {channel} notification, got {len(found)}"
        return found[0]

    def get(self, notification_id: int) -> Notification:
        with unit_of_work(self.factory) as session:
            found = session.get(Notification, notification_id)
            assert found is not None
            return found

    def settle(self, notification_id: int, *, timeout: float = 15.0) -> Notification:
        """Run the sweep, as the worker does every poll, until the notification is settled one way or another."""
        deadline = time.monotonic() + timeout
        while True:
            row = self.get(notification_id)
            if row.state in SETTLED:
                return row
            if time.monotonic() > deadline:
                raise AssertionError(f"notification {notification_id} still {row.state} after {timeout}s of sweeps")
            self.notifier.sweep()
            time.sleep(0.05)

    def make_due(self, notification_id: int) -> None:
        """Bring a pending retry forward to now, as if its backoff had passed."""
        with unit_of_work(self.factory) as session:
            session.execute(
                update(Notification)
                .where(Notification.id == notification_id)
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Callable[..., Hub]]:
    runtimes: list[Runtime] = []

    def make(**overrides: Any) -> Hub:
        settings = load_settings(
            data_dir=tmp_path,
            queue_prefix="unit.",
            mail_from=MAIL_FROM,
            **(
                {
                    "notify_retry_seconds": 0.2,
                    "notify_retry_max_seconds": 2.0,
                    "notify_send_lease_seconds": 2.0,
                    "notify_poll_seconds": 0.2,
                }
                | overrides
            ),
        )
        upgrade(settings.effective_database_url)
        people.add(settings, email=ADMIN, name="Ada Admin", role="admin")
        runtime = Runtime(settings)
        runtimes.append(runtime)
        return Hub(settings, runtime)

    yield make
    for runtime in runtimes:
        runtime.close()


def text_of(message: email.message.EmailMessage) -> str:
    """Every header and decoded part of a message, to search for what must (not) be there."""
    parts = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


# 1-4: SMTP answers


def test_a_451_to_data_is_retried_and_the_message_arrives_once(hub: Callable[..., Hub], smtp: SmtpServer) -> None:
    h = hub(smtp_url=smtp.url)
    smtp.inbox.data_replies = ["451 4.3.0 Mailbox busy, try again later"]
    created, received = h.submit(name="Sam Submitter")

    handle_event(h.notifier, received)

    first = h.row(created.id, "submitter/received")
    assert (first.state, first.attempts) == ("pending", 1)
    assert "451" in (first.error or "")
    assert first.next_attempt_at is not None
    assert smtp.inbox.messages == []

    row = h.settle(first.id)
    assert (row.state, row.attempts, row.error) == ("sent", 2, None)
    messages = smtp.inbox.to("sam.submitter@example.gov.uk")
    assert len(messages) == 1
    assert len(smtp.inbox.messages) == 1
    assert str(messages[0]["Subject"]) == f"[{created.reference}] We have your idea"
    assert h.events(created.id, "notification.failed.v1") == []


@pytest.mark.parametrize("refused_at", ["RCPT", "DATA"])
def test_a_550_fails_at_once_tells_the_administrators_and_a_resend_delivers_it_once(
    hub: Callable[..., Hub], smtp: SmtpServer, refused_at: str
) -> None:
    h = hub(smtp_url=smtp.url)
    submitter = "sam.submitter@example.gov.uk"
    if refused_at == "RCPT":
        smtp.inbox.refused_recipients = {submitter}
    else:
        smtp.inbox.data_replies = ["550 5.7.1 Message rejected"]
    created, received = h.submit()

    handle_event(h.notifier, received)

    row = h.row(created.id, "submitter/received")
    assert (row.state, row.attempts) == ("failed", 1)
    assert "550" in (row.error or "")
    assert h.notifier.sweep() == 0  # failed is final: the sweep does not retry it
    assert h.get(row.id).attempts == 1
    assert smtp.inbox.to(submitter) == []

    alerts = h.events(created.id, "notification.failed.v1")
    assert len(alerts) == 1
    assert alerts[0]["notification_id"] == row.id
    assert alerts[0]["state"] == "failed"
    assert alerts[0]["template"] == "submitter/received"
    with unit_of_work(h.factory) as session:
        assert [v.id for v in failed(session, page=PageRequest(1, 100)).items] == [row.id]

    for _ in range(2):  # the alert event, delivered and redelivered: one email to the administrator
        handle_event(h.notifier, alerts[0])
    alert_row = h.row(created.id, "admin/notification_failed")
    assert (alert_row.state, alert_row.recipient, alert_row.audience) == ("sent", ADMIN, "admin")
    to_admin = smtp.inbox.to(ADMIN)
    assert len(to_admin) == 1
    assert str(to_admin[0]["Subject"]) == f"[{created.reference}] A notification was not delivered"
    assert str(row.id) in text_of(to_admin[0])

    smtp.inbox.refused_recipients = set()  # the mailbox is fixed; an administrator resends
    with unit_of_work(h.factory) as session:
        resend(session, row.id)
    again = h.get(row.id)
    assert (again.state, again.attempts) == ("pending", 0)

    h.notifier.sweep()

    done = h.get(row.id)
    assert (done.state, done.attempts) == ("sent", 1)
    assert len(smtp.inbox.to(submitter)) == 1
    with unit_of_work(h.factory) as session:
        assert failed(session, page=PageRequest(1, 100)).items == []
        with pytest.raises(Conflict):
            resend(session, row.id)  # sent: nothing to resend
        with pytest.raises(NotFound):
            resend(session, row.id + 1000)
    h.notifier.sweep()
    assert len(smtp.inbox.to(submitter)) == 1


def test_a_connection_dropped_during_data_is_retried_and_delivered_once(
    hub: Callable[..., Hub], smtp: SmtpServer
) -> None:
    h = hub(smtp_url=smtp.url)
    smtp.inbox.drops = 1
    created, received = h.submit()

    handle_event(h.notifier, received)

    first = h.row(created.id, "submitter/received")
    assert (first.state, first.attempts) == ("pending", 1)
    assert "SMTPServerDisconnected" in (first.error or "")
    assert smtp.inbox.messages == []

    row = h.settle(first.id)
    assert (row.state, row.attempts) == ("sent", 2)
    assert len(smtp.inbox.to("sam.submitter@example.gov.uk")) == 1
    assert len(smtp.inbox.messages) == 1


def test_a_refused_connection_is_retried_with_backoff_then_fails_and_a_resend_delivers_it(
    hub: Callable[..., Hub],
) -> None:
    port = free_port()  # nothing listens here yet
    # Long retries, brought forward by the test, so that "not yet due" is certain however slow the machine.
    h = hub(
        smtp_url=f"smtp://127.0.0.1:{port}",
        notify_max_attempts=3,
        notify_retry_seconds=30.0,
        notify_retry_max_seconds=3600.0,
    )
    created, received = h.submit()

    before = utcnow()
    handle_event(h.notifier, received)
    after = utcnow()

    row = h.row(created.id, "submitter/received")
    assert (row.state, row.attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in (row.error or "")
    assert row.next_attempt_at is not None
    assert before + timedelta(seconds=27) <= row.next_attempt_at <= after + timedelta(seconds=33)
    assert h.notifier.sweep() == 0  # not due yet: the sweep leaves it
    assert h.get(row.id).attempts == 1

    h.make_due(row.id)
    before = utcnow()
    assert h.notifier.sweep() == 1
    after = utcnow()
    second = h.get(row.id)
    assert (second.state, second.attempts) == ("pending", 2)
    assert second.next_attempt_at is not None  # the wait doubles
    assert before + timedelta(seconds=54) <= second.next_attempt_at <= after + timedelta(seconds=66)

    h.make_due(row.id)
    assert h.notifier.sweep() == 1
    last = h.get(row.id)
    assert (last.state, last.attempts) == ("failed", 3)
    assert "gave up after 3 attempts" in (last.error or "")
    assert "connection" in (last.error or "").lower()
    assert last.next_attempt_at is None
    alerts = h.events(created.id, "notification.failed.v1")
    assert [(a["notification_id"], a["state"]) for a in alerts] == [(row.id, "failed")]

    server = SmtpServer(ScriptedInbox(), port)  # the mail server is back
    server.start()
    try:
        with unit_of_work(h.factory) as session:
            resend(session, row.id)
        h.notifier.sweep()
        done = h.get(row.id)
        assert (done.state, done.attempts) == ("sent", 1)
        assert len(server.inbox.to("sam.submitter@example.gov.uk")) == 1
        assert len(server.inbox.messages) == 1
    finally:
        server.stop()


def test_messages_go_over_smtp_with_crlf_line_endings(hub: Callable[..., Hub], smtp: SmtpServer) -> None:
    # Regression: the message used to go as bytes with bare LFs, one "line" too long for aiosmtpd (500).
    h = hub(smtp_url=smtp.url)
    created, received = h.submit()
    handle_event(h.notifier, received)
    row = h.row(created.id, "submitter/received")
    assert (row.state, row.error) == ("sent", None)
    (raw,) = smtp.inbox.raw
    assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF in the message sent over SMTP"


def test_a_kept_connection_the_server_closed_with_421_is_replaced_without_losing_an_attempt(
    hub: Callable[..., Hub],
) -> None:
    server = SmtpServer(ScriptedInbox(), free_port(), idle_timeout=0.5)
    server.start()
    try:
        h = hub(smtp_url=server.url)
        first, received = h.submit(email="first@example.gov.uk")
        handle_event(h.notifier, received)
        assert h.row(first.id, "submitter/received").state == "sent"
        wait_for(lambda: server.inbox.idle_closes >= 1, timeout=10, what="the server to close the idle connection")

        second, received = h.submit(email="second@example.gov.uk")
        handle_event(h.notifier, received)

        row = h.row(second.id, "submitter/received")
        assert (row.state, row.attempts, row.error) == ("sent", 1, None)
        assert len(server.inbox.to("second@example.gov.uk")) == 1
    finally:
        server.stop()


# 5: the same event twice


def test_a_redelivered_event_sends_one_message_and_records_one_row(hub: Callable[..., Hub], smtp: SmtpServer) -> None:
    h = hub(smtp_url=smtp.url)
    created, received = h.submit()

    handle_event(h.notifier, received)
    handle_event(h.notifier, received)
    h.notifier.sweep()

    rows = h.rows(created.id)
    assert [(r.template, r.state, r.attempts) for r in rows] == [("submitter/received", "sent", 1)]
    assert len(smtp.inbox.messages) == 1


# 6: the webhook


def verify(secret: str, request: HookRequest) -> bool:
    signed = request.headers["ideahub-timestamp"].encode() + b"." + request.body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers["ideahub-signature"])


def test_a_webhook_answering_500_is_retried_with_the_same_delivery_key_and_a_signed_body_without_the_submitter(
    hub: Callable[..., Hub], hook_server: Callable[[list[int]], HookServer]
) -> None:
    receiver = hook_server([500, 500])
    secret = "a-webhook-secret"
    h = hub(webhook_url=receiver.url, webhook_secret=secret)
    created, received = h.submit(name="Wendy Whistler", email="wendy.whistler@example.gov.uk")
    assert received["submitter"]["email"] == "wendy.whistler@example.gov.uk"  # the event has them; the hook must not

    handle_event(h.notifier, received)
    first = h.row(created.id, "idea.received.v1", channel="webhook")
    assert (first.state, first.attempts) == ("pending", 1)
    assert "500" in (first.error or "")

    row = h.settle(first.id)
    assert (row.state, row.attempts, row.audience) == ("sent", 3, "webhook")
    assert len(receiver.requests) == 3
    assert {r.path for r in receiver.requests} == {"/hooks/ideahub"}
    assert len({r.headers["ideahub-delivery"] for r in receiver.requests}) == 1
    assert {r.headers["ideahub-event"] for r in receiver.requests} == {"idea.received.v1"}
    for request in receiver.requests:
        assert verify(secret, request)
        assert not verify("another-secret", request)
        assert request.headers["content-type"] == "application/json"
        document = json.loads(request.body)
        assert document["type"] == "idea.received.v1"
        assert document["event"]["idea_reference"] == created.reference
        assert document["event"]["event_id"] == received["event_id"]
        assert "submitter" not in document["event"]
        for secret_word in (b"Wendy", b"Whistler", b"wendy.whistler"):
            assert secret_word not in request.body
    # The submitter's own acknowledgement still went, by .eml (no SMTP configured).
    assert h.row(created.id, "submitter/received").state == "sent"


def test_a_webhook_answering_404_fails_at_once(
    hub: Callable[..., Hub], hook_server: Callable[[list[int]], HookServer]
) -> None:
    receiver = hook_server([404])
    h = hub(webhook_url=receiver.url, webhook_secret="a-webhook-secret")
    created, received = h.submit()

    handle_event(h.notifier, received)

    row = h.row(created.id, "idea.received.v1", channel="webhook")
    assert (row.state, row.attempts) == ("failed", 1)
    assert "404" in (row.error or "")
    assert h.notifier.sweep() == 0
    assert len(receiver.requests) == 1
    alerts = h.events(created.id, "notification.failed.v1")
    assert [(a["notification_id"], a["channel"]) for a in alerts] == [(row.id, "webhook")]

    handle_event(h.notifier, alerts[0])  # administrators hear of it by email; the webhook is not told of itself
    assert h.row(created.id, "admin/notification_failed").state == "sent"
    assert [r.template for r in h.rows(created.id) if r.channel == "webhook"] == ["idea.received.v1"]
    assert len(receiver.requests) == 1


# 7: anonymity


def test_a_reviewer_of_an_anonymous_idea_never_sees_the_submitter(hub: Callable[..., Hub]) -> None:
    h = hub()  # no SMTP: messages are .eml files in the data folder
    people.add(h.settings, email="rita.reviewer@example.gov.uk", name="Rita Reviewer", role="reviewer")
    name, address = "Priya Private", "priya.private@example.gov.uk"
    created, received = h.submit(name=name, email=address, anonymous=True)
    h.screen(received)
    assigned = h.events(created.id, "review.assigned.v1")
    assert len(assigned) == 1

    for payload in [received, *h.events(created.id, "idea.status_changed.v1"), *assigned]:
        handle_event(h.notifier, payload)

    review_row = h.row(created.id, "reviewer/review_assigned")
    assert (review_row.state, review_row.recipient) == ("sent", "rita.reviewer@example.gov.uk")
    to_reviewer = []
    for path in sorted(h.settings.mail_dir.glob("*.eml")):
        raw = path.read_bytes()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if "rita.reviewer@example.gov.uk" in str(message["To"]):
            to_reviewer.append((raw, message))
    assert len(to_reviewer) == 1
    raw, message = to_reviewer[0]
    assert str(message["Subject"]) == f"[{created.reference}] You have a new idea to review"
    content = text_of(message)  # type: ignore[arg-type]
    assert "Shorter forms" in content
    for secret in ("Priya", "Private", "priya.private"):
        assert secret not in content
        assert secret.encode() not in raw

    with unit_of_work(h.factory) as session:
        hidden = delivery_log(session, created.reference, reveal=False)
        shown = delivery_log(session, created.reference, reveal=True)
    submitter_rows = [v for v in hidden if v.audience == "submitter"]
    assert {v.template for v in submitter_rows} == {"submitter/received", "submitter/in_review"}
    for view in submitter_rows:
        assert address not in view.recipient
        assert "priya" not in view.recipient.lower()
    assert [v.recipient for v in hidden if v.audience == "reviewer"] == ["rita.reviewer@example.gov.uk"]
    assert {v.recipient for v in shown if v.audience == "submitter"} == {address}


# 8: optional mail turned off


def test_turning_optional_mail_off_skips_status_news_but_not_a_question(
    hub: Callable[..., Hub], smtp: SmtpServer
) -> None:
    h = hub(smtp_url=smtp.url)
    submitter = "sam.submitter@example.gov.uk"
    created, received = h.submit()
    handle_event(h.notifier, received)
    assert len(smtp.inbox.to(submitter)) == 1  # the acknowledgement

    with unit_of_work(h.factory) as session:
        set_optional_mail(session, created.status_token, False)
    h.screen(received)  # in review: optional news
    (in_review,) = h.events(created.id, "idea.status_changed.v1")
    assert in_review["to_status"] == "in_review"
    handle_event(h.notifier, in_review)

    skipped = h.row(created.id, "submitter/in_review")
    assert (skipped.state, skipped.attempts) == ("skipped", 0)
    assert h.notifier.sweep() == 0
    assert len(smtp.inbox.to(submitter)) == 1

    question = IdeaStatusChangedV1.caused_by(
        IdeaReceivedV1.model_validate(received),
        from_status="in_review",
        to_status="needs_info",
        reason="How many forms a year would this save?",
        actor="reviewer",
    )
    handle_event(h.notifier, question.model_dump(mode="json"))

    asked = h.row(created.id, "submitter/needs_info")
    assert (asked.state, asked.attempts) == ("sent", 1)
    messages = smtp.inbox.to(submitter)
    assert len(messages) == 2
    needs_info = messages[1]
    assert str(needs_info["Subject"]) == f"[{created.reference}] Your idea needs more information"
    assert "How many forms a year would this save?" in text_of(needs_info)
    assert needs_info["List-Unsubscribe"] is None  # it needs their answer: no way to turn it off


def test_a_batch_of_events_is_recorded_in_a_fixed_number_of_statements_and_a_repeat_in_it_changes_nothing(
    hub: Callable[..., Hub],
) -> None:
    """Notify reads the ideas and people a batch names together and inserts its rows together: no query an event."""
    h = hub()
    for n in (1, 2):
        people.add(h.settings, email=f"batch.reviewer{n}@example.gov.uk", name=f"Reviewer {n}", role="reviewer")
    payloads: list[dict[str, Any]] = []
    ideas = []
    for n in range(3):
        created, received = h.submit(title=f"Batch idea {n}", email=f"batch{n}@example.gov.uk")
        h.screen(received)
        ideas.append(created.id)
        payloads += [
            received,
            *h.events(created.id, "idea.status_changed.v1"),
            *h.events(created.id, "review.assigned.v1"),
        ]
    assert len(payloads) == 12

    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.startswith(("BEGIN", "COMMIT")):  # SQLite's own transaction control
            statements.append(statement.split(None, 1)[0].upper())

    event.listen(h.runtime.engine, "before_cursor_execute", seen)
    try:
        handle_events(h.notifier, payloads + payloads[:2])  # two of them twice in the batch
    finally:
        event.remove(h.runtime.engine, "before_cursor_execute", seen)

    # processed_messages, the ideas, the people, the notifications: one statement each.
    assert sorted(statements) == ["INSERT", "INSERT", "SELECT", "SELECT"]
    templates = sorted(r.template for idea in ideas for r in h.rows(idea) if r.state == "sent")
    assert templates == sorted(
        ["submitter/received", "submitter/in_review", "reviewer/review_assigned", "reviewer/review_assigned"] * 3
    )
    assert len(list(h.settings.mail_dir.glob("*.eml"))) == 12

    handle_events(h.notifier, payloads)  # redelivered, all of them: nothing new
    assert sum(len(h.rows(idea)) for idea in ideas) == 12
