"""The review stage with real relay and worker processes and deadlines of seconds.

Two reviewers agree; they disagree; late reviewers are replaced and administrators told; a
question is asked and answered by email reply; a question times out; and the broker's queues are
emptied while a deadline is waited for, so that only the worker's sweep can still escalate it.

No deadline here runs while a process starts, which takes half a second on an idle machine and many
on a loaded one: each process is waited for until it is at work (`start_ready`), and each deadline is
timed from something a running worker or the test did, or set by the test once the worker is back.
What the test must do before a deadline it does at once, and waits for emails only afterwards.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from infra import people
from infra.app import create_app
from infra.composition import Runtime
from services.intake import mail
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Idea, OutboxMessage, Question, ReviewTask, StatusChange
from shared.db.uow import unit_of_work
from tests.conftest import Stack
from tests.helpers import deliveries, idea_status, mails_about, start_ready, wait_for

pytestmark = pytest.mark.e2e

REVIEWERS = {
    "rev1": "Rhona Reviewer",
    "rev2": "Ravi Reviewer",
    "rev3": "Rosa Reviewer",
    "rev4": "Remi Reviewer",
}
ADMIN = "deadlines.admin@example.gov.uk"
SUBMITTER = "nadia.nurse@example.gov.uk"
SUBMITTER_NAME = "Nadia Nurse"
# Seconds: long enough for reviews posted at once (before even the reminder), short enough to wait for.
# Each reminder is due half its deadline ahead: a wide window for the worker to remind in (its sweep looks
# every second).
REVIEW_DEADLINE, REVIEW_REMINDER = 8, 4
INFO_DEADLINE, INFO_REMINDER = 6, 3
DEADLINES = {
    "IDEAHUB_REVIEW_DEADLINE": f"{REVIEW_DEADLINE}s",
    "IDEAHUB_REVIEW_REMINDER": f"{REVIEW_REMINDER}s",
    "IDEAHUB_INFO_DEADLINE": f"{INFO_DEADLINE}s",
    "IDEAHUB_INFO_REMINDER": f"{INFO_REMINDER}s",
    "IDEAHUB_DEADLINE_SWEEP_SECONDS": "1",
    "IDEAHUB_REVIEWERS_PER_IDEA": "2",
}
# Far enough off that nothing falls due while a worker stops and starts, or a test waits for its emails.
LATER = timedelta(minutes=10)


def email_of(who: str) -> str:
    return f"deadlines.{who}@example.gov.uk"


@dataclass
class System:
    stack: Stack
    client: TestClient
    settings: Settings
    factory: sessionmaker[Session]
    runtime: Runtime
    tokens: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def start(self, name: str, *args: str) -> None:
        """Start a relay or worker; return once it is at work."""
        self.processes[name] = start_ready(self.stack.data_dir, name, {**self.stack.env, **DEADLINES}, *args)

    def stop(self, name: str) -> int:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=60)


@pytest.fixture(scope="module")
def system(stack: Stack) -> Iterator[System]:
    settings = stack.settings(
        review_deadline=f"{REVIEW_DEADLINE}s",
        review_reminder=f"{REVIEW_REMINDER}s",
        info_deadline=f"{INFO_DEADLINE}s",
        info_reminder=f"{INFO_REMINDER}s",
        reviewers_per_idea=2,
    )
    tokens = {}
    for who, name in REVIEWERS.items():
        people.add(settings, email=email_of(who), name=name, role="reviewer", department="Health")
        tokens[who] = people.new_api_token(settings, email_of(who))
    people.add(settings, email=ADMIN, name="Alex Admin", role="admin")
    runtime = Runtime(settings)
    app = create_app(settings, runtime)
    system = System(stack, None, settings, runtime.session_factory, runtime, tokens)  # type: ignore[arg-type]
    try:
        system.start("relay", "relay")
        system.start("worker", "worker", "--threads", "4")
        with TestClient(app) as client:
            system.client = client
            yield system
    finally:
        codes = [system.stop(name) for name in list(system.processes)]
        runtime.close()
    assert codes == [0, 0], f"relay and worker should stop cleanly on SIGTERM, got {codes}"


def submit(system: System, title: str, **fields: object) -> tuple[str, str]:
    body = {
        "title": title,
        "problem": "Patients miss clinic appointments.",
        "idea": "Send patients a text reminder two days before.",
        "department": "Health",
        "name": SUBMITTER_NAME,
        "email": SUBMITTER,
        **fields,
    }
    answer = system.client.post("/api/v1/ideas", json=body)
    assert answer.status_code == 202, answer.text
    data = answer.json()
    wait_for(lambda: idea_status(system.factory, data["reference"]) == "in_review", what="screening")
    return data["reference"], data["status_url"].rsplit("/", 1)[1]


# An accepted idea goes on to matching, and with no sponsor here straight on to unmatched.
AFTER = {"matching": ("matching", "unmatched")}


def reach(system: System, reference: str, status: str, timeout: float = 30) -> None:
    wait_for(
        lambda: idea_status(system.factory, reference) in AFTER.get(status, (status,)),
        timeout=timeout,
        what=f"{reference} to be {status}",
    )


def open_tasks(system: System, reference: str) -> dict[str, int]:
    """Reviewer -> the id of their open task for this idea, as each reviewer's API lists it."""
    found = {}
    for who in REVIEWERS:
        answer = system.client.get("/api/v1/reviews/tasks", headers=system.auth(who))
        assert answer.status_code == 200, answer.text
        for task in answer.json():
            if task["idea_reference"] == reference:
                found[who] = task["id"]
    return found


