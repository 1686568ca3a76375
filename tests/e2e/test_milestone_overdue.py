"""Milestone deadlines of a few seconds, kept by real relay, incubation and notify processes, and by the
incubation worker's sweep alone when the broker loses the delayed messages.

No deadline here runs while a process starts, which takes half a second on an idle machine and many on a
loaded one: each process is waited for until it is at work (`start_ready`), and each milestone's due time is
given once every process is, or set by the test once the worker is back.
"""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from infra import people
from infra.composition import Runtime
from services.incubation import actors as incubation
from services.incubation import handlers
from services.incubation.schemas import PlanIn
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.matching import actors as matching_actors
from services.matching import handlers as matching
from shared import lifecycle
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Incubation, Milestone, Offer, OutboxMessage, ProcessedMessage
from shared.db.uow import unit_of_work
from shared.principal import Principal
from shared.worker.declare import StageContext
from shared.worker.stage import run_handler
from tests.conftest import Stack
from tests.helpers import deliveries, mails_about, start_ready, wait_for

pytestmark = pytest.mark.e2e

# Seconds. A milestone is given a due time DUE ahead: its reminder comes REMINDER before it (3 s after the
# plan), a wide window for the worker to remind in (its sweep looks every second) before the due time;
# it is overdue GRACE after it, which leaves ten seconds to mark a reminded milestone reached in time.
DUE, REMINDER, GRACE = 8, 5, 5
DEADLINES = {
    "IDEAHUB_MILESTONE_REMINDER": f"{REMINDER}s",
    "IDEAHUB_MILESTONE_GRACE": f"{GRACE}s",
    "IDEAHUB_DEADLINE_SWEEP_SECONDS": "1",
}
# Far enough off that nothing falls due while a worker stops and starts, however long that takes.
WHILE_AWAY = timedelta(minutes=10)
SPONSOR = "milestones.sponsor@example.gov.uk"
ADMINS = ("milestones.admin1@example.gov.uk", "milestones.admin2@example.gov.uk")
SUBMITTER = "gardener@example.gov.uk"
REMINDED = [(SPONSOR, "sponsor/milestone_reminder", "sent")]
OVERDUE = [(SPONSOR, "sponsor/milestone_overdue", "sent"), *[(a, "admin/milestone_overdue", "sent") for a in ADMINS]]


@dataclass
class System:
    stack: Stack
    runtime: Runtime
    settings: Settings
    sponsor: Principal
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def factory(self) -> sessionmaker[Session]:
        return self.runtime.session_factory

    def start(self, name: str, *args: str) -> None:
        """Start a relay or worker; return once it is at work."""
        self.processes[name] = start_ready(self.stack.data_dir, name, {**self.stack.env, **DEADLINES}, *args)

    def stop(self, name: str) -> int:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=60)


@pytest.fixture(scope="module")
def system(stack: Stack) -> Iterator[System]:
    settings = stack.settings(milestone_reminder=f"{REMINDER}s", milestone_grace=f"{GRACE}s", deadline_sweep_seconds=1)
    sponsor_id = people.add(
        settings,
        email=SPONSOR,
        name="Sofia Sponsor",
        role="sponsor",
        department="Housing",
        interests="parks trees shade streets",
        capacity=10,
    )
    for n, email in enumerate(ADMINS):
        people.add(settings, email=email, name=f"Admin {n}", role="admin")
    runtime = Runtime(settings)
    system = System(stack, runtime, settings, Principal(sponsor_id, SPONSOR, "Sofia Sponsor", "sponsor"))
    try:
        system.start("relay", "relay")
        system.start("notify", "worker", "notify")
        system.start("incubation", "worker", "incubation")
        yield system
    finally:
        codes = [system.stop(name) for name in list(system.processes)]
        runtime.close()
    assert codes == [0] * len(codes), f"relay and workers should stop cleanly on SIGTERM, got {codes}"


def history(system: System, idea_id: int, event_type: str) -> list[dict[str, Any]]:
    with unit_of_work(system.factory) as session:
        rows = session.scalars(
            select(OutboxMessage.payload)
            .where(OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == event_type)
            .order_by(OutboxMessage.id)
        ).all()
    return [json.loads(row) for row in rows]


