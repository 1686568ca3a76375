"""Milestone deadlines: the sponsor's reminder before the due time, overdue after the grace, on the delayed
message or the sweep, once whichever comes first.

The actors run as the incubation worker runs them (through the stage wrapper, which drops a redelivered
event) on each stack's real database, at a time the test gives (`deliver(..., at=...)`: the clock the actor
reads); the sweep is called with its own `now`. A sweep acts on every milestone of the database, so each
test looks only at its own idea's milestones and events.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, sessionmaker

from infra import people
from infra.composition import Runtime
from services.incubation import actors, deadlines, handlers, queries, subscriptions
from services.incubation.schemas import MilestoneChange, OutcomeIn, PlanIn
from services.intake import handlers as intake
from services.intake.schemas import Submission
from services.matching import actors as matching_actors
from services.matching import handlers as matching
from services.notify.handlers import handle_event, notifier_for
from shared import lifecycle
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Milestone, Notification, Offer, OutboxMessage, Person
from shared.db.uow import unit_of_work
from shared.principal import Principal
from shared.worker.declare import StageActor, StageContext
from shared.worker.stage import run_handler
from tests.conftest import Stack

# Long enough that the reminder time and the overdue time of a milestone are hours apart.
REMINDER, GRACE = timedelta(hours=1), timedelta(hours=1)
SPONSORS = {
    "parks": ("Sofia Sponsor", "Housing", "parks, trees and shade in hot streets"),
    "buses": ("Sean Sponsor", "Transport", "buses, routes and timetables"),
}
IDEAS = {
    "parks": ("Shade trees for hot streets", "Plant trees in parks and along hot streets for shade.", "Housing"),
    "buses": ("Bus timetables at stops", "Put bus timetables at every bus stop on the routes.", "Transport"),
}
ADMINS = {"milestones.admin1@example.gov.uk": "Ada Admin", "milestones.admin2@example.gov.uk": "Abe Admin"}
RETIRED_ADMIN = "milestones.retired@example.gov.uk"


@dataclass
class World:
    runtime: Runtime
    settings: Settings
    sponsors: dict[str, Principal]

    @property
    def factory(self) -> sessionmaker[Session]:
        return self.runtime.session_factory

    def deliver(self, actor: StageActor, payload: dict[str, Any], *, at: datetime | None = None) -> None:
        """One delivery of an event to an incubation actor, as the worker makes it, with the clock at `at`."""
        clock = mock.patch.object(actors, "utcnow", return_value=at) if at else nullcontext()
        with clock:
            run_handler(actor, self.factory, StageContext(self.settings), payload)

    def sweep(self, now: datetime) -> int:
        return deadlines.sweep(self.factory, self.settings, now=now)

    def events(self, idea_id: int, event_type: str) -> list[dict[str, Any]]:
        with unit_of_work(self.factory) as session:
            rows = session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == event_type)
                .order_by(OutboxMessage.id)
            ).all()
        return [json.loads(row) for row in rows]

    def milestone(self, milestone_id: int) -> Milestone:
        with unit_of_work(self.factory) as session:
            found = session.get(Milestone, milestone_id)
            assert found is not None
            session.expunge(found)
        return found


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    settings = stack.settings(max_offers=2, milestone_reminder="1h", milestone_grace="1h")
    sponsors = {}
    for key, (name, department, interests) in SPONSORS.items():
        email = f"milestones.{key}@example.gov.uk"
        person_id = people.add(
            settings, email=email, name=name, role="sponsor", department=department, interests=interests, capacity=50
        )
        sponsors[key] = Principal(person_id, email, name, "sponsor")
    for email, name in ADMINS.items():
        people.add(settings, email=email, name=name, role="admin")
    retired = people.add(settings, email=RETIRED_ADMIN, name="Ray Retired", role="admin")
    runtime = Runtime(settings)
    with unit_of_work(runtime.session_factory) as session:
        session.execute(update(Person).where(Person.id == retired).values(active=False))
    yield World(runtime, settings, sponsors)
    runtime.close()


def incubating(world: World, key: str = "parks") -> tuple[int, str]:
    """A new idea taken to incubation with the sponsor `key` (the best fit for it), as the workers take it."""
    title, idea, department = IDEAS[key]
    body = Submission(
        title=f"{title} {uuid.uuid4().hex[:4]}",
        problem="It is a problem today.",
        idea=idea,
        department=department,
        name="Sam Submitter",
        email="sam.submitter@example.gov.uk",
    )
    with unit_of_work(world.factory) as session:
        idea_id = intake.submit_idea(session, body, channel="api", departments=world.settings.departments).id
        reference = lifecycle.load(session, idea_id).reference
        for target in (lifecycle.Status.IN_REVIEW, lifecycle.Status.MATCHING):
            lifecycle.transition(session, lifecycle.load(session, idea_id), target, actor="test")
    (to_matching,) = [e for e in world.events(idea_id, "idea.status_changed.v1") if e["to_status"] == "matching"]
    run_handler(matching_actors.start_matching, world.factory, StageContext(world.settings), to_matching)
    with unit_of_work(world.factory) as session:
        offer = session.scalars(select(Offer).where(Offer.idea_id == idea_id, Offer.state == "open")).one()
        assert offer.sponsor_id == world.sponsors[key].id, "the idea should go to the sponsor it was written for"
        matching.accept_offer(session, offer.id, sponsor=world.sponsors[key])
    (accepted,) = world.events(idea_id, "offer.answered.v1")
    world.deliver(actors.start_incubation, accepted)
    return idea_id, reference


def plan(world: World, reference: str, *due: datetime, key: str = "parks") -> list[int]:
    """Milestones due at these times, added to the idea's plan by its sponsor; their ids."""
    milestones = [{"title": f"Step {n + 1}", "due_at": at} for n, at in enumerate(due)]
    with unit_of_work(world.factory) as session:
        return handlers.add_plan(
            session, reference, PlanIn(milestones=milestones), sponsor=world.sponsors[key], settings=world.settings
        )


