"""Sponsor offer deadlines of a few seconds, kept by real relay and worker processes, and by the sweep alone
when the broker loses the delayed messages.

No deadline here runs while a process starts, which takes half a second on an idle machine and many
on a loaded one: each process is waited for until it is at work (`start_ready`), and each deadline is
timed from an offer a running worker made, or set by the test once the worker is back.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from infra import people
from infra.app import create_app
from infra.composition import Runtime, queue_names
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from shared import lifecycle
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Offer, OutboxMessage, Person
from shared.db.uow import unit_of_work
from tests.conftest import Stack
from tests.helpers import deliveries, idea_status, mails_about, start_ready, wait_for

pytestmark = pytest.mark.e2e

# Seconds. The reminder is due 5 s before the deadline: a wide window for the worker to remind in (its sweep
# looks every second), and for a sponsor to accept an offer before they are due a reminder.
OFFER_DEADLINE = 10
OFFER_REMINDER = 5
DEADLINES = {
    "IDEAHUB_OFFER_DEADLINE": f"{OFFER_DEADLINE}s",
    "IDEAHUB_OFFER_REMINDER": f"{OFFER_REMINDER}s",
    "IDEAHUB_DEADLINE_SWEEP_SECONDS": "1",
}
# Far enough off that nothing falls due while a worker stops and starts, however long that takes.
WHILE_AWAY = timedelta(minutes=10)
STAFF = {
    "spo1": dict(
        email="deadline.spo1@example.gov.uk",
        name="Sofia Sponsor",
        role="sponsor",
        department="Housing",
        interests="parks trees shade streets",
        capacity=5,
    ),
    "spo2": dict(
        email="deadline.spo2@example.gov.uk",
        name="Sean Sponsor",
        role="sponsor",
        department="Transport",
        interests="buses roads parking",
        capacity=5,
    ),
    "admin": dict(email="deadline.admin@example.gov.uk", name="Alex Admin", role="admin"),
}
SUBMITTER = "gardener@example.gov.uk"
SPO1, SPO2, ADMIN = (str(STAFF[k]["email"]) for k in ("spo1", "spo2", "admin"))


@dataclass
class System:
    stack: Stack
    client: TestClient
    runtime: Runtime
    settings: Settings
    factory: sessionmaker[Session]
    tokens: dict[str, str]
    matching: subprocess.Popen[bytes]

    def start_matching(self) -> None:
        """Start the matching worker; return once it consumes and sweeps."""
        self.matching = start_ready(self.stack.data_dir, "matching", self.stack.env, "worker", "matching")

    def stop_matching(self) -> None:
        self.matching.send_signal(signal.SIGTERM)
        assert self.matching.wait(timeout=60) == 0


@pytest.fixture(scope="module")
def system(stack: Stack) -> Iterator[System]:
    stack.extra_env.update(DEADLINES)
    settings = stack.settings(
        offer_deadline=f"{OFFER_DEADLINE}s", offer_reminder=f"{OFFER_REMINDER}s", deadline_sweep_seconds=1
    )
    tokens = {}
    for key, person in STAFF.items():
        people.add(settings, **person)
        tokens[key] = people.new_api_token(settings, str(person["email"]))
    others = [start_ready(stack.data_dir, "relay", stack.env, "relay")]
    app = create_app(settings)
    system = System(stack, TestClient(app), app.state.runtime, settings, app.state.session_factory, tokens, others[0])
    try:
        others.append(start_ready(stack.data_dir, "notify", stack.env, "worker", "notify"))
        system.start_matching()
        with system.client:
            yield system
    finally:
        for process in [*others, system.matching]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = [p.wait(timeout=60) for p in [*others, system.matching]]
        system.runtime.close()
    assert codes == [0, 0, 0], f"relay and workers should stop cleanly on SIGTERM, got {codes}"


def into_matching(system: System, title: str) -> tuple[int, str]:
    """An idea recommended by its reviewers, as the review stage leaves it: in `matching`."""
    body = {"title": title, "problem": "Streets are hot.", "idea": "Plant shade trees in parks.", "email": SUBMITTER}
    with unit_of_work(system.factory) as session:
        created = submit_idea(
            session,
            Submission(**body, department="Housing"),
            channel="api",
            departments=system.settings.departments,
        )
        for target in (lifecycle.Status.IN_REVIEW, lifecycle.Status.MATCHING):
            lifecycle.transition(session, lifecycle.load(session, created.id), target, actor="test")
        return created.id, created.reference


def offer_states(system: System, idea_id: int) -> list[tuple[str, str]]:
    """(sponsor email, state) of each offer of the idea, in the order they were made."""
    with unit_of_work(system.factory) as session:
        rows = session.execute(
            select(Offer.sponsor_id, Offer.state).where(Offer.idea_id == idea_id).order_by(Offer.rank)
        )
        ids = {int(people_id): email for email, people_id in _people(session).items()}
        return [(ids[sponsor_id], state) for sponsor_id, state in rows]


def _people(session: Session) -> dict[str, int]:
    return {email: person_id for email, person_id in session.execute(select(Person.email, Person.id))}


def history(system: System, idea_id: int) -> list[tuple[str, dict[str, object]]]:
    """(type, payload) of every event recorded for the idea, oldest first."""
    with unit_of_work(system.factory) as session:
        rows = session.execute(
            select(OutboxMessage.event_type, OutboxMessage.payload)
            .where(OutboxMessage.idea_id == idea_id)
            .order_by(OutboxMessage.id)
        ).all()
    return [(event_type, json.loads(payload)) for event_type, payload in rows]


def staff_mail(system: System, reference: str) -> list[tuple[str, str, str]]:
    """(recipient, template, state) of each notification to anyone but the submitter, sorted."""
    return sorted((to, t, state) for to, t, _, state in deliveries(system.factory, reference) if to != SUBMITTER)


def staff_mails(system: System, reference: str) -> list[object]:
    """The emails written to anyone but the submitter about the idea."""
    mails = mails_about(system.settings.mail_dir, reference)
    return [m for m in mails if m["To"].addresses[0].addr_spec != SUBMITTER]  # type: ignore[union-attr]


def offer_made_published(system: System, idea_id: int) -> bool:
    with unit_of_work(system.factory) as session:
        return bool(
            session.scalar(
                select(OutboxMessage.published_at).where(
                    OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == "offer.made.v1"
                )
            )
        )


def set_deadline(system: System, idea_id: int, due_at: datetime) -> None:
    """Move the deadline of the idea's open offer, of which nobody has been reminded yet."""
    with unit_of_work(system.factory) as session:
        moved = session.execute(
            update(Offer)
            .where(Offer.idea_id == idea_id, Offer.state == "open", Offer.reminded_at.is_(None))
            .values(due_at=due_at)
            .execution_options(synchronize_session=False)
        )
    assert moved.rowcount == 1, "the offer should still be open, and nobody reminded of it"  # type: ignore[attr-defined]