def incubating(system: System, title: str) -> tuple[int, str]:
    """An idea the sponsor accepted, with its incubation opened by the running incubation worker."""
    body = {"title": title, "problem": "Streets are hot.", "idea": "Plant shade trees in parks.", "email": SUBMITTER}
    with unit_of_work(system.factory) as session:
        created = submit_idea(
            session, Submission(**body, department="Housing"), channel="api", departments=system.settings.departments
        )
        idea_id, reference = created.id, created.reference
        for target in (lifecycle.Status.IN_REVIEW, lifecycle.Status.MATCHING):
            lifecycle.transition(session, lifecycle.load(session, idea_id), target, actor="test")
    # No matching worker runs here: the offer is made as it would make it.
    (to_matching,) = [e for e in history(system, idea_id, "idea.status_changed.v1") if e["to_status"] == "matching"]
    run_handler(matching_actors.start_matching, system.factory, StageContext(system.settings), to_matching)
    with unit_of_work(system.factory) as session:
        offer_id = session.scalars(select(Offer.id).where(Offer.idea_id == idea_id, Offer.state == "open")).one()
        matching.accept_offer(session, offer_id, sponsor=system.sponsor)

    def opened() -> bool:
        with unit_of_work(system.factory) as session:
            return session.get(Incubation, idea_id) is not None

    wait_for(opened, timeout=60, what="the incubation worker to open the incubation")
    return idea_id, reference


def plan(system: System, reference: str, due_at: datetime) -> int:
    with unit_of_work(system.factory) as session:
        (milestone_id,) = handlers.add_plan(
            session,
            reference,
            PlanIn(milestones=[{"title": "Plant the first street", "due_at": due_at}]),
            sponsor=system.sponsor,
            settings=system.settings,
        )
    return milestone_id


def milestone(system: System, milestone_id: int) -> Milestone:
    with unit_of_work(system.factory) as session:
        found = session.get(Milestone, milestone_id)
        assert found is not None
        session.expunge(found)
    return found


def handled(system: System, actor_name: str, event: dict[str, Any]) -> bool:
    """Whether the incubation worker has taken this event's message for the actor (and done what it had to)."""
    with unit_of_work(system.factory) as session:
        return (
            session.get(ProcessedMessage, {"consumer": actor_name, "event_id": uuid.UUID(event["event_id"])})
            is not None
        )


def milestone_mail(system: System, reference: str) -> list[tuple[str, str, str]]:
    """(recipient, template, state) of each notification about the idea's milestones to its staff, sorted."""
    return sorted(
        (to, template, state)
        for to, template, _, state in deliveries(system.factory, reference)
        if template.startswith(("sponsor/milestone", "admin/milestone"))
    )


def milestone_mails(system: System, reference: str) -> list[EmailMessage]:
    """The emails written to staff about the idea's milestones."""
    return [
        m
        for m in mails_about(system.settings.mail_dir, reference)
        if "milestone" in str(m["Subject"]) and m["To"].addresses[0].addr_spec != SUBMITTER  # type: ignore[union-attr]
    ]


def wait_for_mail(system: System, reference: str, expected: list[tuple[str, str, str]]) -> None:
    wanted = sorted(expected)
    wait_for(
        lambda: len(milestone_mail(system, reference)) >= len(wanted),
        timeout=60,
        what=f"the milestone emails {wanted}",
    )
    assert milestone_mail(system, reference) == wanted
    assert len(milestone_mails(system, reference)) == len(wanted), "one email written for each, none twice"


def test_the_sponsor_is_reminded_once_then_the_sponsor_and_administrators_are_told_once_it_is_overdue(
    system: System,
) -> None:
    idea_id, reference = incubating(system, "Shade trees for hot streets")
    # Every process is at work: the milestone's clock starts now.
    milestone_id = plan(system, reference, utcnow() + timedelta(seconds=DUE))
    (scheduled,) = history(system, idea_id, "milestone.scheduled.v1")

    wait_for(lambda: milestone(system, milestone_id).reminded_at is not None, timeout=60, what="the sponsor's reminder")
    assert milestone(system, milestone_id).state == "open"
    wait_for(lambda: milestone(system, milestone_id).state == "overdue", timeout=90, what="the milestone overdue")
    # Both delayed messages came, as well as the sweep every second: whichever came first acted.
    for actor in (incubation.remind_milestone, incubation.milestone_overdue):
        wait_for(lambda actor=actor: handled(system, actor.actor_name, scheduled), what=f"{actor.actor_name} to run")

    wait_for_mail(system, reference, REMINDED + OVERDUE)
    (reminder,) = history(system, idea_id, "milestone.reminder.v1")
    (overdue,) = history(system, idea_id, "milestone.overdue.v1")
    for told in (reminder, overdue):
        assert (told["milestone_id"], told["sponsor_id"]) == (milestone_id, system.sponsor.id)
        assert told["due_at"] == scheduled["due_at"]
    found = milestone(system, milestone_id)
    assert found.reminded_at is not None
    assert found.overdue_at is not None
    assert found.reminded_at < found.due_at < found.overdue_at