def scheduled(world: World, idea_id: int, milestone_id: int) -> list[dict[str, Any]]:
    """The `milestone.scheduled.v1` events of one milestone, oldest first: what the relay times messages from."""
    return [e for e in world.events(idea_id, "milestone.scheduled.v1") if e["milestone_id"] == milestone_id]


def about(events: list[dict[str, Any]], milestone_id: int) -> list[dict[str, Any]]:
    return [e for e in events if e["milestone_id"] == milestone_id]


def at(payload: dict[str, Any], field: str) -> datetime:
    return datetime.fromisoformat(payload[field])


def new_date(world: World, reference: str, milestone_id: int, due_at: datetime, key: str = "parks") -> None:
    with unit_of_work(world.factory) as session:
        handlers.change_milestone(
            session,
            reference,
            milestone_id,
            MilestoneChange(due_at=due_at),
            sponsor=world.sponsors[key],
            settings=world.settings,
        )


def states(world: World, *milestone_ids: int) -> list[str]:
    return [world.milestone(m).state for m in milestone_ids]


# --- once, whichever comes first ------------------------------------------------------------------------------------


def test_the_sponsor_is_reminded_once_when_the_delayed_message_and_the_sweep_both_run_in_either_order(
    world: World,
) -> None:
    idea_id, reference = incubating(world)
    now = utcnow()
    message_first, sweep_first = plan(world, reference, now + timedelta(minutes=30), now + timedelta(minutes=30))
    (first,) = scheduled(world, idea_id, message_first)
    (second,) = scheduled(world, idea_id, sweep_first)
    assert at(first, "due_at") == now + timedelta(minutes=30)
    assert at(first, "overdue_at") == now + timedelta(minutes=30) + GRACE

    world.deliver(actors.remind_milestone, first, at=now)
    world.sweep(now)  # the first is reminded already; the second is reminded by the sweep
    world.deliver(actors.remind_milestone, first, at=now)  # redelivered
    world.deliver(actors.remind_milestone, {**first, "event_id": str(uuid.uuid4())}, at=now)  # or sent twice
    world.deliver(actors.remind_milestone, second, at=now)  # the second's message, after the sweep
    world.sweep(now + timedelta(minutes=1))

    reminders = world.events(idea_id, "milestone.reminder.v1")
    assert [e["milestone_id"] for e in reminders] == [message_first, sweep_first]
    by_message, by_sweep = reminders
    assert by_message["causation_id"] == first["event_id"]
    assert by_sweep["causation_id"] is None
    for reminder in reminders:
        assert reminder["sponsor_id"] == world.sponsors["parks"].id
        assert at(reminder, "due_at") == now + timedelta(minutes=30)
    assert by_message["title"] == "Step 1"
    assert states(world, message_first, sweep_first) == ["open", "open"]
    assert world.milestone(message_first).reminded_at == now
    assert world.events(idea_id, "milestone.overdue.v1") == []


