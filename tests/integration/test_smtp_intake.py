"""Email intake over SMTP: the real aiosmtpd server in this process, mail sent with smtplib.

Each stack's database serves the whole module; every test uses its own sender
addresses and Message-IDs. The last test runs the relay and a notify worker as real
processes, so that the acknowledgement and the refusal are actually delivered, once.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import email.utils
import functools
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from infra.composition import Runtime
from services.intake.smtp import IntakeServer
from shared import lifecycle
from shared.config import Settings
from shared.db.models import Attachment, Idea, IdeaMessage, InboundMail, Notification, OutboxMessage, Question
from shared.db.uow import unit_of_work
from tests.conftest import Stack, free_port
from tests.helpers import smtp_server, start_component, wait_for

pytestmark = pytest.mark.processes

INTAKE = "ideas@example.gov.uk"
MAIL_FROM = "Ideahub <hub@example.gov.uk>"
PDF = b"%PDF-1.4\n% plan\n"
# Shared by the server in this process and the worker processes of the last test.
OPTIONS = {
    "intake_address": INTAKE,
    "mail_from": MAIL_FROM,
    "intake_allowed_domains": "example.gov.uk,example.org",
    "mail_rate_limit": "3/hour",
    "max_message_bytes": "200000",
    "max_attachment_bytes": "20000",
}


@dataclass
class Intake:
    settings: Settings
    factory: sessionmaker[Session]
    port: int
    stack: Stack

    def connect(self) -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        client.ehlo("client.example.org")
        return client

    def send(self, message: EmailMessage, *, sender: str | None = None) -> tuple[int, bytes]:
        """MAIL, RCPT and DATA one by one: the answer to DATA (or to the command that refused it)."""
        with self.connect() as client:
            code, answer = client.mail(sender if sender is not None else address_of(message))
            if code != 250:
                return code, answer
            code, answer = client.rcpt(INTAKE)
            if code != 250:
                return code, answer
            return client.data(message.as_bytes(policy=email.policy.SMTP))


@pytest.fixture(scope="module")
def intake(stack: Stack) -> Iterator[Intake]:
    settings = stack.settings(**{k: v.split(",") if k.endswith("domains") else v for k, v in OPTIONS.items()})
    runtime = Runtime(settings)
    server = IntakeServer(settings, runtime.session_factory, port=free_port())
    server.start()
    try:
        yield Intake(settings, runtime.session_factory, server.port, stack)
    finally:
        server.stop()
        runtime.close()


def address_of(message: EmailMessage) -> str:
    return email.utils.parseaddr(str(message["From"]))[1]


def idea_email(sender: str, *, body: str = "Patients miss appointments.\n\nText them two days before.", **headers: str):  # type: ignore[no-untyped-def]
    m = EmailMessage()
    m["From"] = f"Nadia Nurse <{sender}>"
    m["To"] = INTAKE
    m["Subject"] = headers.pop("Subject", "Text reminders for clinic appointments")
    m["Message-ID"] = headers.pop("Message_ID", f"<{uuid.uuid4().hex}@mail.example.gov.uk>")
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(body)
    return m


def unique(name: str) -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.gov.uk"


def scalar(factory: sessionmaker[Session], query: Any) -> Any:
    with unit_of_work(factory) as session:
        return session.scalar(query)


def rows(factory: sessionmaker[Session], query: Any) -> list[Any]:
    with unit_of_work(factory) as session:
        return list(session.execute(query).all())


def events(factory: sessionmaker[Session], event_type: str, **match: Any) -> list[dict[str, Any]]:
    """Payloads of the outbox events of one type whose fields match."""
    payloads = [
        json.loads(p)
        for (p,) in rows(factory, select(OutboxMessage.payload).where(OutboxMessage.event_type == event_type))
    ]
    return [p for p in payloads if all(p.get(k) == v for k, v in match.items())]


def ideas_from(factory: sessionmaker[Session], sender: str) -> list[Any]:
    return rows(
        factory,
        select(Idea.id, Idea.reference, Idea.title, Idea.channel, Idea.status, Idea.problem, Idea.proposal).where(
            Idea.submitter_email == sender
        ),
    )


def inbound(factory: sessionmaker[Session], sender: str) -> list[tuple[str, str | None]]:
    return [
        tuple(r)
        for r in rows(factory, select(InboundMail.outcome, InboundMail.detail).where(InboundMail.sender == sender))
    ]  # type: ignore[misc]


# --- ideas ----------------------------------------------------------------------------------------------------------


def test_an_email_becomes_one_idea_by_email_with_its_files_kept_or_named(intake: Intake) -> None:
    sender = unique("nadia")
    message = idea_email(sender)
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="plan.pdf")
    message.add_attachment(b"MZ\x90", maintype="application", subtype="x-msdownload", filename="virus.exe")

    code, answer = intake.send(message)

    assert code == 250
    ((idea_id, reference, title, channel, status, problem, proposal),) = ideas_from(intake.factory, sender)
    assert answer.decode().endswith(reference)
    assert (title, channel, status) == ("Text reminders for clinic appointments", "email", "received")
    assert (problem, proposal) == (
        "Patients miss appointments.",
        "Patients miss appointments.\n\nText them two days before.",
    )
    stored = rows(
        intake.factory,
        select(Attachment.filename, Attachment.content_type, Attachment.sha256, Attachment.content).where(
            Attachment.idea_id == idea_id
        ),
    )
    assert [(f, t, c) for f, t, _, c in stored] == [("plan.pdf", "application/pdf", PDF)]
    assert len(stored[0].sha256) == 64
    (received,) = events(intake.factory, "idea.received.v1", idea_reference=reference)
    assert received["channel"] == "email"
    assert received["in_reply_to"] == message["Message-ID"]
    assert received["attachments_refused"] == ["virus.exe (this type of file is not accepted)"]
    assert inbound(intake.factory, sender) == [("idea", reference)]


def test_the_same_message_delivered_twice_makes_one_idea(intake: Intake) -> None:
    sender = unique("twice")
    message = idea_email(sender)
    first = intake.send(message)
    second = intake.send(message)
    assert first[0] == second[0] == 250
    assert first[1] == second[1]  # the same reference both times
    (idea,) = ideas_from(intake.factory, sender)
    assert len(events(intake.factory, "idea.received.v1", idea_reference=idea.reference)) == 1
    assert inbound(intake.factory, sender) == [("idea", idea.reference)]


def test_the_same_message_delivered_twice_at_once_makes_one_idea(intake: Intake) -> None:
    sender = unique("racing")
    message = idea_email(sender)
    answers: list[tuple[int, bytes]] = []
    threads = [threading.Thread(target=lambda: answers.append(intake.send(message))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [code for code, _ in answers] == [250] * 3
    (idea,) = ideas_from(intake.factory, sender)
    assert len(events(intake.factory, "idea.received.v1", idea_reference=idea.reference)) == 1


# --- what the conversation refuses ----------------------------------------------------------------------------------


def test_mail_for_anyone_but_the_intake_address_is_refused_so_it_is_no_open_relay(intake: Intake) -> None:
    with intake.connect() as client:
        assert client.mail(unique("relay"))[0] == 250
        code, answer = client.rcpt("victim@elsewhere.example.com")
        assert code == 550
        assert INTAKE.encode() in answer
        assert client.rcpt("IDEAS@Example.GOV.uk")[0] == 250  # addresses compare without case


def test_mail_over_the_size_limit_is_refused_during_data_and_nothing_is_stored(intake: Intake) -> None:
    sender = unique("big")
    message = idea_email(sender, body="A big idea. " * 20_000)  # about 240 KB, over 200,000 bytes
    with intake.connect() as client:
        assert client.mail(sender)[0] == 250  # no SIZE given: the limit is found during DATA
        assert client.rcpt(INTAKE)[0] == 250
        code, _ = client.data(message.as_bytes(policy=email.policy.SMTP))
    assert code == 552
    assert ideas_from(intake.factory, sender) == []
    assert inbound(intake.factory, sender) == []
    with intake.connect() as client:  # a client that says the size up front is refused at MAIL FROM
        code, _ = client.mail(sender, ["SIZE=240000"])
    assert code == 552


def test_a_sender_from_a_domain_not_allowed_is_refused_at_mail_from(intake: Intake) -> None:
    code, _ = intake.send(idea_email("mallory@elsewhere.example.com"))
    assert code == 550
    assert (
        intake.send(idea_email(f"nadia.{uuid.uuid4().hex[:6]}@wards.example.gov.uk"))[0] == 250
    )  # a subdomain is fine
    assert ideas_from(intake.factory, "mallory@elsewhere.example.com") == []


def test_a_sender_over_the_rate_limit_is_told_to_try_later(intake: Intake) -> None:
    sender = unique("eager")
    for n in range(3):
        assert intake.send(idea_email(sender, Subject=f"Idea number {n}"))[0] == 250
    code, answer = intake.send(idea_email(sender, Subject="One too many"))
    assert code == 450
    assert answer.startswith(b"4.7.1")
    assert len(ideas_from(intake.factory, sender)) == 3
    assert intake.send(idea_email(unique("patient")))[0] == 250  # others are not held up


# --- replies --------------------------------------------------------------------------------------------------------


def sent_idea(intake: Intake, sender: str) -> tuple[int, str]:
    assert intake.send(idea_email(sender))[0] == 250
    (idea,) = ideas_from(intake.factory, sender)
    return idea.id, idea.reference


def reply_to(sender: str, reference: str, text: str, **headers: str) -> EmailMessage:
    return idea_email(
        sender,
        body=f"{text}\n\nOn Mon, 7 Dec 2026 at 10:00, Ideahub <{INTAKE}> wrote:\n> Your idea needs more information\n",
        Subject=headers.pop("Subject", "Re: Your idea"),
        In_Reply_To=f"<0f3e-1234abcd.{reference}@example.gov.uk>",
        **headers,
    )


def test_a_reply_from_the_submitter_is_added_to_the_idea_s_history(intake: Intake) -> None:
    sender = unique("noter")
    idea_id, reference = sent_idea(intake, sender)
    assert intake.send(reply_to(sender, reference, "One more thing: evenings suit them best."))[0] == 250
    notes = rows(
        intake.factory,
        select(IdeaMessage.kind, IdeaMessage.channel, IdeaMessage.body).where(IdeaMessage.idea_id == idea_id),
    )
    assert [tuple(n) for n in notes] == [("note", "email", "One more thing: evenings suit them best.")]
    assert inbound(intake.factory, sender)[-1] == ("note", reference)


def test_a_reply_from_the_submitter_answers_the_open_question(intake: Intake) -> None:
    sender = unique("answerer")
    idea_id, reference = sent_idea(intake, sender)
    with unit_of_work(intake.factory) as session:
        lifecycle.transition(session, lifecycle.load(session, idea_id), lifecycle.Status.IN_REVIEW)
        lifecycle.transition(session, lifecycle.load(session, idea_id), lifecycle.Status.NEEDS_INFO, reason="How many?")
        session.add(Question(idea_id=idea_id, text="How many clinics would take part?"))

    reply = reply_to(sender, reference, "Three clinics.", Subject=f"Re: [{reference}] Your idea needs more information")
    del reply["In-Reply-To"]  # the reference in the subject is enough
    assert intake.send(reply)[0] == 250

    assert scalar(intake.factory, select(Idea.status).where(Idea.id == idea_id)) == "in_review"
    (question,) = rows(intake.factory, select(Question.state, Question.answer).where(Question.idea_id == idea_id))
    assert tuple(question) == ("answered", "Three clinics.")
    assert [
        tuple(m)
        for m in rows(intake.factory, select(IdeaMessage.kind, IdeaMessage.body).where(IdeaMessage.idea_id == idea_id))
    ] == [("answer", "Three clinics.")]


def test_a_reply_from_someone_else_is_refused_and_they_are_told_why(intake: Intake) -> None:
    sender = unique("owner")
    idea_id, reference = sent_idea(intake, sender)
    stranger = unique("stranger")
    reply = reply_to(stranger, reference, "I would like to change this idea.")
    assert intake.send(reply)[0] == 250
    assert (
        scalar(intake.factory, select(func.count()).select_from(IdeaMessage).where(IdeaMessage.idea_id == idea_id)) == 0
    )
    (refused,) = events(intake.factory, "mail.refused.v1", to=stranger)
    assert refused["in_reply_to"] == reply["Message-ID"]
    assert refused["idea_id"] is None
    assert f"only the person who sent idea {reference}" in refused["reason"]
    assert sender not in refused["reason"]
    assert inbound(intake.factory, stranger)[0][0] == "refused"


# --- loops and refusals ---------------------------------------------------------------------------------------------


def test_an_auto_reply_and_a_bounce_get_nothing(intake: Intake) -> None:
    away = unique("away")
    assert intake.send(idea_email(away, Subject="Out of office", Auto_Submitted="auto-replied"))[0] == 250
    bounce = idea_email(unique("bounced"), Subject="Undelivered Mail Returned to Sender")
    assert intake.send(bounce, sender="")[0] == 250  # MAIL FROM:<>
    for sender in (away, address_of(bounce)):
        assert ideas_from(intake.factory, sender) == []
        assert events(intake.factory, "mail.refused.v1", to=sender) == []
        assert [outcome for outcome, _ in inbound(intake.factory, sender)] == ["ignored"]


def test_a_message_that_cannot_become_an_idea_gets_a_refusal_saying_why(intake: Intake) -> None:
    sender = unique("filesonly")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = INTAKE
    message["Subject"] = "See attached"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@x.example.gov.uk>"
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="idea.pdf")
    assert intake.send(message)[0] == 250
    assert intake.send(message)[0] == 250  # again: still one refusal
    assert ideas_from(intake.factory, sender) == []
    (refused,) = events(intake.factory, "mail.refused.v1", to=sender)
    assert refused["reason"] == "your email had files but no text: write your idea in the email itself"
    assert refused["subject"] == "See attached"


# --- the whole way round, with real workers -------------------------------------------------------------------------


class Inbox:
    """The outgoing mail server: keeps what the notify worker sends."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for rcpts, m in self.messages if address in rcpts]


