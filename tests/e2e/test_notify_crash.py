"""SIGKILL the notify worker after the mail server took a message and before the database heard of it.

The SMTP server (aiosmtpd, in this process) stores the submitter's acknowledgement
and kills the worker before answering 250. A second worker must not send it again:
the row ends `unconfirmed`, administrators are emailed, and every other
notification about the idea still arrives exactly once.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import os
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from infra import people
from infra.composition import Runtime
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.notify.handlers import failed
from shared.db.models import Notification
from shared.db.uow import unit_of_work
from shared.paging import PageRequest
from tests.conftest import Stack
from tests.helpers import smtp_server, start_component, wait_for

pytestmark = pytest.mark.e2e

SUBMITTER = "kim.killed@example.gov.uk"
ADMIN = "crash.admin@example.gov.uk"
REVIEWERS = ("crash.rev1@example.gov.uk", "crash.rev2@example.gov.uk")


class KillingInbox:
    """Keeps every message; on the first one for `victim_address`, SIGKILLs `victim` before answering 250."""

    def __init__(self, victim_address: str) -> None:
        self.victim_address = victim_address
        self.victim: subprocess.Popen[bytes] | None = None
        self.killed = threading.Event()
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        victim = self.victim
        if victim is not None and self.victim_address in envelope.rcpt_tos and not self.killed.is_set():
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=30)  # dead before it can read the 250
            self.killed.set()
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for rcpts, m in self.messages if address in rcpts]

    def subjects(self) -> Counter[tuple[str, str]]:
        with self.lock:
            return Counter((rcpt, str(m["Subject"])) for rcpts, m in self.messages for rcpt in rcpts)


@pytest.fixture
def smtp() -> Iterator[tuple[KillingInbox, int]]:
    inbox = KillingInbox(SUBMITTER)
    with smtp_server(inbox) as port:
        yield inbox, port


def test_a_worker_killed_after_the_server_took_an_email_never_sends_it_twice_and_tells_an_administrator(
    stack: Stack, smtp: tuple[KillingInbox, int]
) -> None:
    inbox, port = smtp
    settings = stack.settings()
    people.add(settings, email=ADMIN, name="Casey Admin", role="admin")
    for n, address in enumerate(REVIEWERS, 1):
        people.add(settings, email=address, name=f"Crash Reviewer {n}", role="reviewer")
    env = {
        **stack.env,
        "IDEAHUB_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "IDEAHUB_MAIL_FROM": "Ideahub <hub@example.gov.uk>",
        "IDEAHUB_NOTIFY_SEND_LEASE_SECONDS": "2",
        "IDEAHUB_NOTIFY_POLL_SECONDS": "0.2",
        "IDEAHUB_NOTIFY_RETRY_SECONDS": "0.2",
        "IDEAHUB_REDIS_HEARTBEAT_MS": "2000",
    }
    runtime = Runtime(settings)
    factory = runtime.session_factory

    def rows() -> list[Notification]:
        with unit_of_work(factory) as session:
            return list(
                session.scalars(select(Notification).where(Notification.idea_id == idea_id).order_by(Notification.id))
            )

    def by_template() -> dict[tuple[str, str], Notification]:
        return {(r.template, r.recipient): r for r in rows()}

    def start(name: str, *args: str) -> subprocess.Popen[bytes]:
        return start_component(stack.data_dir, f"notify-crash-{name}", env, *args)

    # One thread for notify: the acknowledgement is the only delivery in hand when the worker dies.
    worker = start("notify-1", "worker", "notify", "--threads", "1")
    inbox.victim = worker
    processes = [worker, start("relay", "relay"), start("review", "worker", "review", "--threads", "1")]
    try:
        with unit_of_work(factory) as session:
            created = submit_idea(
                session,
                Submission(title="Crash course", problem="P", idea="I", name="Kim Killed", email=SUBMITTER),
                channel="api",
                departments=settings.departments,
            )
        idea_id = created.id

        wait_for(
            inbox.killed.is_set, timeout=60, what="the mail server to take the acknowledgement and kill the worker"
        )
        assert worker.returncode == -signal.SIGKILL
        received = by_template()[("submitter/received", SUBMITTER)]
        assert received.state == "sending", "the worker recorded the delivery: the kill came too late"
        assert len(inbox.to(SUBMITTER)) == 1

        processes.append(start("notify-2", "worker", "notify", "--threads", "2"))

        def settled() -> bool:
            found = by_template()
            wanted = [("submitter/received", SUBMITTER), ("submitter/in_review", SUBMITTER)]
            wanted += [("reviewer/review_assigned", r) for r in REVIEWERS]
            wanted += [("admin/notification_failed", ADMIN)]
            return all(key in found and found[key].state in ("sent", "unconfirmed") for key in wanted)

        wait_for(settled, timeout=60, what="every notification about the idea to be settled")
        wait_for(lambda: inbox.to(ADMIN), timeout=30, what="the administrator's email")
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
        runtime.close()

    final = by_template()
    received = final[("submitter/received", SUBMITTER)]
    assert received.state == "unconfirmed"
    assert received.attempts == 1
    assert "worker stopped while sending" in (received.error or "")
    assert final[("submitter/in_review", SUBMITTER)].state == "sent"
    for reviewer in REVIEWERS:
        assert final[("reviewer/review_assigned", reviewer)].state == "sent"
    alert = final[("admin/notification_failed", ADMIN)]
    assert alert.state == "sent"
    assert len(rows()) == 5

    with unit_of_work(factory) as session:
        needing_attention = [
            view for view in failed(session, page=PageRequest(1, 100)).items if view.idea_reference == created.reference
        ]
    assert [(v.id, v.state, v.template) for v in needing_attention] == [
        (received.id, "unconfirmed", "submitter/received")
    ]

    reference = created.reference
    assert inbox.subjects() == Counter(
        {
            (SUBMITTER, f"[{reference}] We have your idea"): 1,  # taken once by the server, never sent again
            (SUBMITTER, f"[{reference}] Reviewers are looking at your idea"): 1,
            (REVIEWERS[0], f"[{reference}] You have a new idea to review"): 1,
            (REVIEWERS[1], f"[{reference}] You have a new idea to review"): 1,
            (ADMIN, f"[{reference}] A notification may not have been delivered"): 1,
        }
    )
    (to_admin,) = inbox.to(ADMIN)
    body = to_admin.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert str(received.id) in text
    assert "unconfirmed" in text