def test_an_unreached_milestone_is_overdue_once_when_the_delayed_message_and_the_sweep_both_run_in_either_order(
    world: World,
) -> None:
    idea_id, reference = incubating(world, "buses")
    due = utcnow() + timedelta(minutes=30)
    message_first, sweep_first = plan(world, reference, due, due, key="buses")
    (first,) = scheduled(world, idea_id, message_first)
    (second,) = scheduled(world, idea_id, sweep_first)
    for payload in (first, second):
        world.deliver(actors.remind_milestone, payload, at=due - REMINDER)
    overdue_at = due + GRACE
    world.deliver(actors.milestone_overdue, first, at=overdue_at)
    world.sweep(overdue_at)
    world.deliver(actors.milestone_overdue, first, at=overdue_at)  # redelivered
    world.deliver(actors.milestone_overdue, {**first, "event_id": str(uuid.uuid4())}, at=overdue_at)  # sent twice
    world.deliver(actors.milestone_overdue, second, at=overdue_at + timedelta(seconds=1))
    world.sweep(overdue_at + timedelta(hours=1))

    overdue = world.events(idea_id, "milestone.overdue.v1")
    assert [e["milestone_id"] for e in overdue] == [message_first, sweep_first]
    assert [e["causation_id"] for e in overdue] == [first["event_id"], None]
    for told in overdue:
        assert told["sponsor_id"] == world.sponsors["buses"].id
        assert at(told, "due_at") == due
    assert len(world.events(idea_id, "milestone.reminder.v1")) == 2, "each was reminded before, once"
    assert states(world, message_first, sweep_first) == ["overdue", "overdue"]
    assert world.milestone(message_first).overdue_at == overdue_at
    with unit_of_work(world.factory) as session:
        view = queries.incubation(session, reference, person=world.sponsors["buses"])
    assert view.tag == "milestone overdue"