def lose_broker_messages(system: System) -> None:
    """What a broker restarted without its data leaves: every dramatiq queue empty, delay queues included."""
    broker = system.runtime.broker
    if hasattr(broker, "client"):  # Redis: the whole dramatiq namespace (queues, .DQ, .XQ, message bodies, acks)
        keys = list(broker.client.scan_iter(match=f"{broker.namespace}:*", count=1000))
        if keys:
            broker.client.delete(*keys)
        return
    for name in queue_names(system.settings):  # RabbitMQ: each queue with its .DQ and .XQ
        broker.flush(name)


def test_the_sponsor_is_reminded_once_and_at_the_deadline_the_offer_passes_on(system: System) -> None:
    # Every process is at work: the offer's clock starts when the matching worker makes it.
    idea_id, reference = into_matching(system, "Shade trees for hot streets")
    wait_for(lambda: offer_states(system, idea_id) == [(SPO1, "open")], what="the offer to the best-fitting sponsor")

    wait_for(
        lambda: offer_states(system, idea_id) == [(SPO1, "expired"), (SPO2, "open")],
        timeout=60,
        what="the offer to pass on at its deadline",
    )
    # The second sponsor accepts at once, well before the reminder of their own offer is due.
    (offer,) = system.client.get("/api/v1/offers", headers={"Authorization": f"Bearer {system.tokens['spo2']}"}).json()
    accepted = system.client.post(
        f"/api/v1/offers/{offer['id']}/accept", headers={"Authorization": f"Bearer {system.tokens['spo2']}"}
    )
    assert accepted.status_code == 200, accepted.text
    assert idea_status(system.factory, reference) == "incubating"

    for wanted in ((SPO1, "sponsor/offer_reminder", "sent"), (SPO2, "sponsor/offer_made", "sent")):
        wait_for(lambda wanted=wanted: wanted in staff_mail(system, reference), what=f"the email {wanted}")
    assert staff_mail(system, reference) == sorted(
        [
            (SPO1, "sponsor/offer_made", "sent"),
            (SPO1, "sponsor/offer_reminder", "sent"),
            (SPO2, "sponsor/offer_made", "sent"),
        ]
    )
    assert len(staff_mails(system, reference)) == 3, "one email written for each notification, none twice"
    events = history(system, idea_id)
    (reminder,) = [payload for kind, payload in events if kind == "offer.reminder.v1"]
    assert reminder["sponsor_id"] == _sponsor_id(system, SPO1)
    assert [(p["answer"], p["sponsor_id"]) for kind, p in events if kind == "offer.answered.v1"] == [
        ("expired", _sponsor_id(system, SPO1)),
        ("accepted", _sponsor_id(system, SPO2)),
    ]