def review(system: System, who: str, task_id: int, recommendation: str, score: int, **extra: str) -> None:
    answer = system.client.post(
        f"/api/v1/reviews/tasks/{task_id}",
        headers=system.auth(who),
        json={
            "scores": {"impact": score, "feasibility": score, "cost": score, "evidence": score},
            "recommendation": recommendation,
            "comment": f"{recommendation} from {who}",
            **extra,
        },
    )
    assert answer.status_code == 202, answer.text


def sent(system: System, reference: str, template: str) -> list[str]:
    """Recipients of each notification of this template about the idea."""
    return sorted(to for to, t, _, _ in deliveries(system.factory, reference) if t == template)


def task_states(system: System, reference: str) -> list[str]:
    with unit_of_work(system.factory) as session:
        return sorted(
            session.scalars(
                select(ReviewTask.state).join(Idea, Idea.id == ReviewTask.idea_id).where(Idea.reference == reference)
            )
        )


def idea_id_of(system: System, reference: str) -> int:
    with unit_of_work(system.factory) as session:
        found = session.scalar(select(Idea.id).where(Idea.reference == reference))
    assert found is not None, reference
    return found


def move_deadlines(system: System, reference: str, due_at: datetime) -> tuple[int, int]:
    """Move the deadline of the idea's awaited tasks and open question that nobody was reminded of yet.

    Returns how many tasks and questions moved, for the caller to check that nothing fell due before.
    A delayed message sent for the old time then finds nothing due, and the sweep acts at the new one.
    """
    idea_id = idea_id_of(system, reference)
    with unit_of_work(system.factory) as session:
        tasks = session.execute(
            update(ReviewTask)
            .where(
                ReviewTask.idea_id == idea_id,
                ReviewTask.state.in_(("open", "asked")),
                ReviewTask.reminded_at.is_(None),
                ReviewTask.escalated_at.is_(None),
            )
            .values(due_at=due_at)
            .execution_options(synchronize_session=False)
        )
        questions = session.execute(
            update(Question)
            .where(Question.idea_id == idea_id, Question.state == "open", Question.reminded_at.is_(None))
            .values(due_at=due_at)
            .execution_options(synchronize_session=False)
        )
    return tasks.rowcount, questions.rowcount  # type: ignore[attr-defined]


def events_of(system: System, reference: str, event_type: str) -> list[dict[str, Any]]:
    """The payload of each event of this type recorded for the idea, oldest first."""
    with unit_of_work(system.factory) as session:
        rows = session.scalars(
            select(OutboxMessage.payload)
            .where(OutboxMessage.idea_id == idea_id_of(system, reference), OutboxMessage.event_type == event_type)
            .order_by(OutboxMessage.id)
        ).all()
    return [json.loads(row) for row in rows]


def all_published(system: System, reference: str, event_type: str) -> bool:
    """Every event of this type about the idea has been published (with its delayed messages)."""
    with unit_of_work(system.factory) as session:
        published = session.scalars(
            select(OutboxMessage.published_at).where(
                OutboxMessage.idea_id == idea_id_of(system, reference), OutboxMessage.event_type == event_type
            )
        ).all()
    return bool(published) and all(published)


