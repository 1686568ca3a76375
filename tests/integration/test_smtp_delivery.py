"""With IDEAHUB_SMTP_URL set, notifications go to a real SMTP server (aiosmtpd), once each."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from infra.composition import Runtime
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.notify.handlers import handle_event, notifier_for
from shared.config import Settings, load_settings
from shared.db.migrate import upgrade
from shared.db.models import Notification, OutboxMessage
from shared.db.uow import unit_of_work
from tests.helpers import smtp_server as running_smtp_server


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802 - aiosmtpd's name
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
