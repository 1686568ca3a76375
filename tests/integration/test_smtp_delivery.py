"""With IDEAHUB_SMTP_URL set, notifications go to a real SMTP server (aiosmtpd), once each."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from infra.composition import Runtime
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.notify.handlers import handle_event, handle_events, notifier_for
from services.notify.worker import DeliveryPool
from shared.config import Settings, load_settings
from shared.db.migrate import upgrade
from shared.db.models import Notification, OutboxMessage
from shared.db.uow import unit_of_work
from tests.helpers import smtp_server as running_smtp_server


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[attr-defined]
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with running_smtp_server(inbox) as port:
        yield inbox, port


@pytest.fixture
def settings(tmp_path: Path, smtp_server: tuple[Inbox, int]) -> Settings:
    _, port = smtp_server
    settings = load_settings(
        data_dir=tmp_path, smtp_url=f"smtp://127.0.0.1:{port}", mail_from="Ideahub <hub@example.gov.uk>"
    )
    upgrade(settings.effective_database_url)
    return settings


def test_an_acknowledgement_goes_through_smtp_once_however_often_the_event_arrives(
    settings: Settings, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    runtime = Runtime(settings)
    with unit_of_work(runtime.session_factory) as session:
        created = submit_idea(
            session,
            Submission(title="By SMTP", problem="P", idea="I", name="Óscar Ó", email="Oscar@Example.gov.uk"),
            channel="api",
            departments=settings.departments,
        )
        payload = json.loads(
            session.scalar(select(OutboxMessage.payload).where(OutboxMessage.idea_id == created.id)) or "{}"
        )

    notifier = notifier_for(settings, runtime.session_factory)
    for _ in range(2):  # delivered, then redelivered
        handle_event(notifier, payload)

    assert len(inbox.messages) == 1
    sender, recipients, message = inbox.messages[0]
    assert sender == "hub@example.gov.uk"
    assert recipients == ["oscar@example.gov.uk"]
    assert str(message["Subject"]) == f"[{created.reference}] We have your idea"
    assert message["To"].addresses[0].display_name == "Óscar Ó"
    assert created.status_token in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert message.get_body(("html",)) is not None
    with unit_of_work(runtime.session_factory) as session:
        rows = session.execute(
            select(Notification.template, Notification.state).where(Notification.idea_id == created.id)
        ).all()
    assert [tuple(row) for row in rows] == [("submitter/received", "sent")]
    assert not list(settings.mail_dir.glob("*.eml"))  # SMTP replaces the .eml files
    runtime.close()


class GatedInbox(Inbox):
    """A mail server that holds every message until `open` is set (or ten seconds pass)."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        deadline = time.monotonic() + 10
        while not self.open.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


def test_a_slow_mail_server_holds_up_the_delivery_threads_not_the_recording_of_events(tmp_path: Path) -> None:
    inbox = GatedInbox()
    with running_smtp_server(inbox) as port:
        settings = load_settings(data_dir=tmp_path, smtp_url=f"smtp://127.0.0.1:{port}")
        upgrade(settings.effective_database_url)
        runtime = Runtime(settings)
        payloads, ids = [], []
        for n in range(3):
            with unit_of_work(runtime.session_factory) as session:
                created = submit_idea(
                    session,
                    Submission(title=f"Slow mail {n}", problem="P", idea="I", email=f"slow{n}@example.gov.uk"),
                    channel="api",
                    departments=settings.departments,
                )
                ids.append(created.id)
                payloads.append(
                    json.loads(session.scalar(select(OutboxMessage.payload).where(OutboxMessage.idea_id == created.id)))
                )
        notifier = notifier_for(settings, runtime.session_factory)
        deliveries = DeliveryPool(threads=2)
        started = time.monotonic()
        for payload in payloads:  # as the consumer hands over its batches
            handle_events(notifier, [payload], deliveries)
        handed_over = time.monotonic() - started

        def states() -> list[str]:
            with unit_of_work(runtime.session_factory) as session:
                return sorted(session.scalars(select(Notification.state).where(Notification.idea_id.in_(ids))))

        recorded_while_held = states()
        messages_while_held = len(inbox.messages)
        inbox.open.set()
        deliveries.close()  # finishes what it was handed
        delivered = states()
        runtime.close()

    assert handed_over < 5, "recording waited for the mail server"
    assert messages_while_held == 0
    assert len(recorded_while_held) == 3
    assert set(recorded_while_held) <= {"pending", "sending"}
    assert sorted(recipients[0] for _, recipients, _ in inbox.messages) == [f"slow{n}@example.gov.uk" for n in range(3)]
    assert delivered == ["sent", "sent", "sent"]
