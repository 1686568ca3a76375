"""Sponsor offer deadlines: the reminder before, the lapse at it, on the delayed message or the sweep.

The handlers run as the matching worker runs them (through the stage wrapper, which drops a
redelivered event) on each stack's real database; the deadline is moved into the past rather
than waited for.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from infra import people
from infra.composition import Runtime
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.matching import actors, deadlines, handlers
from shared import lifecycle
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Idea, Offer, OutboxMessage
from shared.db.uow import unit_of_work
from shared.errors import Conflict
from shared.principal import Principal
from shared.worker.declare import StageActor, StageContext
from shared.worker.stage import run_handler
from tests.conftest import Stack

SPONSORS = 3


@dataclass
class World:
    runtime: Runtime
    settings: Settings
    sponsors: dict[int, Principal]

    def deliver(self, actor: StageActor, payload: dict[str, Any]) -> None:
        """One delivery of an event to a matching actor, as the worker makes it."""
        run_handler(actor, self.runtime.session_factory, StageContext(self.settings), payload)

    def sweep(self, **later: float) -> int:
        return deadlines.sweep(self.runtime.session_factory, self.settings, now=utcnow() + timedelta(**later))


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    # The reminder is due as soon as an offer is made (a reminder as long as the deadline).
    settings = stack.settings(offer_deadline="1h", offer_reminder="1h", max_offers=2)
    sponsors = {}
    for n in range(SPONSORS):
        email = f"deadline.sponsor{n}@example.gov.uk"
        person_id = people.add(
            settings, email=email, name=f"Sponsor {n}", role="sponsor", interests="parks trees", capacity=5
        )
        sponsors[person_id] = Principal(person_id, email, f"Sponsor {n}", "sponsor")
    runtime = Runtime(settings)
    yield World(runtime, settings, sponsors)
    runtime.close()


def events(world: World, idea_id: int, event_type: str) -> list[dict[str, Any]]:
    with unit_of_work(world.runtime.session_factory) as session:
        rows = session.scalars(
            select(OutboxMessage.payload)
            .where(OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == event_type)
            .order_by(OutboxMessage.id)
        ).all()
    return [json.loads(row) for row in rows]


def offers(world: World, idea_id: int) -> list[Offer]:
    with unit_of_work(world.runtime.session_factory) as session:
        found = list(session.scalars(select(Offer).where(Offer.idea_id == idea_id).order_by(Offer.rank)))
        session.expunge_all()
    return found


def status(world: World, idea_id: int) -> str:
    with unit_of_work(world.runtime.session_factory) as session:
        return str(session.scalar(select(Idea.status).where(Idea.id == idea_id)))


def in_matching(world: World) -> int:
    """A new idea taken to `matching`, and its first offer made as the matching worker makes it."""
    body = {
        "title": f"Plant trees {uuid.uuid4().hex[:6]}",
        "problem": "Hot streets.",
        "idea": "Parks and trees.",
        "email": "gardener@example.gov.uk",
    }
    with unit_of_work(world.runtime.session_factory) as session:
        idea_id = submit_idea(session, Submission(**body), channel="api", departments=world.settings.departments).id
        idea = lifecycle.load(session, idea_id)
        lifecycle.transition(session, idea, lifecycle.Status.IN_REVIEW, actor="test")
        idea = lifecycle.load(session, idea_id)
        lifecycle.transition(session, idea, lifecycle.Status.MATCHING, actor="test")
    (to_matching,) = [e for e in events(world, idea_id, "idea.status_changed.v1") if e["to_status"] == "matching"]
    world.deliver(actors.start_matching, to_matching)
    return idea_id


def pass_deadline(world: World, offer_id: int) -> None:
    with unit_of_work(world.runtime.session_factory) as session:
        session.execute(update(Offer).where(Offer.id == offer_id).values(due_at=utcnow() - timedelta(seconds=10)))


def pass_on(world: World, idea_id: int) -> None:
    """Deliver each lapse or decline to the matching worker, as the relay would."""
    for answered in events(world, idea_id, "offer.answered.v1"):
        world.deliver(actors.offer_declined, answered)


def test_the_sponsor_is_reminded_once_when_the_delayed_message_and_the_sweep_both_run(world: World) -> None:
    idea_id = in_matching(world)
    (made,) = events(world, idea_id, "offer.made.v1")

    world.deliver(actors.remind_sponsor, made)
    world.sweep()  # finds the reminder already sent
    world.deliver(actors.remind_sponsor, made)  # redelivered
    world.deliver(actors.remind_sponsor, {**made, "event_id": str(uuid.uuid4())})  # or sent twice by the relay

    (reminder,) = events(world, idea_id, "offer.reminder.v1")
    assert reminder["offer_id"] == made["offer_id"]
    assert reminder["sponsor_id"] == made["sponsor_id"]
    assert reminder["due_at"] == made["due_at"]
    assert reminder["causation_id"] == made["event_id"]
    (offer,) = offers(world, idea_id)
    assert offer.state == "open"
    assert offer.reminded_at is not None


def test_the_sweep_reminds_when_the_delayed_message_was_lost_and_only_once(world: World) -> None:
    idea_id = in_matching(world)
    assert world.sweep() >= 1
    assert world.sweep() == 0
    (made,) = events(world, idea_id, "offer.made.v1")
    world.deliver(actors.remind_sponsor, made)  # the delayed message, after all
    (reminder,) = events(world, idea_id, "offer.reminder.v1")
    assert reminder["offer_id"] == made["offer_id"]


def test_nobody_is_reminded_before_the_reminder_time(stack: Stack, world: World) -> None:
    early = World(world.runtime, stack.settings(offer_deadline="1h", offer_reminder="10m"), world.sponsors)
    idea_id = in_matching(early)
    (made,) = events(early, idea_id, "offer.made.v1")
    early.deliver(actors.remind_sponsor, made)
    early.sweep()
    assert events(early, idea_id, "offer.reminder.v1") == []
    early.sweep(minutes=51)
    assert len(events(early, idea_id, "offer.reminder.v1")) == 1


def test_a_reminder_for_an_answered_offer_does_nothing(world: World) -> None:
    idea_id = in_matching(world)
    (made,) = events(world, idea_id, "offer.made.v1")
    with unit_of_work(world.runtime.session_factory) as session:
        handlers.decline_offer(session, made["offer_id"], sponsor=world.sponsors[made["sponsor_id"]], reason="No")

    world.deliver(actors.remind_sponsor, made)
    world.deliver(actors.offer_deadline, made)
    assert events(world, idea_id, "offer.reminder.v1") == []
    assert [e["answer"] for e in events(world, idea_id, "offer.answered.v1")] == ["declined"]
    assert offers(world, idea_id)[0].reminded_at is None


def test_at_the_deadline_the_offer_lapses_and_the_idea_goes_to_the_next_sponsor(world: World) -> None:
    idea_id = in_matching(world)
    (made,) = events(world, idea_id, "offer.made.v1")
    with unit_of_work(world.runtime.session_factory) as session:
        assert not deadlines.expire_offer(session, made["offer_id"], now=utcnow()), "not before its deadline"

    pass_deadline(world, made["offer_id"])
    world.deliver(actors.offer_deadline, made)
    world.sweep()  # finds it already done
    (lapsed,) = events(world, idea_id, "offer.answered.v1")
    assert lapsed["answer"] == "expired"
    assert lapsed["offer_id"] == made["offer_id"]
    assert lapsed["causation_id"] == made["event_id"]

    pass_on(world, idea_id)
    first, second = offers(world, idea_id)
    assert (first.state, first.answer_reason) == ("expired", deadlines.EXPIRED_REASON)
    assert second.state == "open"
    assert second.rank == 2
    assert second.sponsor_id != first.sponsor_id
    assert [e["sponsor_id"] for e in events(world, idea_id, "offer.made.v1")] == [first.sponsor_id, second.sponsor_id]
    assert status(world, idea_id) == "matching"


def test_the_last_lapse_leaves_the_idea_unmatched(world: World) -> None:
    idea_id = in_matching(world)
    for _ in range(world.settings.max_offers):
        current = [o for o in offers(world, idea_id) if o.state == "open"]
        assert len(current) == 1
        pass_deadline(world, current[0].id)
        assert world.sweep() >= 1  # the delayed messages were lost: the sweep acts alone
        pass_on(world, idea_id)

    assert [o.state for o in offers(world, idea_id)] == ["expired"] * world.settings.max_offers
    assert status(world, idea_id) == "unmatched"
    (unmatched,) = [e for e in events(world, idea_id, "idea.status_changed.v1") if e["to_status"] == "unmatched"]
    assert f"after {world.settings.max_offers} offer(s)" in unmatched["reason"]


def test_an_answer_after_the_lapse_is_refused_and_changes_nothing(world: World) -> None:
    idea_id = in_matching(world)
    (made,) = events(world, idea_id, "offer.made.v1")
    pass_deadline(world, made["offer_id"])
    world.deliver(actors.offer_deadline, made)

    with pytest.raises(Conflict, match="already expired"), unit_of_work(world.runtime.session_factory) as session:
        handlers.accept_offer(session, made["offer_id"], sponsor=world.sponsors[made["sponsor_id"]])
    assert status(world, idea_id) == "matching"
    assert [e["answer"] for e in events(world, idea_id, "offer.answered.v1")] == ["expired"]


def test_a_lapse_after_the_answer_changes_nothing(world: World) -> None:
    idea_id = in_matching(world)
    (made,) = events(world, idea_id, "offer.made.v1")
    with unit_of_work(world.runtime.session_factory) as session:
        handlers.accept_offer(session, made["offer_id"], sponsor=world.sponsors[made["sponsor_id"]])
    pass_deadline(world, made["offer_id"])
    world.deliver(actors.offer_deadline, made)
    world.sweep()

    assert [o.state for o in offers(world, idea_id)] == ["accepted"]
    assert [e["answer"] for e in events(world, idea_id, "offer.answered.v1")] == ["accepted"]
    assert status(world, idea_id) == "incubating"


def race(world: World, made: dict[str, Any]) -> tuple[bool, bool]:
    """The sponsor accepts while the deadline's message expires the offer, at the same moment: who changed it."""
    start = threading.Barrier(2)
    outcome: dict[str, bool] = {}

    def answer() -> None:
        start.wait()
        try:
            with unit_of_work(world.runtime.session_factory) as session:
                handlers.accept_offer(session, made["offer_id"], sponsor=world.sponsors[made["sponsor_id"]])
            outcome["answer"] = True
        except Conflict:
            outcome["answer"] = False

    def lapse() -> None:
        start.wait()
        with unit_of_work(world.runtime.session_factory) as session:
            outcome["lapse"] = deadlines.expire_offer(session, made["offer_id"], now=utcnow())

    threads = [threading.Thread(target=answer), threading.Thread(target=lapse)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcome["answer"], outcome["lapse"]


def test_an_answer_racing_the_lapse_exactly_one_wins(world: World) -> None:
    for _ in range(3):
        idea_id = in_matching(world)
        (made,) = events(world, idea_id, "offer.made.v1")
        pass_deadline(world, made["offer_id"])

        answered_first, lapsed_first = race(world, made)

        assert answered_first != lapsed_first
        (offer,) = offers(world, idea_id)
        answers = [e["answer"] for e in events(world, idea_id, "offer.answered.v1")]
        if answered_first:
            assert (offer.state, answers, status(world, idea_id)) == ("accepted", ["accepted"], "incubating")
        else:
            assert (offer.state, answers, status(world, idea_id)) == ("expired", ["expired"], "matching")
