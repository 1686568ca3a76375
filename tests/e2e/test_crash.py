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
from tests.helpers import mails_about, start_ready, wait_for

pytestmark = pytest.mark.e2e
IDEAS = 60
# What each idea causes once it is in review: two emails to its submitter, one to each of its two reviewers.
SUBMITTER_EMAILS = ("submitter/received", "submitter/in_review")
PER_IDEA = sorted([*SUBMITTER_EMAILS, "reviewer/review_assigned", "reviewer/review_assigned"])


def start(stack: Stack, name: str, *args: str) -> subprocess.Popen[bytes]:
    """A component, returned once it is at work.

    The relay moves one outbox row a pass, so the run is spread over many small messages and the kill lands in
    the middle of it; at the default 500 a pass, 60 ideas go to screening in one message and are done at once.
    The worker is started (and ready) before the relay, so that notify takes the events as they come rather
    than a backlog in a batch or two.
    """
    env = {**stack.env, "IDEAHUB_REDIS_HEARTBEAT_MS": "2000", "IDEAHUB_RELAY_BATCH": "1"}
    return start_ready(stack.data_dir, f"crash-{name}", env, *args)


def test_killing_the_relay_and_a_worker_mid_run_loses_nothing_and_sends_nothing_twice(stack: Stack) -> None:
    settings = stack.settings()
    for n in (1, 2):
        people.add(settings, email=f"crash.reviewer{n}@example.gov.uk", name=f"Reviewer {n}", role="reviewer")
    runtime = Runtime(settings)
    factory = runtime.session_factory

    def sent(*templates: str) -> int:
        """Notifications about this test's ideas with one of these templates."""
        with unit_of_work(factory) as session:
            query = (
                select(func.count())
                .select_from(Notification)
                .join(Idea, Idea.id == Notification.idea_id)
                .where(Idea.reference.in_(references), Notification.template.in_(templates))
            )
            return int(session.scalar(query) or 0)

    def to_submitters() -> int:
        return sent(*SUBMITTER_EMAILS)

    def to_reviewers() -> int:
        return sent("reviewer/review_assigned")

    references: list[str] = []
    # Every idea is waiting in the outbox before anything runs: the run's pace is the pipeline's, not the submissions'.
    for i in range(IDEAS):
        with unit_of_work(factory) as session:
            body = Submission(title=f"Crash {i}", problem="P", idea="I", email=f"crash{i}@example.gov.uk")
            references.append(submit_idea(session, body, channel="api", departments=settings.departments).reference)
    worker = start(stack, "worker-1", "worker", "review", "notify", "--threads", "2")
    relay = start(stack, "relay-1", "relay")
    try:
        wait_for(lambda: to_submitters() >= 5, what="the first emails")
        # Frozen at once, so that what they had done when the kill came is what the database shows.
        relay.send_signal(signal.SIGSTOP)
        worker.send_signal(signal.SIGSTOP)
        assert to_submitters() < 2 * IDEAS, "the kill came too late to prove anything"
        relay.send_signal(signal.SIGKILL)
        worker.send_signal(signal.SIGKILL)
        relay.wait()
        worker.wait()

        worker = start(stack, "worker-2", "worker", "review", "notify", "--threads", "2")
        relay = start(stack, "relay-2", "relay")
        wait_for(
            lambda: to_submitters() >= 2 * IDEAS and to_reviewers() >= 2 * IDEAS,
            timeout=120,
            what="every email after the restart",
        )
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
        emails = session.execute(
            select(Notification.idea_id, Notification.recipient, Notification.template).where(
                Notification.idea_id.in_(ideas.values())
            )
        ).all()
    assert statuses == {"in_review": IDEAS}
    assert set(tasks.values()) == {2}
    assert set(in_review.values()) == {1}
    # Every email once: no recipient told the same thing about the same idea twice, none left out.
    assert set(Counter(tuple(row) for row in emails).values()) == {1}
    templates: dict[int, list[str]] = {}
    for idea_id, _, template in emails:
        templates.setdefault(idea_id, []).append(template)
    assert {idea_id: sorted(found) for idea_id, found in templates.items()} == {
        idea_id: PER_IDEA for idea_id in ideas.values()
    }
    for reference in references:
        assert sorted(str(m["Subject"]).split("] ")[1] for m in mails_about(settings.mail_dir, reference)) == sorted(
            [
                "We have your idea",
                "Reviewers are looking at your idea",
                "You have a new idea to review",
                "You have a new idea to review",
            ]
        )