def race(one: Callable[[], object], other: Callable[[], object]) -> None:
    """Run both at the same moment, from two threads."""
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(fn: Callable[[], object]) -> None:
        start.wait()
        try:
            fn()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in (one, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def test_the_delayed_messages_racing_the_sweep_from_two_threads_remind_and_mark_overdue_once(world: World) -> None:
    idea_id, reference = incubating(world)
    due = utcnow() + timedelta(minutes=30)
    ids = plan(world, reference, *[due] * 4)
    payloads = [scheduled(world, idea_id, m)[0] for m in ids]

    def deliver_all(actor: StageActor, when: datetime) -> Callable[[], None]:
        def run() -> None:
            for payload in payloads:
                world.deliver(actor, payload, at=when)

        return run

    def sweep_often(when: datetime) -> Callable[[], None]:
        def run() -> None:
            for _ in payloads:
                world.sweep(when)

        return run

    remind_at, overdue_at = due - timedelta(minutes=10), due + GRACE + timedelta(minutes=10)
    race(deliver_all(actors.remind_milestone, remind_at), sweep_often(remind_at))
    race(deliver_all(actors.milestone_overdue, overdue_at), sweep_often(overdue_at))

    for milestone_id in ids:
        assert len(about(world.events(idea_id, "milestone.reminder.v1"), milestone_id)) == 1, milestone_id
        assert len(about(world.events(idea_id, "milestone.overdue.v1"), milestone_id)) == 1, milestone_id
    assert states(world, *ids) == ["overdue"] * len(ids)


# --- only at its time, and only while it is still to be reached --------------------------------------------------


def test_a_message_that_comes_early_does_nothing_and_the_sweep_acts_on_time(world: World) -> None:
    idea_id, reference = incubating(world)
    now = utcnow()
    due = now + timedelta(hours=3)
    (milestone_id,) = plan(world, reference, due)
    (payload,) = scheduled(world, idea_id, milestone_id)

    world.deliver(actors.remind_milestone, payload, at=now)
    world.deliver(actors.milestone_overdue, payload, at=now)
    world.sweep(now)
    world.sweep(due - REMINDER - timedelta(minutes=1))
    assert world.events(idea_id, "milestone.reminder.v1") == []
    assert world.milestone(milestone_id).reminded_at is None

    world.sweep(due - REMINDER + timedelta(seconds=1))
    (reminder,) = world.events(idea_id, "milestone.reminder.v1")
    assert (reminder["milestone_id"], reminder["causation_id"]) == (milestone_id, None)

    world.sweep(due + GRACE - timedelta(minutes=1))
    assert world.events(idea_id, "milestone.overdue.v1") == []
    assert states(world, milestone_id) == ["open"]
    world.sweep(due + GRACE + timedelta(seconds=1))
    (overdue,) = world.events(idea_id, "milestone.overdue.v1")
    assert (overdue["milestone_id"], overdue["causation_id"]) == (milestone_id, None)
    assert states(world, milestone_id) == ["overdue"]


def reach(world: World, reference: str, milestone_id: int) -> None:
    with unit_of_work(world.factory) as session:
        assert handlers.reach_milestone(session, reference, milestone_id, sponsor=world.sponsors["parks"])


def drop(world: World, reference: str, milestone_id: int) -> None:
    with unit_of_work(world.factory) as session:
        handlers.drop_milestone(session, reference, milestone_id, sponsor=world.sponsors["parks"])


@pytest.mark.parametrize(("how", "leave"), [("reached", reach), ("dropped", drop)])
def test_a_milestone_reached_or_dropped_before_its_time_is_neither_reminded_nor_overdue(
    world: World, how: str, leave: Callable[[World, str, int], None]
) -> None:
    idea_id, reference = incubating(world)
    due = utcnow() + timedelta(hours=3)
    (milestone_id,) = plan(world, reference, due)
    (payload,) = scheduled(world, idea_id, milestone_id)
    leave(world, reference, milestone_id)

    world.deliver(actors.remind_milestone, payload, at=due - REMINDER)
    world.sweep(due - REMINDER + timedelta(minutes=1))
    world.deliver(actors.milestone_overdue, payload, at=due + GRACE)
    world.sweep(due + GRACE + timedelta(minutes=1))

    assert world.events(idea_id, "milestone.reminder.v1") == []
    assert world.events(idea_id, "milestone.overdue.v1") == []
    found = world.milestone(milestone_id)
    assert (found.state, found.reminded_at, found.overdue_at) == (how, None, None)


def test_a_milestone_reached_after_its_reminder_is_not_overdue(world: World) -> None:
    idea_id, reference = incubating(world)
    due = utcnow() + timedelta(hours=3)
    (milestone_id,) = plan(world, reference, due)
    (payload,) = scheduled(world, idea_id, milestone_id)
    world.deliver(actors.remind_milestone, payload, at=due - REMINDER)
    reach(world, reference, milestone_id)

    world.deliver(actors.milestone_overdue, payload, at=due + GRACE)
    world.sweep(due + GRACE + timedelta(minutes=1))

    assert [e["milestone_id"] for e in world.events(idea_id, "milestone.reminder.v1")] == [milestone_id]
    assert world.events(idea_id, "milestone.overdue.v1") == []
    assert states(world, milestone_id) == ["reached"]


def test_a_milestone_given_a_later_date_is_judged_by_it_and_not_by_its_old_messages(world: World) -> None:
    idea_id, reference = incubating(world)
    now = utcnow()
    old_due, due = now + timedelta(hours=2), now + timedelta(hours=10)
    (milestone_id,) = plan(world, reference, old_due)
    new_date(world, reference, milestone_id, due)
    old, new = scheduled(world, idea_id, milestone_id)
    assert (at(new, "due_at"), at(new, "overdue_at")) == (due, due + GRACE)

    # The old date's messages come at the old times; so does a sweep.
    world.deliver(actors.remind_milestone, old, at=old_due - REMINDER)
    world.deliver(actors.milestone_overdue, old, at=old_due + GRACE)
    world.sweep(old_due + GRACE + timedelta(minutes=1))
    assert world.events(idea_id, "milestone.reminder.v1") == []
    assert world.events(idea_id, "milestone.overdue.v1") == []
    assert states(world, milestone_id) == ["open"]

    world.deliver(actors.remind_milestone, new, at=due - REMINDER)
    world.deliver(actors.milestone_overdue, new, at=due + GRACE)
    (reminder,) = world.events(idea_id, "milestone.reminder.v1")
    (overdue,) = world.events(idea_id, "milestone.overdue.v1")
    assert [e["causation_id"] for e in (reminder, overdue)] == [new["event_id"], new["event_id"]]
    assert at(reminder, "due_at") == at(overdue, "due_at") == due
    assert states(world, milestone_id) == ["overdue"]


def test_an_overdue_milestone_given_a_new_date_is_open_again_and_reminded_and_overdue_afresh(world: World) -> None:
    idea_id, reference = incubating(world)
    now = utcnow()
    first_due = now + timedelta(minutes=30)
    (milestone_id,) = plan(world, reference, first_due)
    (first,) = scheduled(world, idea_id, milestone_id)
    world.deliver(actors.remind_milestone, first, at=first_due - REMINDER)
    world.deliver(actors.milestone_overdue, first, at=first_due + GRACE)
    assert states(world, milestone_id) == ["overdue"]

    due = now + timedelta(hours=6)
    new_date(world, reference, milestone_id, due)
    found = world.milestone(milestone_id)
    assert (found.state, found.reminded_at, found.overdue_at) == ("open", None, None)
    _, second = scheduled(world, idea_id, milestone_id)
    world.sweep(due - REMINDER + timedelta(seconds=1))
    world.deliver(actors.remind_milestone, second, at=due - REMINDER + timedelta(seconds=2))
    world.deliver(actors.milestone_overdue, second, at=due + GRACE)
    world.sweep(due + GRACE + timedelta(seconds=1))

    assert [at(e, "due_at") for e in world.events(idea_id, "milestone.reminder.v1")] == [first_due, due]
    assert [at(e, "due_at") for e in world.events(idea_id, "milestone.overdue.v1")] == [first_due, due]
    assert states(world, milestone_id) == ["overdue"]


def implement(world: World, reference: str) -> None:
    outcome = OutcomeIn(result="implemented", summary="Trees planted on ten streets.", benefits="Cooler streets.")
    with unit_of_work(world.factory) as session:
        handlers.record_outcome(session, reference, outcome, sponsor=world.sponsors["parks"])


def withdraw(world: World, reference: str) -> None:
    with unit_of_work(world.factory) as session:
        idea = lifecycle.load_by_reference(session, reference)
        lifecycle.transition(session, idea, lifecycle.Status.WITHDRAWN, reason="Moved on", actor="submitter")


@pytest.mark.parametrize("end", [implement, withdraw], ids=["outcome recorded", "withdrawn"])
def test_the_milestones_of_an_idea_no_longer_incubating_are_neither_reminded_nor_overdue(
    world: World, end: Callable[[World, str], None]
) -> None:
    idea_id, reference = incubating(world)
    due = utcnow() + timedelta(hours=3)
    (milestone_id,) = plan(world, reference, due)
    (payload,) = scheduled(world, idea_id, milestone_id)
    end(world, reference)

    world.deliver(actors.remind_milestone, payload, at=due - REMINDER)
    world.sweep(due - REMINDER + timedelta(minutes=1))
    world.deliver(actors.milestone_overdue, payload, at=due + GRACE)
    world.sweep(due + GRACE + timedelta(minutes=1))

    assert world.events(idea_id, "milestone.reminder.v1") == []
    assert world.events(idea_id, "milestone.overdue.v1") == []
    assert states(world, milestone_id) == ["open"]


# --- a change that comes between the read and the claim ----------------------------------------------------------


@contextmanager
def meanwhile(world: World, change: Callable[[], None]) -> Iterator[None]:
    """Make `change` (in its own transaction, committed) just before the next UPDATE of a milestone: between what
    a deadline function read and its claim, as a sponsor's request can come while a worker acts."""
    done: list[bool] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not done and statement.lstrip().upper().startswith("UPDATE MILESTONES"):
            done.append(True)
            change()

    event.listen(world.runtime.engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(world.runtime.engine, "before_cursor_execute", before)
    assert done, "the change should have come before the claim"


@pytest.fixture
def interleaved(stack: Stack) -> None:
    if stack.name.startswith("sqlite"):
        pytest.skip("SQLite takes its write lock when a transaction begins: no change can come between read and claim")


@pytest.mark.usefixtures("interleaved")
def test_a_reminder_read_before_the_milestone_was_given_a_new_date_is_not_sent(world: World) -> None:
    idea_id, reference = incubating(world)
    now = utcnow()
    old_due, due = now + timedelta(minutes=30), now + timedelta(hours=10)
    (milestone_id,) = plan(world, reference, old_due)
    (old,) = scheduled(world, idea_id, milestone_id)

    with meanwhile(world, lambda: new_date(world, reference, milestone_id, due)):
        world.deliver(actors.remind_milestone, old, at=now)

    assert world.events(idea_id, "milestone.reminder.v1") == []
    assert world.milestone(milestone_id).reminded_at is None
    _, new = scheduled(world, idea_id, milestone_id)
    world.deliver(actors.remind_milestone, new, at=due - REMINDER)
    (reminder,) = world.events(idea_id, "milestone.reminder.v1")
    assert at(reminder, "due_at") == due


@pytest.mark.usefixtures("interleaved")
def test_overdue_read_before_the_milestone_was_given_a_new_date_is_not_marked(world: World) -> None:
    idea_id, reference = incubating(world)
    now = utcnow()
    old_due, due = now + timedelta(minutes=30), now + timedelta(hours=10)
    (milestone_id,) = plan(world, reference, old_due)
    (old,) = scheduled(world, idea_id, milestone_id)

    with meanwhile(world, lambda: new_date(world, reference, milestone_id, due)):
        world.deliver(actors.milestone_overdue, old, at=old_due + GRACE)

    assert world.events(idea_id, "milestone.overdue.v1") == []
    assert states(world, milestone_id) == ["open"]


@pytest.mark.usefixtures("interleaved")
@pytest.mark.parametrize("actor", [actors.remind_milestone, actors.milestone_overdue], ids=["reminder", "overdue"])
def test_nothing_is_sent_for_a_milestone_whose_idea_got_its_outcome_after_the_worker_read_it(
    world: World, actor: StageActor
) -> None:
    idea_id, reference = incubating(world)
    due = utcnow() + timedelta(hours=3)
    (milestone_id,) = plan(world, reference, due)
    (payload,) = scheduled(world, idea_id, milestone_id)

    with meanwhile(world, lambda: implement(world, reference)):
        world.deliver(actor, payload, at=due - REMINDER if actor is actors.remind_milestone else due + GRACE)

    assert world.events(idea_id, "milestone.reminder.v1") == []
    assert world.events(idea_id, "milestone.overdue.v1") == []
    found = world.milestone(milestone_id)
    assert (found.state, found.reminded_at) == ("open", None)


# --- working days ---------------------------------------------------------------------------------------------------


def december_2030(day: int) -> datetime:
    return datetime(2030, 12, day, 12, 0, tzinfo=UTC)


def test_working_day_durations_skip_weekends_and_bank_holidays(stack: Stack, world: World) -> None:
    """Christmas 2030: Wednesday 25 and Thursday 26 December are bank holidays, 28 and 29 a weekend."""
    days = World(world.runtime, stack.settings(milestone_reminder="2d", milestone_grace="2d"), world.sponsors)
    idea_id, reference = incubating(days)
    # Due on Friday 27: reminded two working days before, Monday 23 (not Wednesday 25, a holiday);
    # due on Tuesday 24: overdue two working days after, Monday 30 (not Thursday 26, nor the weekend).
    after_holidays, before_holidays = plan(days, reference, december_2030(27), december_2030(24))
    (first,) = scheduled(days, idea_id, after_holidays)
    (second,) = scheduled(days, idea_id, before_holidays)
    assert at(first, "overdue_at") == december_2030(31)
    assert at(second, "overdue_at") == december_2030(30)
    (reminder_route,) = [s for s in subscriptions.SUBSCRIPTIONS if s.actor is actors.remind_milestone]
    assert reminder_route.at is not None
    assert reminder_route.at.time(first, days.settings) == december_2030(23)
    assert reminder_route.at.time(second, days.settings) == datetime(2030, 12, 20, 12, 0, tzinfo=UTC)

    minute = timedelta(minutes=1)

    def reminded() -> list[int]:
        return [e["milestone_id"] for e in days.events(idea_id, "milestone.reminder.v1")]

    def overdue() -> list[int]:
        return [e["milestone_id"] for e in days.events(idea_id, "milestone.overdue.v1")]

    days.deliver(actors.remind_milestone, first, at=december_2030(23) - minute)
    days.sweep(december_2030(23) - minute)
    assert after_holidays not in reminded()
    days.sweep(december_2030(23) + minute)
    assert reminded() == [before_holidays, after_holidays]

    days.deliver(actors.milestone_overdue, second, at=december_2030(26) + minute)
    days.sweep(december_2030(30) - minute)
    assert overdue() == []
    days.sweep(december_2030(30) + minute)
    assert overdue() == [before_holidays]
    days.deliver(actors.milestone_overdue, first, at=december_2030(31) + minute)
    assert overdue() == [before_holidays, after_holidays]


# --- who is told ----------------------------------------------------------------------------------------------------


def notifications(world: World, idea_id: int) -> list[tuple[str, str, str]]:
    """(template, recipient, state) of the idea's milestone notifications, sorted."""
    with unit_of_work(world.factory) as session:
        rows = session.execute(
            select(Notification.template, Notification.recipient, Notification.state).where(
                Notification.idea_id == idea_id, Notification.template.like("%milestone%")
            )
        ).all()
    return sorted((template, recipient, state) for template, recipient, state in rows)


def test_notify_emails_the_sponsor_a_reminder_and_the_sponsor_and_each_active_administrator_when_overdue(
    world: World,
) -> None:
    idea_id, reference = incubating(world, "buses")
    due = utcnow() + timedelta(hours=3)
    (milestone_id,) = plan(world, reference, due, key="buses")
    (payload,) = scheduled(world, idea_id, milestone_id)
    world.deliver(actors.remind_milestone, payload, at=due - REMINDER)
    world.deliver(actors.milestone_overdue, payload, at=due + GRACE)

    notifier = notifier_for(world.settings, world.factory)
    told = world.events(idea_id, "milestone.reminder.v1") + world.events(idea_id, "milestone.overdue.v1")
    assert [e["type"] for e in told] == ["milestone.reminder.v1", "milestone.overdue.v1"]
    for event_payload in told * 2:  # each event delivered twice: still one email each
        handle_event(notifier, event_payload)

    sponsor = world.sponsors["buses"].email
    assert notifications(world, idea_id) == sorted(
        [
            ("sponsor/milestone_reminder", sponsor, "sent"),
            ("sponsor/milestone_overdue", sponsor, "sent"),
            *[("admin/milestone_overdue", admin, "sent") for admin in ADMINS],
        ]
    )
    with unit_of_work(world.factory) as session:
        rows = session.execute(
            select(Notification.template, Notification.recipient, Notification.subject, Notification.body).where(
                Notification.idea_id == idea_id, Notification.template.like("%milestone%")
            )
        ).all()
    for template, recipient, subject, body in rows:
        assert f"[{reference}]" in subject, (template, recipient)
        assert "Step 1" in (body or ""), (template, recipient)
        if template == "admin/milestone_overdue":
            assert "Sean Sponsor" in (body or ""), recipient
    assert RETIRED_ADMIN not in {recipient for _, recipient, *_ in rows}