def scheduled_published(system: System, idea_id: int) -> bool:
    with unit_of_work(system.factory) as session:
        return bool(
            session.scalar(
                select(OutboxMessage.published_at).where(
                    OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == "milestone.scheduled.v1"
                )
            )
        )


def set_due(system: System, milestone_id: int, due_at: datetime) -> None:
    """Move the due time of an open milestone nobody has been reminded of yet, as time passing would."""
    with unit_of_work(system.factory) as session:
        moved = session.execute(
            update(Milestone)
            .where(Milestone.id == milestone_id, Milestone.state == "open", Milestone.reminded_at.is_(None))
            .values(due_at=due_at)
            .execution_options(synchronize_session=False)
        )
    assert moved.rowcount == 1, "the milestone should still be open, and nobody reminded of it"  # type: ignore[attr-defined]


def test_when_the_broker_loses_the_delayed_messages_the_sweep_still_reminds_and_marks_overdue_once(
    system: System,
) -> None:
    idea_id, reference = incubating(system, "Shade trees for bus stops")
    # Nothing of this milestone may fall due while the worker is away, however long it takes to come back.
    milestone_id = plan(system, reference, utcnow() + WHILE_AWAY)
    wait_for(lambda: scheduled_published(system, idea_id), what="the milestone's delayed messages to be sent")
    # The incubation worker holds delayed messages it has fetched until they are due: stopped, it gives them back
    # to the broker, which then loses them; the worker that starts after has only its sweep to go by.
    assert system.stop("incubation") == 0
    system.runtime.broker.flush(system.settings.queue(incubation.QUEUE))
    system.start("incubation", "worker", "incubation")
    # The worker is back and sweeping: now the milestone's clock runs, the whole reminder window ahead of it.
    set_due(system, milestone_id, utcnow() + timedelta(seconds=DUE))

    wait_for(lambda: milestone(system, milestone_id).reminded_at is not None, timeout=60, what="the sponsor's reminder")
    wait_for(lambda: milestone(system, milestone_id).state == "overdue", timeout=90, what="the milestone overdue")
    wait_for_mail(system, reference, REMINDED + OVERDUE)
    # Caused by no message: the sweep's.
    (reminder,) = history(system, idea_id, "milestone.reminder.v1")
    (overdue,) = history(system, idea_id, "milestone.overdue.v1")
    assert [e["causation_id"] for e in (reminder, overdue)] == [None, None]
    assert [e["sponsor_id"] for e in (reminder, overdue)] == [system.sponsor.id, system.sponsor.id]


def test_a_milestone_reached_in_time_is_reminded_but_never_overdue(system: System) -> None:
    idea_id, reference = incubating(system, "Shade trees for school runs")
    milestone_id = plan(system, reference, utcnow() + timedelta(seconds=DUE))
    (scheduled,) = history(system, idea_id, "milestone.scheduled.v1")

    wait_for(lambda: milestone(system, milestone_id).reminded_at is not None, timeout=60, what="the sponsor's reminder")
    with unit_of_work(system.factory) as session:
        assert handlers.reach_milestone(session, reference, milestone_id, sponsor=system.sponsor)
    # The overdue message comes at its time and finds the milestone reached; the sweep never sees it again.
    wait_for(
        lambda: handled(system, incubation.milestone_overdue.actor_name, scheduled),
        timeout=90,
        what="the overdue message to come",
    )

    assert milestone(system, milestone_id).state == "reached"
    assert history(system, idea_id, "milestone.overdue.v1") == []
    assert len(history(system, idea_id, "milestone.reminder.v1")) == 1
    wait_for(
        lambda: (
            (SUBMITTER, "submitter/milestone_reached", "sent")
            in [(to, t, state) for to, t, _, state in deliveries(system.factory, reference)]
        ),
        timeout=60,
        what="the submitter to hear the milestone was reached",
    )
    wait_for_mail(system, reference, REMINDED)