@pytest.mark.e2e
def test_the_acknowledgement_and_the_refusal_are_delivered_once_threaded_with_the_email(intake: Intake) -> None:
    submitter, stranger = unique("delivered"), unique("refused")
    idea_message = idea_email(submitter)
    idea_message.add_attachment(b"MZ", maintype="application", subtype="x-msdownload", filename="virus.exe")
    empty = idea_email(stranger, body="", Subject="My idea")
    inbox = Inbox()
    with smtp_server(inbox) as port:
        env = {
            **intake.stack.env,
            **{f"IDEAHUB_{k.upper()}": v for k, v in OPTIONS.items()},
            "IDEAHUB_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "IDEAHUB_NOTIFY_POLL_SECONDS": "0.2",
        }
        processes = [
            start_component(intake.stack.data_dir, "intake-relay", env, "relay"),
            start_component(intake.stack.data_dir, "intake-notify", env, "worker", "notify", "--threads", "2"),
        ]
        try:
            assert intake.send(idea_message)[0] == 250
            assert intake.send(empty)[0] == 250
            (ack,) = wait_for(lambda: inbox.to(submitter), what="the acknowledgement")
            (refusal,) = wait_for(lambda: inbox.to(stranger), what="the refusal")
            assert intake.send(idea_message)[0] == 250  # delivered again: no second idea, no second email
            assert intake.send(empty)[0] == 250

            def settled() -> bool:
                states = rows(
                    intake.factory, select(Notification.state).where(Notification.recipient.in_([submitter, stranger]))
                )
                return len(states) == 2 and all(s == "sent" for (s,) in states)

            wait_for(settled, what="both notifications to be recorded as sent")
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            codes = [process.wait(timeout=60) for process in processes]
    assert codes == [0, 0]

    (idea,) = ideas_from(intake.factory, submitter)
    assert len(inbox.to(submitter)) == 1
    assert len(inbox.to(stranger)) == 1
    assert ack["Subject"] == f"[{idea.reference}] We have your idea"
    assert ack["In-Reply-To"] == ack["References"] == idea_message["Message-ID"]
    assert ack["Reply-To"] == INTAKE
    assert f".{idea.reference}@example.gov.uk>" in ack["Message-ID"]  # a reply to it finds the idea
    ack_text = ack.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "virus.exe (this type of file is not accepted)" in ack_text
    assert refusal["Subject"] == "We could not take your idea from your email"
    assert refusal["In-Reply-To"] == empty["Message-ID"]
    assert "we could not find any text in your email" in refusal.get_body(("plain",)).get_content()  # type: ignore[union-attr]


# --- the command ----------------------------------------------------------------------------------------------------


def test_ideahub_smtp_on_a_port_already_taken_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")}
    run = functools.partial(subprocess.run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert run([sys.executable, "-m", "infra.cli", "db", "upgrade"]).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env["IDEAHUB_SMTP_INTAKE_PORT"] = str(taken.getsockname()[1])
        env["AIOSMTPD_CONTROLLER_TIMEOUT"] = "1"  # aiosmtpd waits this long for a server that could not bind
        answer = run([sys.executable, "-m", "infra.cli", "smtp"])
    assert answer.returncode == 2
    assert f"Cannot listen on 127.0.0.1:{env['IDEAHUB_SMTP_INTAKE_PORT']}" in answer.stderr
    assert "Traceback" not in answer.stderr
