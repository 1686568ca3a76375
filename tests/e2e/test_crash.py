"""SIGKILL the relay and a worker in the middle of a run: every idea still arrives, every email once."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter

import pytest
from sqlalchemy import func, select

from infra import people
from infra.composition import Runtime
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from shared.db.models import Idea, Notification, ReviewTask, StatusChange
from shared.db.uow import unit_of_work
from tests.conftest import Stack
from tests.helpers import mails_about, start_component, wait_for

pytestmark = pytest.mark.e2e
IDEAS = 60


def start(stack: Stack, name: str, *args: str) -> subprocess.Popen[bytes]:
    return start_component(stack.data_dir, f"crash-{name}", {**stack.env, "IDEAHUB_REDIS_HEARTBEAT_MS": "2000"}, *args)


def test_killing_the_relay_and_a_worker_mid_run_loses_nothing_and_sends_nothing_twice(stack: Stack) -> None:
    settings = stack.settings()
    for n in (1, 2):
        people.add(settings, email=f"crash.reviewer{n}@example.gov.uk", name=f"Reviewer {n}", role="reviewer")
    runtime = Runtime(settings)
    factory = runtime.session_factory

    def sent() -> int:
        with unit_of_work(factory) as session:
            return int(session.scalar(select(func.count()).select_from(Notification)) or 0)

    relay = start(stack, "relay-1", "relay")
    worker = start(stack, "worker-1", "worker", "review", "notify", "--threads", "2")
    references = []
    try:
        for i in range(IDEAS):
            with unit_of_work(factory) as session:
                body = Submission(title=f"Crash {i}", problem="P", idea="I", email=f"crash{i}@example.gov.uk")
                references.append(submit_idea(session, body, channel="api", departments=settings.departments).reference)
        wait_for(lambda: sent() >= 5, what="the first emails")
        relay.send_signal(signal.SIGKILL)
        worker.send_signal(signal.SIGKILL)
        relay.wait()
        worker.wait()
        assert sent() < 2 * IDEAS, "the kill came too late to prove anything"

        relay = start(stack, "relay-2", "relay")
        worker = start(stack, "worker-2", "worker", "review", "notify", "--threads", "2")
        wait_for(lambda: sent() >= 2 * IDEAS, timeout=120, what="every email after the restart")
    finally:
        for process in (relay, worker):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        runtime.close()

    with unit_of_work(factory) as session:
        ideas = dict(session.execute(select(Idea.reference, Idea.id).where(Idea.reference.in_(references))).all())
        statuses = Counter(session.scalars(select(Idea.status).where(Idea.id.in_(ideas.values()))))
        tasks = Counter(session.scalars(select(ReviewTask.idea_id).where(ReviewTask.idea_id.in_(ideas.values()))))
        in_review = Counter(
            session.scalars(
                select(StatusChange.idea_id).where(
                    StatusChange.idea_id.in_(ideas.values()), StatusChange.to_status == "in_review"
                )
            )
        )
        emails = Counter(session.scalars(select(Notification.idea_id).where(Notification.idea_id.in_(ideas.values()))))
    assert statuses == {"in_review": IDEAS}
    assert set(tasks.values()) == {2}
    assert set(in_review.values()) == {1}
    assert set(emails.values()) == {2}
    for reference in references:
        assert sorted(str(m["Subject"]).split("] ")[1] for m in mails_about(settings.mail_dir, reference)) == [
            "We have your idea",
            "Your idea is now in review",
        ]