def _sponsor_id(system: System, email: str) -> int:
    with unit_of_work(system.factory) as session:
        return _people(session)[email]


def test_when_the_broker_loses_the_delayed_messages_the_sweep_still_reminds_and_passes_the_offer_on(
    system: System,
) -> None:
    idea_id, reference = into_matching(system, "Shade trees for bus stops")
    wait_for(lambda: offer_states(system, idea_id) == [(SPO1, "open")], what="the offer to the best-fitting sponsor")
    # Nothing of this offer may fall due while the worker is away, however long it takes to come back.
    set_deadline(system, idea_id, utcnow() + WHILE_AWAY)
    wait_for(lambda: offer_made_published(system, idea_id), what="the offer's delayed messages to be sent")
    # The matching worker holds delayed messages it has fetched until they are due: stopped, it gives them
    # back to the broker, which then loses them; the worker that starts after has only the sweep to go by.
    system.stop_matching()
    lose_broker_messages(system)
    system.start_matching()
    # The worker is back and sweeping: now the offer's clock runs, the whole reminder window ahead of it.
    set_deadline(system, idea_id, utcnow() + timedelta(seconds=OFFER_DEADLINE))

    wait_for(
        lambda: offer_states(system, idea_id) == [(SPO1, "expired"), (SPO2, "expired")],
        timeout=90,
        what="both offers to lapse",
    )
    wait_for(lambda: idea_status(system.factory, reference) == "unmatched", what="the idea to be unmatched")
    expected = sorted(
        [
            (SPO1, "sponsor/offer_made", "sent"),
            (SPO1, "sponsor/offer_reminder", "sent"),
            (SPO2, "sponsor/offer_made", "sent"),
            (SPO2, "sponsor/offer_reminder", "sent"),
            (ADMIN, "admin/idea_unmatched", "sent"),
        ]
    )
    wait_for(lambda: len(staff_mail(system, reference)) >= len(expected), what="the administrator to be told")
    assert staff_mail(system, reference) == expected
    assert len(staff_mails(system, reference)) == len(expected)
    events = history(system, idea_id)
    assert [kind for kind, _ in events if kind.startswith("offer.")] == [
        "offer.made.v1",
        "offer.reminder.v1",
        "offer.answered.v1",
        "offer.made.v1",
        "offer.reminder.v1",
        "offer.answered.v1",
    ]
    assert all(p["answer"] == "expired" for kind, p in events if kind == "offer.answered.v1")
    # No delayed message was left for the first offer's deadline: its reminder and lapse, caused by no
    # message, are the sweep's.
    first = _sponsor_id(system, SPO1)
    swept = [p for kind, p in events if kind in ("offer.reminder.v1", "offer.answered.v1") and p["sponsor_id"] == first]
    assert [p["causation_id"] for p in swept] == [None, None]
