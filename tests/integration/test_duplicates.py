"""Screening records likely duplicates for reviewers and administrators, and changes nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infra import people
from infra.app import create_app
from infra.composition import Runtime
from services.intake.handlers import submit_idea, withdraw
from services.intake.schemas import Submission
from services.review import screening
from services.review.similarity import index_unindexed
from shared.config import Settings
from shared.contracts.events import IdeaReceivedV1
from shared.db.models import DuplicateCandidate, Idea, OutboxMessage, SimilarityBand
from shared.db.uow import unit_of_work
from tests.conftest import Stack

# Three ideas, each with a reworded copy, on topics far enough apart that no test sees another's.
OUTPATIENTS = {
    "title": "Text reminders for outpatient appointments",
    "problem": "Patients miss outpatient appointments because the letters arrive late or get lost, and each "
    "missed slot wastes clinic time that another patient on the waiting list could have used.",
    "idea": "Send an automatic text message reminder two days before every outpatient appointment, with a "
    "link to confirm, cancel or rebook, so freed slots go back to the waiting list.",
}
OUTPATIENTS_REWORDED = {
    "title": "Appointment reminders by text message for outpatients",
    "problem": "Outpatient appointments are missed when letters get lost or arrive too late; every missed "
    "slot wastes clinic time another patient on the waiting list could use.",
    "idea": "Two days before each outpatient appointment, send patients an automatic text reminder with a "
    "link to cancel, confirm or rebook, so that freed slots return to the waiting list.",
}
REPAIRS = {
    "title": "Book council house repairs online with a chosen time slot",
    "problem": "Tenants wait on the phone for forty minutes to report a broken boiler or damp, then stay home "
    "all day because the repair team cannot say when they will come.",
    "idea": "A repairs page where tenants report the fault with photos and pick a two-hour slot from the "
    "team's live diary, with a text when the operative is on the way.",
}
REPAIRS_REWORDED = {
    "title": "Online booking of council house repairs in a chosen slot",
    "problem": "To report damp or a broken boiler, tenants wait forty minutes on the phone and then stay home "
    "the whole day, as the repair team cannot tell them when it will come.",
    "idea": "Tenants report the fault on a repairs page, with photos, and pick a two-hour slot in the team's "
    "live diary; a text tells them when the operative is on the way.",
}
HEARINGS = {
    "title": "Staggered court hearing times instead of everyone at ten",
    "problem": "Every witness and defendant is summoned for ten o'clock, so the court corridor is crowded "
    "and most people wait hours before their hearing is called.",
    "idea": "List each hearing with its own start time, staggered through the day, and send witnesses an "
    "updated time by text if the list runs late.",
}
UNRELATED = {
    "title": "Grit bins at the steepest bus stops",
    "problem": "Every winter the pavements at hillside bus stops freeze and older passengers slip and fall.",
    "idea": "Put a grit bin at each of the twenty steepest stops and ask the drivers' depot to refill them weekly.",
}


@dataclass
class World:
    settings: Settings
    runtime: Runtime
    client: TestClient
    reviewer: dict[str, str]
    admin: dict[str, str]
    sponsor: dict[str, str]

    def screened(self, fields: dict[str, object], **extra: object) -> tuple[int, str, str]:
        """Submit an idea and run screening on its idea.received event, as the review worker would."""
        body = {"email": "someone@example.gov.uk", **fields, **extra}
        with unit_of_work(self.runtime.session_factory) as session:
            created = submit_idea(
                session, Submission.model_validate(body), channel="api", departments=self.settings.departments
            )
            payload = session.scalar(
                select(OutboxMessage.payload).where(
                    OutboxMessage.idea_id == created.id, OutboxMessage.event_type == "idea.received.v1"
                )
            )
        assert payload is not None
        with unit_of_work(self.runtime.session_factory) as session:
            screening.screen_idea(session, IdeaReceivedV1.model_validate_json(payload), settings=self.settings)
        return created.id, created.reference, created.status_token

    def candidates(self, idea_id: int) -> list[tuple[int, float]]:
        with unit_of_work(self.runtime.session_factory) as session:
            rows = session.execute(
                select(DuplicateCandidate.other_idea_id, DuplicateCandidate.score)
                .where(DuplicateCandidate.idea_id == idea_id)
                .order_by(DuplicateCandidate.score.desc())
            )
            return [(row.other_idea_id, row.score) for row in rows]

    def status(self, idea_id: int) -> str:
        with unit_of_work(self.runtime.session_factory) as session:
            return session.scalars(select(Idea.status).where(Idea.id == idea_id)).one()


def bearer(settings: Settings, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {people.new_api_token(settings, email)}"}


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    settings = stack.settings()
    people.add(settings, email="rhea@example.gov.uk", name="Rhea Reviewer", role="reviewer")
    people.add(settings, email="adam@example.gov.uk", name="Adam Admin", role="admin")
    people.add(settings, email="spike@example.gov.uk", name="Spike Sponsor", role="sponsor")
    runtime = Runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as client:
            yield World(
                settings,
                runtime,
                client,
                bearer(settings, "rhea@example.gov.uk"),
                bearer(settings, "adam@example.gov.uk"),
                bearer(settings, "spike@example.gov.uk"),
            )
    finally:
        runtime.engine.dispose()


def test_a_reworded_copy_gets_the_original_as_a_candidate_and_no_status_changes(world: World) -> None:
    first, _, _ = world.screened(OUTPATIENTS)
    second, _, _ = world.screened(OUTPATIENTS_REWORDED)

    [(other, score)] = world.candidates(second)
    assert other == first
    assert 0.5 <= score < 1
    assert world.candidates(first) == []  # found by the later idea only
    assert (world.status(first), world.status(second)) == ("in_review", "in_review")


def test_an_unrelated_idea_gets_no_candidate_but_is_indexed_for_later_ones(world: World) -> None:
    idea, _, _ = world.screened(UNRELATED)
    assert world.candidates(idea) == []
    with unit_of_work(world.runtime.session_factory) as session:
        bands = session.scalars(select(SimilarityBand.band).where(SimilarityBand.idea_id == idea)).all()
    assert len(bands) == 64


def test_reviewers_and_administrators_see_candidates_but_never_the_other_submitter(world: World) -> None:
    _, original_ref, _ = world.screened(
        REPAIRS, name="Secret Sabine", email="secret.sabine@example.gov.uk", anonymous=True
    )
    _, copy_ref, _ = world.screened(REPAIRS_REWORDED, name="Open Olga", email="open.olga@example.gov.uk")

    tasks = world.client.get("/api/v1/reviews/tasks", headers=world.reviewer)
    assert tasks.status_code == 200, tasks.text
    [task] = [t for t in tasks.json() if t["idea_reference"] == copy_ref]
    [duplicate] = task["duplicates"]
    assert duplicate["reference"] == original_ref
    assert duplicate["title"] == REPAIRS["title"]
    assert duplicate["status"] == "in_review"
    assert 0.5 <= duplicate["score"] < 1
    assert set(duplicate) == {"reference", "title", "score", "status"}

    bodies = [tasks.text]
    for who in (world.reviewer, world.admin):
        view = world.client.get(f"/api/v1/ideas/{copy_ref}", headers=who)
        assert view.status_code == 200, view.text
        assert [(d["reference"], d["score"]) for d in view.json()["duplicates"]] == [(original_ref, duplicate["score"])]
        bodies.append(view.text)
    assert "Olga" in bodies[-1]  # the administrator sees who sent this idea, so the check below can fail
    for body in bodies:  # ... but nobody sees who sent the other one, not even an administrator
        assert "Sabine" not in body
        assert "secret.sabine" not in body
    sponsor_view = world.client.get(f"/api/v1/ideas/{copy_ref}", headers=world.sponsor)
    assert sponsor_view.status_code == 200, sponsor_view.text
    assert sponsor_view.json()["duplicates"] == []


def test_a_withdrawn_idea_is_still_a_candidate_with_its_status_shown(world: World) -> None:
    first, first_ref, token = world.screened(HEARINGS)
    with unit_of_work(world.runtime.session_factory) as session:
        withdraw(session, token, reason=None)
    second, second_ref, _ = world.screened(HEARINGS | {"title": "Staggered hearing times at court"})

    assert [other for other, _ in world.candidates(second)] == [first]
    view = world.client.get(f"/api/v1/ideas/{second_ref}", headers=world.admin).json()
    assert [(d["reference"], d["status"]) for d in view["duplicates"]] == [(first_ref, "withdrawn")]
    assert world.status(first) == "withdrawn"


def test_ideas_stored_before_the_duplicate_search_are_indexed_once_and_then_found(world: World) -> None:
    libraries = {
        "title": "Return library books at any branch in the county",
        "problem": "Borrowers must return books to the branch they borrowed from, so people who work in another "
        "town pay fines or make a special journey every three weeks.",
        "idea": "Let any branch take back any book and send it home on the weekly van that already runs between "
        "the branches, with the loan closed when it is scanned.",
    }
    with unit_of_work(world.runtime.session_factory) as session:  # stored, never screened: no bands
        old = submit_idea(
            session,
            Submission.model_validate({"email": "someone@example.gov.uk", **libraries}),
            channel="import",
            departments=world.settings.departments,
        ).id
    assert index_unindexed(world.runtime.session_factory) == 1
    assert index_unindexed(world.runtime.session_factory) == 0  # nothing twice
    with unit_of_work(world.runtime.session_factory) as session:
        assert session.scalar(select(func.count()).where(SimilarityBand.idea_id == old)) == 64
    reworded = {
        "title": "Return library books to any branch in the county",
        "problem": "Books must go back to the branch they came from, so borrowers who work in another town make "
        "a special journey every three weeks or pay fines.",
        "idea": "Any branch takes back any book and sends it home on the weekly van already running between the "
        "branches; the loan closes when the book is scanned.",
    }
    new, _, _ = world.screened(reworded)
    assert [other for other, _ in world.candidates(new)] == [old]
    assert world.candidates(old) == []