def test_two_reviewers_who_agree_send_the_idea_to_matching(system: System) -> None:
    # The tasks' clock starts when the running worker screens the idea; both review at once, well within it.
    reference, _ = submit(system, "Agreed idea")
    tasks = open_tasks(system, reference)
    assert len(tasks) == 2
    for who, task_id in tasks.items():
        review(system, who, task_id, "accept", 4, private_note="Check the budget first")
    reach(system, reference, "matching")
    wait_for(lambda: sent(system, reference, "submitter/matching"), what="the submitter to be told")
    (accepted,) = [m for m in mails_about(system.settings.mail_dir, reference) if "recommended" in str(m["Subject"])]
    text = accepted.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    for who in tasks:
        assert f"accept from {who}" in text
        assert REVIEWERS[who] not in text
    assert "Check the budget" not in text


def test_two_reviewers_who_disagree_reject_the_idea_with_both_reasons(system: System) -> None:
    reference, _ = submit(system, "Disputed idea")
    (first, second) = open_tasks(system, reference).items()
    review(system, *first, "accept", 4)
    review(system, *second, "reject", 1)
    reach(system, reference, "rejected")
    wait_for(lambda: sent(system, reference, "submitter/rejected"), what="the submitter to be told")
    (rejected,) = [m for m in mails_about(system.settings.mail_dir, reference) if "not be taken" in str(m["Subject"])]
    text = rejected.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"accept from {first[0]}" in text
    assert f"reject from {second[0]}" in text


def test_late_reviewers_are_reminded_then_replaced_and_administrators_told_once(system: System) -> None:
    reference, _ = submit(system, "Late idea")
    late = open_tasks(system, reference)
    replacements = wait_for(
        lambda: (found := open_tasks(system, reference)) and set(found).isdisjoint(late) and found,
        timeout=60,
        what="the late reviewers to be replaced",
    )
    assert set(late) | set(replacements) == set(REVIEWERS)
    # The replacements review in time (at once, before even their reminder) and the idea is decided on their reviews.
    for who, task_id in replacements.items():
        review(system, who, task_id, "accept", 5)
    reach(system, reference, "matching")
    wait_for(lambda: len(sent(system, reference, "admin/review_escalated")) == 2, what="administrators told")
    for template in ("reviewer/review_reminder", "reviewer/review_reassigned"):
        wait_for(lambda t=template: len(sent(system, reference, t)) >= 2, what=f"two {template} notifications")
    late_emails = sorted(email_of(who) for who in late)
    assert sent(system, reference, "reviewer/review_reminder") == late_emails
    assert sent(system, reference, "reviewer/review_reassigned") == late_emails
    assert sent(system, reference, "admin/review_escalated") == [ADMIN, ADMIN]
    assert task_states(system, reference) == ["done", "done", "replaced", "replaced"]
    # Once each: the sweep, running every second, found nothing more to do.
    assert len(sent(system, reference, "admin/review_escalated")) == 2
    assert len(sent(system, reference, "reviewer/review_reminder")) == 2


def reply_by_email(system: System, reference: str, text: str) -> None:
    message = EmailMessage()
    message["From"] = f"{SUBMITTER_NAME} <{SUBMITTER}>"
    message["To"] = system.settings.intake_address
    message["Subject"] = f"Re: [{reference}] Your idea needs more information"
    message["Message-ID"] = f"<answer.{reference}@mail.example.gov.uk>"
    message.set_content(text)
    outcome = mail.take_in(system.factory, message.as_bytes(), settings=system.settings, envelope_from=SUBMITTER)
    assert outcome.kind == "answer", outcome


def test_a_question_answered_by_email_reply_goes_back_to_the_reviewers(system: System) -> None:
    reference, _ = submit(system, "Question idea", anonymous=True)
    tasks = open_tasks(system, reference)
    (asker, asker_task), (other, other_task) = tasks.items()
    review(system, asker, asker_task, "needs_info", 3, question="How many clinics would take part?")
    reach(system, reference, "needs_info")
    # This test is about the answer, not the clock: the submitter and the reviewers get all the time they need,
    # however long the emails take.
    assert move_deadlines(system, reference, utcnow() + LATER) == (2, 1)
    wait_for(lambda: sent(system, reference, "submitter/needs_info"), what="the question to be emailed")
    reply_by_email(system, reference, "Forty clinics would take part.")
    reach(system, reference, "in_review")
    wait_for(
        lambda: len(sent(system, reference, "reviewer/review_resumed")) == 2, what="both reviewers to get the answer"
    )
    resumed = [m for m in mails_about(system.settings.mail_dir, reference) if "has answered" in str(m["Subject"])]
    assert len(resumed) == 2
    for message in resumed:
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "Forty clinics would take part." in text
        for secret in (SUBMITTER_NAME, SUBMITTER):  # the idea is anonymous
            assert secret not in text
    # The asker's task is open again: they score with the answer, and the idea is decided.
    assert open_tasks(system, reference) == tasks
    review(system, asker, asker_task, "accept", 4)
    review(system, other, other_task, "accept", 4)
    reach(system, reference, "matching")


