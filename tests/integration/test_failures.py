"""The failed-message console: a failure is listed with its attempts, retried once (handled by its consumer, once),
or discarded with a reason and kept as a record; each action is on the idea's timeline. On every stack."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from infra import people
from infra.composition import Runtime
from infra.console import failures
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.review import actors as review_actors
from shared.bus.exactly_once import record_failure
from shared.config import Settings
from shared.db.models import FailedMessage, Idea, OutboxMessage, ProcessedMessage
from shared.db.uow import unit_of_work
from shared.errors import Conflict, NotFound
from shared.paging import PageRequest
from shared.principal import Principal
from shared.worker.declare import StageContext
from shared.worker.stage import run_handler
from tests.conftest import Stack


@dataclass
class World:
    runtime: Runtime
    settings: Settings
    admin: Principal

    @property
    def factory(self) -> Any:
        return self.runtime.session_factory


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    settings = stack.settings()
    people.add(settings, email="failures.reviewer@example.gov.uk", name="Rita Reviewer", role="reviewer")
    admin_id = people.add(settings, email="failures.admin@example.gov.uk", name="Ada Admin", role="admin")
    runtime = Runtime(settings)
    yield World(runtime, settings, Principal(admin_id, "failures.admin@example.gov.uk", "Ada Admin", "admin"))
    runtime.close()


def received(world: World) -> dict[str, Any]:
    """A new idea's idea.received payload, as the relay would deliver it."""
    with unit_of_work(world.factory) as session:
        created = submit_idea(
            session,
            Submission(title=f"Failing {uuid.uuid4().hex[:6]}", problem="P", idea="I", email="sam@example.gov.uk"),
            channel="api",
            departments=world.settings.departments,
        )
        payload = session.scalar(select(OutboxMessage.payload).where(OutboxMessage.idea_id == created.id))
    return json.loads(str(payload))


def failure_of(world: World, event_id: str) -> FailedMessage:
    with unit_of_work(world.factory) as session:
        row = session.scalar(select(FailedMessage).where(FailedMessage.event_id == uuid.UUID(event_id)))
        assert row is not None
        session.expunge(row)
    return row


def status_of(world: World, idea_id: int) -> str:
    with unit_of_work(world.factory) as session:
        return str(session.scalar(select(Idea.status).where(Idea.id == idea_id)))


def timeline_actions(world: World, idea_id: int) -> list[dict[str, Any]]:
    with unit_of_work(world.factory) as session:
        rows = session.scalars(
            select(OutboxMessage.payload).where(
                OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == "admin.action_taken.v1"
            )
        ).all()
    return [json.loads(row) for row in rows]


def test_a_message_that_failed_for_good_is_retried_handled_once_and_recorded_on_the_timeline(world: World) -> None:
    payload = received(world)
    # As after dramatiq's last retry: the screening never happened, and the failure is kept.
    record_failure(world.factory, "review.screen_idea", payload, "OperationalError: the database went away")
    record_failure(world.factory, "review.screen_idea", payload, "OperationalError: the database went away")
    row = failure_of(world, payload["event_id"])
    assert (row.attempts, row.resolved_at) == (2, None)
    with unit_of_work(world.factory) as session:
        listed = failures.failures(session, page=PageRequest(1, 100))
    mine = next(f for f in listed.items if f.id == row.id)
    assert (mine.event_type, mine.idea_reference, mine.attempts) == ("idea.received.v1", payload["idea_reference"], 2)

    result = failures.retry(world.settings, world.factory, row.id, admin=world.admin)
    assert (result.handled, result.failed_again) == (True, None)
    assert status_of(world, payload["idea_id"]) == "in_review"
    row = failure_of(world, payload["event_id"])
    assert (row.resolution, row.resolved_by) == ("retried", world.admin.email)
    # Handled once: a redelivery of the same event changes nothing, and a second retry is refused.
    run_handler(review_actors.screen_idea, world.factory, StageContext(world.settings), payload)
    with pytest.raises(Conflict, match="retried already"):
        failures.retry(world.settings, world.factory, row.id, admin=world.admin)
    (action,) = timeline_actions(world, payload["idea_id"])
    assert (action["action"], action["by_name"], action["detail"]["consumer"]) == (
        "failure_retried",
        "Ada Admin",
        "review.screen_idea",
    )


