"""The review stage with real relay and worker processes and deadlines of seconds.

Two reviewers agree; they disagree; late reviewers are replaced and administrators told; a
question is asked and answered by email reply; a question times out; and the broker's queues are
emptied while a deadline is waited for, so that only the worker's sweep can still escalate it.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from infra import people
from infra.app import create_app
from infra.composition import Runtime
from services.intake import mail
from shared.config import Settings
from shared.db.models import Idea, ReviewTask
from shared.db.uow import unit_of_work
from tests.conftest import Stack
from tests.helpers import deliveries, idea_status, mails_about, start_component, wait_for

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
# Seconds, for the tests: long enough for a review posted at once, short enough to wait for.
DEADLINES = {
    "IDEAHUB_REVIEW_DEADLINE": "5s",
    "IDEAHUB_REVIEW_REMINDER": "2s",
    "IDEAHUB_INFO_DEADLINE": "4s",
    "IDEAHUB_INFO_REMINDER": "2s",
    "IDEAHUB_DEADLINE_SWEEP_SECONDS": "1",
    "IDEAHUB_REVIEWERS_PER_IDEA": "2",
}


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
        self.processes[name] = start_component(self.stack.data_dir, name, {**self.stack.env, **DEADLINES}, *args)

    def stop(self, name: str) -> int:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=60)


@pytest.fixture(scope="module")
def system(stack: Stack) -> Iterator[System]:
    settings = stack.settings(
        review_deadline="5s", review_reminder="2s", info_deadline="4s", info_reminder="2s", reviewers_per_idea=2
    )
    tokens = {}
    for who, name in REVIEWERS.items():
        people.add(settings, email=email_of(who), name=name, role="reviewer", department="Health")
        tokens[who] = people.new_api_token(settings, email_of(who))
    people.add(settings, email=ADMIN, name="Alex Admin", role="admin")
    runtime = Runtime(settings)
    app = create_app(settings, runtime)
    system = System(stack, None, settings, runtime.session_factory, runtime, tokens)  # type: ignore[arg-type]
    system.start("relay", "relay")
    system.start("worker", "worker", "--threads", "4")
    try:
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


def test_two_reviewers_who_agree_send_the_idea_to_matching(system: System) -> None:
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
        what="the late reviewers to be replaced",
    )
    assert set(late) | set(replacements) == set(REVIEWERS)
    wait_for(lambda: len(sent(system, reference, "admin/review_escalated")) == 2, what="administrators told")
    late_emails = sorted(email_of(who) for who in late)
    assert sent(system, reference, "reviewer/review_reminder") == late_emails
    assert sent(system, reference, "reviewer/review_reassigned") == late_emails
    assert sent(system, reference, "admin/review_escalated") == [ADMIN, ADMIN]
    # The replacements review in time and the idea is decided on their reviews.
    for who, task_id in replacements.items():
        review(system, who, task_id, "accept", 5)
    reach(system, reference, "matching")
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
    review(system, asker, asker_task, "needs_info", 3, question="Which clinics?")
    reach(system, reference, "needs_info")
    reach(system, reference, "in_review")
    with unit_of_work(system.factory) as session:
        from shared.db.models import StatusChange

        reason = session.scalars(
            select(StatusChange.reason)
            .join(Idea, Idea.id == StatusChange.idea_id)
            .where(Idea.reference == reference)
            .order_by(StatusChange.id.desc())
        ).first()
    assert reason == "No answer by the deadline"
    wait_for(lambda: sent(system, reference, "submitter/question_reminder"), what="the submitter reminded")
    assert sent(system, reference, "submitter/question_reminder") == [SUBMITTER]
    # The review stage reopens the asker's task on the idea's return: the reviewers are told there was no answer.
    wait_for(lambda: asker in open_tasks(system, reference), what="the asker's task to reopen")
    wait_for(lambda: len(sent(system, reference, "reviewer/review_resumed")) == 2, what="the reviewers told")
    review(system, asker, asker_task, "reject", 2)
    review(system, other, other_task, "reject", 2)
    reach(system, reference, "rejected")


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
    # The worker stops (its delayed messages go back to the broker), the broker loses them, the worker returns.
    assert system.stop("worker") == 0
    empty_review_queues(system)
    system.start("worker", "worker", "--threads", "4")
    wait_for(lambda: len(sent(system, reference, "admin/review_escalated")) == 2, what="the sweep to escalate")
    assert set(open_tasks(system, reference)).isdisjoint(late)
    with unit_of_work(system.factory) as session:
        rows = session.execute(
            select(ReviewTask.due_at, ReviewTask.escalated_at)
            .join(Idea, Idea.id == ReviewTask.idea_id)
            .where(Idea.reference == reference, ReviewTask.state == "replaced")
        ).all()
    assert len(rows) == 2
    for due_at, escalated_at in rows:
        assert escalated_at >= due_at, "never escalated before the deadline"