def test_an_unanswered_question_times_out_and_the_reviewers_decide_without_it(system: System) -> None:
    reference, _ = submit(system, "Unanswered idea")
    (asker, asker_task), (other, other_task) = open_tasks(system, reference).items()
    # The question's clock starts with this request, made to a running system.
    review(system, asker, asker_task, "needs_info", 3, question="Which clinics?")
    reach(system, reference, "needs_info")
    reach(system, reference, "in_review", timeout=60)
    with unit_of_work(system.factory) as session:
        reason = session.scalars(
            select(StatusChange.reason)
            .join(Idea, Idea.id == StatusChange.idea_id)
            .where(Idea.reference == reference)
            .order_by(StatusChange.id.desc())
        ).first()
    assert reason == "No answer by the deadline"
    # The review stage reopens the asker's task on the idea's return, with the time the tasks had left;
    # the reviewers decide at once, within it, and hear that there was no answer.
    wait_for(lambda: asker in open_tasks(system, reference), what="the asker's task to reopen")
    review(system, asker, asker_task, "reject", 2)
    review(system, other, other_task, "reject", 2)
    reach(system, reference, "rejected")
    wait_for(lambda: len(sent(system, reference, "reviewer/review_resumed")) == 2, what="the reviewers told")
    wait_for(lambda: sent(system, reference, "submitter/question_reminder"), what="the submitter reminded")
    assert sent(system, reference, "submitter/question_reminder") == [SUBMITTER]


def empty_review_queues(system: System) -> None:
    """What a broker restarted without its data looks like to the review stage: no delayed messages left."""
    prefix = system.settings.queue_prefix
    url = system.settings.effective_broker_url
    if url.startswith("amqp"):
        from kombu import Connection

        with Connection(url) as connection:
            channel = connection.channel()
            for suffix in ("", ".DQ", ".XQ"):
                channel.queue_purge(f"{prefix}review{suffix}")
        return
    broker = system.runtime.broker
    client = broker.client  # type: ignore[attr-defined]
    keys = list(client.scan_iter(match=f"{prefix}dramatiq:*", count=1000))
    if keys:
        client.delete(*keys)


def test_a_deadline_is_kept_by_the_sweep_when_the_broker_lost_its_delayed_messages(system: System) -> None:
    reference, _ = submit(system, "Sweep idea")
    late = open_tasks(system, reference)
    assert len(late) == 2
    # Nothing of this idea may fall due while the worker is away, however long it takes to come back.
    assert move_deadlines(system, reference, utcnow() + LATER) == (2, 0)
    wait_for(lambda: all_published(system, reference, "review.assigned.v1"), what="the delayed messages to be sent")
    # The worker stops (its delayed messages go back to the broker), the broker loses them, the worker returns.
    assert system.stop("worker") == 0
    empty_review_queues(system)
    system.start("worker", "worker", "--threads", "4")
    # The worker is back and sweeping: now the tasks' clock runs, the whole reminder window ahead of it.
    assert move_deadlines(system, reference, utcnow() + timedelta(seconds=REVIEW_DEADLINE)) == (2, 0)
    wait_for(lambda: len(sent(system, reference, "admin/review_escalated")) == 2, timeout=60, what="the sweep")
    assert set(open_tasks(system, reference)).isdisjoint(late)
    with unit_of_work(system.factory) as session:
        rows = session.execute(
            select(ReviewTask.due_at, ReviewTask.reminded_at, ReviewTask.escalated_at).where(
                ReviewTask.id.in_(late.values())
            )
        ).all()
    assert len(rows) == 2
    for due_at, reminded_at, escalated_at in rows:
        assert reminded_at < due_at <= escalated_at, "reminded before the deadline, escalated at it, never before"
    # Each late reviewer was reminded once and replaced once, by what acts on no message: the sweep.
    for event_type in ("review.reminder.v1", "review.escalated.v1"):
        found = [e for e in events_of(system, reference, event_type) if e["task_id"] in late.values()]
        assert sorted(e["task_id"] for e in found) == sorted(late.values()), event_type
        assert [e["causation_id"] for e in found] == [None, None], event_type