def test_a_retry_that_fails_again_is_recorded_again_as_a_new_failure(world: World) -> None:
    payload = received(world) | {"idea_id": 987_654_321}  # no such idea: refused whenever it is handled
    run_handler(review_actors.screen_idea, world.factory, StageContext(world.settings), payload)
    row = failure_of(world, payload["event_id"])
    result = failures.retry(world.settings, world.factory, row.id, admin=world.admin)
    assert result.handled is False
    assert result.failed_again is not None
    assert result.failed_again != row.id
    with unit_of_work(world.factory) as session:
        handled = session.scalar(
            select(ProcessedMessage.event_id).where(ProcessedMessage.event_id == uuid.UUID(payload["event_id"]))
        )
    assert handled is not None  # failed again, it counts as handled again: nothing retries it by itself


def test_a_discarded_failure_is_kept_with_its_reason_and_leaves_the_open_list(world: World) -> None:
    payload = received(world)
    record_failure(world.factory, "review.screen_idea", payload, "boom")
    row = failure_of(world, payload["event_id"])
    with unit_of_work(world.factory) as session:
        failures.discard(session, row.id, admin=world.admin, reason="A test idea")
    with unit_of_work(world.factory) as session:
        open_ = failures.failures(session, state="open", page=PageRequest(1, 100))
        resolved = failures.failures(session, state="resolved", page=PageRequest(1, 100))
        with pytest.raises(Conflict):
            failures.discard(session, row.id, admin=world.admin, reason="again")
        with pytest.raises(NotFound):
            failures.one(session, 987_654_321)
    assert row.id not in [f.id for f in open_.items]
    kept = next(f for f in resolved.items if f.id == row.id)
    assert (kept.resolution, kept.resolution_reason) == ("discarded", "A test idea")
    assert status_of(world, payload["idea_id"]) == "received"  # nothing was handled
    assert [a["action"] for a in timeline_actions(world, payload["idea_id"])] == ["failure_discarded"]


def test_a_malformed_message_cannot_be_retried_only_discarded(world: World) -> None:
    record_failure(world.factory, "review.screen_idea", ["not", "an", "event"], "malformed event")
    with unit_of_work(world.factory) as session:
        row = session.scalars(select(FailedMessage).order_by(FailedMessage.id.desc())).first()
        assert row is not None
        failure_id = row.id
    with pytest.raises(Conflict, match="discard it instead"):
        failures.retry(world.settings, world.factory, failure_id, admin=world.admin)
    with unit_of_work(world.factory) as session:
        failures.discard(session, failure_id, admin=world.admin, reason="Garbage")


def test_the_command_line_lists_retries_and_discards_failures(world: World, stack: Stack) -> None:
    from typer.testing import CliRunner

    from infra.cli import app

    env = {k: v for k, v in stack.env.items() if k.startswith("IDEAHUB_")} | {"COLUMNS": "160"}
    first, second = received(world), received(world)
    for payload in (first, second):
        record_failure(world.factory, "review.screen_idea", payload, "OperationalError: the database went away")
    first_id, second_id = failure_of(world, first["event_id"]).id, failure_of(world, second["event_id"]).id
    runner = CliRunner()
    listed = runner.invoke(app, ["failures", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert first["idea_reference"] in listed.stdout
    assert "review.screen_idea" in listed.stdout
    retried = runner.invoke(app, ["failures", "retry", str(first_id)], env=env)
    assert retried.exit_code == 0, retried.output
    assert f"Failed message {first_id} was handled." in retried.stdout
    assert status_of(world, first["idea_id"]) == "in_review"
    refused = runner.invoke(app, ["failures", "discard", str(second_id), "--reason", " "], env=env)
    assert refused.exit_code == 2
    discarded = runner.invoke(app, ["failures", "discard", str(second_id), "--reason", "A test"], env=env)
    assert discarded.exit_code == 0, discarded.output
    again = runner.invoke(app, ["failures", "retry", str(second_id)], env=env)
    assert again.exit_code == 2
    assert "discarded already" in again.output
    (action,) = timeline_actions(world, first["idea_id"])
    assert action["by_name"].endswith("(command line)")
