"""The administrator's console API, on each stack: staff (list, add, change, deactivate with their work handed on)
and the actions that unblock an idea (reassign a review, add a reviewer, mark a duplicate, withdraw), each on the
idea's timeline with the administrator's name and reason. Who may call these is in test_access.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infra import people
from infra.app import create_app
from services.intake import handlers as intake
from services.intake.schemas import Submission
from services.matching import actors as matching_actors
from services.review import actors as review_actors
from shared import lifecycle
from shared.config import Settings
from shared.db.models import ApiToken, Idea, Offer, OutboxMessage, ReviewTask
from shared.db.uow import unit_of_work
from shared.worker.declare import StageContext
from shared.worker.stage import run_handler
from tests.conftest import Stack


@dataclass
class Console:
    client: TestClient
    settings: Settings
    factory: Any
    admin: dict[str, str]
    tag: str

    def events(self, idea_id: int, event_type: str) -> list[dict[str, Any]]:
        with unit_of_work(self.factory) as session:
            rows = session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == event_type)
                .order_by(OutboxMessage.id)
            ).all()
        return [json.loads(row) for row in rows]

    def actions(self, idea_id: int) -> list[dict[str, Any]]:
        return self.events(idea_id, "admin.action_taken.v1")

    def person(self, name: str, role: str, **fields: Any) -> tuple[int, str]:
        email = f"console.{name.lower()}.{self.tag}@example.gov.uk"
        answer = self.client.post(
            "/api/v1/admin/people",
            json={"email": email, "name": f"{name} {self.tag}", "role": role, **fields},
            headers=self.admin,
        )
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"]), email

    def tasks(self, idea_id: int) -> list[tuple[int, int, str]]:
        """(task id, reviewer id, state) of each review task of the idea, in the order made."""
        with unit_of_work(self.factory) as session:
            rows = session.execute(
                select(ReviewTask.id, ReviewTask.reviewer_id, ReviewTask.state)
                .where(ReviewTask.idea_id == idea_id)
                .order_by(ReviewTask.id)
            ).all()
        return [(row.id, row.reviewer_id, str(row.state)) for row in rows]

    def status(self, idea_id: int) -> str:
        with unit_of_work(self.factory) as session:
            return str(session.scalar(select(Idea.status).where(Idea.id == idea_id)))


@pytest.fixture(scope="module")
def console(stack: Stack) -> Iterator[Console]:
    settings = stack.settings(api_rate_limit="0/minute", reviewers_per_idea=1)
    email = "console.admin@example.gov.uk"
    people.add(settings, email=email, name="Ada Console", role="admin")
    token = people.new_api_token(settings, email)
    app = create_app(settings)
    with TestClient(app) as client:
        yield Console(
            client, settings, app.state.session_factory, {"Authorization": f"Bearer {token}"}, uuid.uuid4().hex[:6]
        )
    app.state.runtime.close()


def in_review(console: Console, *, department: str = "Housing") -> tuple[int, str]:
    """A new idea screened by the review worker's own code: in review, with one task out."""
    body = Submission(
        title=f"Console idea {uuid.uuid4().hex[:6]}",
        problem="Forms are printed and scanned.",
        idea="Let people fill the form in online.",
        department=department,
        email="sam.console@example.gov.uk",
    )
    with unit_of_work(console.factory) as session:
        created = intake.submit_idea(session, body, channel="api", departments=console.settings.departments)
    (received,) = console.events(created.id, "idea.received.v1")
    run_handler(review_actors.screen_idea, console.factory, StageContext(console.settings), received)
    assert console.status(created.id) == "in_review"
    return created.id, created.reference


# --- staff ----------------------------------------------------------------------------------------------------------


def test_people_are_added_listed_by_role_and_page_and_found_by_words(console: Console) -> None:
    for n in range(3):
        console.person(f"Pager{n}", "sponsor", department=f"Pager {console.tag}", interests="budgets", capacity=2)
    words = f"PAGER {console.tag}"  # in their department, whatever the case
    first = console.client.get(
        "/api/v1/admin/people", params={"role": "sponsor", "q": words, "per_page": 2}, headers=console.admin
    )
    assert first.status_code == 200
    assert [p["name"] for p in first.json()] == [f"Pager0 {console.tag}", f"Pager1 {console.tag}"]
    assert 'rel="next"' in first.headers["link"]
    assert {p["role"] for p in first.json()} == {"sponsor"}
    second = console.client.get(
        "/api/v1/admin/people", params={"role": "sponsor", "q": words, "per_page": 2, "page": 2}, headers=console.admin
    )
    assert [p["name"] for p in second.json()] == [f"Pager2 {console.tag}"]
    assert "link" not in second.headers
    reviewers = console.client.get(
        "/api/v1/admin/people", params={"role": "reviewer", "q": words}, headers=console.admin
    )
    assert reviewers.json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address", "name": "X", "role": "reviewer"}, "email"),
        ({"email": "x@example.gov.uk", "name": "X", "role": "submitter"}, "role"),
        ({"email": "x@example.gov.uk", "name": "", "role": "reviewer"}, "name"),
        ({"email": "x@example.gov.uk", "name": "X\x00", "role": "reviewer"}, "name"),
        ({"email": "x@example.gov.uk", "name": "X", "role": "reviewer", "capacity": -1}, "capacity"),
        ({"email": "x@example.gov.uk", "name": "X", "role": "reviewer", "is_admin": True}, "is_admin"),
    ],
)
def test_a_bad_new_person_is_refused_with_422_naming_the_field(
    console: Console, body: dict[str, Any], field: str
) -> None:
    answer = console.client.post("/api/v1/admin/people", json=body, headers=console.admin)
    assert answer.status_code == 422
    assert field in answer.text
    listed = console.client.get("/api/v1/admin/people", params={"q": "x@example.gov.uk"}, headers=console.admin)
    assert listed.json() == []


def test_the_same_email_twice_is_refused(console: Console) -> None:
    _, email = console.person("Twice", "reviewer")
    again = console.client.post(
        "/api/v1/admin/people",
        json={"email": email.upper(), "name": "Again", "role": "reviewer"},
        headers=console.admin,
    )
    assert again.status_code == 422
    assert "already registered" in again.text


def test_a_person_s_details_are_changed_and_what_is_not_sent_stays(console: Console) -> None:
    person_id, _ = console.person("Changer", "sponsor", department="Housing", interests="parks", capacity=3)
    changed = console.client.patch(
        f"/api/v1/admin/people/{person_id}", json={"capacity": 7, "department": ""}, headers=console.admin
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["capacity"], changed.json()["department"], changed.json()["interests"]) == (7, None, "parks")
    for bad in ({"capacity": "lots"}, {"role": "submitter"}, {"email": "new@example.gov.uk"}):
        assert (
            console.client.patch(f"/api/v1/admin/people/{person_id}", json=bad, headers=console.admin).status_code
            == 422
        )
    assert console.client.patch("/api/v1/admin/people/987654321", json={}, headers=console.admin).status_code == 404
    assert console.client.get(f"/api/v1/admin/people/{person_id}", headers=console.admin).json()["capacity"] == 7


def test_deactivating_a_reviewer_revokes_their_access_and_hands_their_tasks_on_with_a_record(
    console: Console,
) -> None:
    leaver_id, leaver_email = console.person("Leaver", "reviewer")
    stayer_id, _ = console.person("Stayer", "reviewer", capacity=100)
    token = people.new_api_token(console.settings, leaver_email)
    idea_id, reference = in_review(console)
    added = console.client.post(
        f"/api/v1/admin/ideas/{reference}/reviewers",
        json={"reviewer_email": leaver_email, "reason": "Knows the forms"},
        headers=console.admin,
    )
    assert added.status_code == 201, added.text
    assert console.client.get("/api/v1/reviews/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    before = console.client.get(f"/api/v1/admin/people/{leaver_id}", headers=console.admin).json()
    assert before["load"] == 1

    # A reviewer with work in hand is not made a sponsor behind its back.
    moved = console.client.patch(f"/api/v1/admin/people/{leaver_id}", json={"role": "sponsor"}, headers=console.admin)
    assert moved.status_code == 409

    gone = console.client.patch(
        f"/api/v1/admin/people/{leaver_id}", json={"active": False, "reason": "Left the team"}, headers=console.admin
    )
    assert gone.status_code == 200, gone.text
    assert (gone.json()["active"], gone.json()["load"]) == (False, 0)
    assert console.client.get("/api/v1/reviews/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with unit_of_work(console.factory) as session:
        live = session.scalars(select(ApiToken).where(ApiToken.person_id == leaver_id, ApiToken.revoked_at.is_(None)))
        assert live.all() == []
    leaver_tasks = [state for _, reviewer, state in console.tasks(idea_id) if reviewer == leaver_id]
    assert leaver_tasks == ["replaced"]
    handed = [a for a in console.actions(idea_id) if a["action"] == "review_handed_over"]
    assert len(handed) == 1
    assert (handed[0]["by_name"], handed[0]["reason"]) == ("Ada Console", "Left the team")
    assert handed[0]["detail"]["reviewer_from"] == f"Leaver {console.tag}"
    assert stayer_id  # an active reviewer with room was there to take it
    assert handed[0]["detail"]["reviewer_to"] is not None


def test_an_administrator_cannot_deactivate_themselves(console: Console) -> None:
    me = console.client.get("/api/v1/admin/people", params={"q": "console.admin@"}, headers=console.admin).json()
    answer = console.client.patch(f"/api/v1/admin/people/{me[0]['id']}", json={"active": False}, headers=console.admin)
    assert answer.status_code == 409
    assert "another administrator" in answer.text


def test_deactivating_a_sponsor_lapses_their_open_offers_and_records_it(console: Console) -> None:
    sponsor_id, sponsor_email = console.person("Lapsing", "sponsor", interests="online forms", capacity=10)
    with unit_of_work(console.factory) as session:
        created = intake.submit_idea(
            session,
            Submission(
                title=f"Scan less {uuid.uuid4().hex[:4]}",
                problem="Forms are printed and scanned.",
                idea="Online forms instead of scanning printed ones.",
                email="sam.console@example.gov.uk",
            ),
            channel="api",
            departments=console.settings.departments,
        )
        for target in (lifecycle.Status.IN_REVIEW, lifecycle.Status.MATCHING, lifecycle.Status.UNMATCHED):
            lifecycle.transition(session, lifecycle.load(session, created.id), target, actor="test")
    offered = console.client.post(
        f"/api/v1/admin/ideas/{created.reference}/offer", json={"sponsor_email": sponsor_email}, headers=console.admin
    )
    assert offered.status_code == 201, offered.text
    assert console.client.get(f"/api/v1/admin/people/{sponsor_id}", headers=console.admin).json()["open_offers"] == 1

    gone = console.client.patch(
        f"/api/v1/admin/people/{sponsor_id}", json={"active": False, "reason": "Moved on"}, headers=console.admin
    )
    assert gone.status_code == 200
    assert gone.json()["open_offers"] == 0
    with unit_of_work(console.factory) as session:
        state = session.scalar(select(Offer.state).where(Offer.idea_id == created.id, Offer.sponsor_id == sponsor_id))
    assert state == "expired"
    (lapsed,) = [a for a in console.actions(created.id) if a["action"] == "offer_lapsed"]
    assert (lapsed["by_name"], lapsed["reason"]) == ("Ada Console", "Moved on")
    assert lapsed["detail"]["sponsor"] == f"Lapsing {console.tag}"
    # The offer by hand was recorded too, and the lapse goes on to matching as a decline would.
    assert [a["action"] for a in console.actions(created.id)] == ["offered_to_sponsor", "offer_lapsed"]
    (expired,) = [e for e in console.events(created.id, "offer.answered.v1") if e["answer"] == "expired"]
    run_handler(matching_actors.offer_declined, console.factory, StageContext(console.settings), expired)
    assert console.status(created.id) in ("matching", "unmatched")


# --- unblocking an idea ---------------------------------------------------------------------------------------------


def test_a_waiting_review_is_reassigned_to_a_named_reviewer_with_a_fresh_task_and_a_record(console: Console) -> None:
    idea_id, reference = in_review(console)
    named_id, named_email = console.person("Named", "reviewer", capacity=100)  # after, so screening did not pick them
    ((task_id, first_reviewer, _),) = console.tasks(idea_id)
    answer = console.client.post(
        f"/api/v1/admin/ideas/{reference}/reassign",
        json={"task_id": task_id, "reviewer_email": named_email, "reason": "Off sick"},
        headers=console.admin,
    )
    assert answer.status_code == 201, answer.text
    assert console.tasks(idea_id) == [
        (task_id, first_reviewer, "replaced"),
        (answer.json()["task_id"], named_id, "open"),
    ]
    assigned = console.events(idea_id, "review.assigned.v1")
    assert assigned[-1]["reviewer_id"] == named_id  # the new reviewer is told
    (action,) = console.actions(idea_id)
    assert (action["action"], action["by_name"], action["reason"]) == ("review_reassigned", "Ada Console", "Off sick")
    assert action["detail"]["reviewer_to"] == f"Named {console.tag}"
    again = console.client.post(
        f"/api/v1/admin/ideas/{reference}/reassign",
        json={"task_id": task_id, "reviewer_email": named_email, "reason": "Again"},
        headers=console.admin,
    )
    assert again.status_code == 409  # that task is replaced already


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"task_id": 1, "reviewer_email": "nobody@example.gov.uk", "reason": "x"}, 422),
        ({"task_id": 1, "reviewer_email": "console.admin@example.gov.uk", "reason": "x"}, 422),
        ({"task_id": 1, "reviewer_email": "a@example.gov.uk", "reason": " "}, 422),
        ({"task_id": "one", "reviewer_email": "a@example.gov.uk", "reason": "x"}, 422),
        ({"task_id": 987654321, "reviewer_email": "{named}", "reason": "x"}, 404),
    ],
)
def test_a_bad_reassignment_is_refused_and_changes_nothing(console: Console, body: dict[str, Any], status: int) -> None:
    _, named_email = console.person(f"Other{uuid.uuid4().hex[:4]}", "reviewer")
    idea_id, reference = in_review(console)
    before = console.tasks(idea_id)
    body = {k: (named_email if v == "{named}" else v) for k, v in body.items()}
    answer = console.client.post(f"/api/v1/admin/ideas/{reference}/reassign", json=body, headers=console.admin)
    assert answer.status_code == status, answer.text
    assert console.tasks(idea_id) == before
    assert console.actions(idea_id) == []


def test_an_idea_is_marked_a_duplicate_of_another_and_its_submitter_told_which(console: Console) -> None:
    _, original = in_review(console)
    idea_id, reference = in_review(console)
    for body in ({"of_reference": reference, "reason": "x"}, {"of_reference": "IH-1999-000001", "reason": "x"}):
        refused = console.client.post(f"/api/v1/admin/ideas/{reference}/duplicate", json=body, headers=console.admin)
        assert refused.status_code == 422
    assert console.status(idea_id) == "in_review"
    answer = console.client.post(
        f"/api/v1/admin/ideas/{reference}/duplicate",
        json={"of_reference": original.lower(), "reason": "Same form"},
        headers=console.admin,
    )
    assert answer.status_code == 200, answer.text
    assert console.status(idea_id) == "duplicate"
    (changed,) = [e for e in console.events(idea_id, "idea.status_changed.v1") if e["to_status"] == "duplicate"]
    assert original in changed["reason"]
    assert [a["action"] for a in console.actions(idea_id)] == ["marked_duplicate"]
    again = console.client.post(
        f"/api/v1/admin/ideas/{reference}/duplicate",
        json={"of_reference": original, "reason": "Same form"},
        headers=console.admin,
    )
    assert again.status_code == 409


def test_an_idea_is_withdrawn_on_its_submitter_s_behalf_with_the_reason_they_are_told(console: Console) -> None:
    idea_id, reference = in_review(console)
    assert (
        console.client.post(f"/api/v1/admin/ideas/{reference}/withdraw", json={}, headers=console.admin).status_code
        == 422
    )
    answer = console.client.post(
        f"/api/v1/admin/ideas/{reference}/withdraw", json={"reason": "They rang to withdraw it"}, headers=console.admin
    )
    assert answer.status_code == 200
    assert console.status(idea_id) == "withdrawn"
    (changed,) = [e for e in console.events(idea_id, "idea.status_changed.v1") if e["to_status"] == "withdrawn"]
    assert changed["reason"] == "They rang to withdraw it"
    (action,) = console.actions(idea_id)
    assert (action["action"], action["by_name"]) == ("withdrawn", "Ada Console")
    again = console.client.post(
        f"/api/v1/admin/ideas/{reference}/withdraw", json={"reason": "again"}, headers=console.admin
    )
    assert again.status_code == 409


@pytest.mark.parametrize("reference", ["IH-2026-00000", "ih-2026-000001x", "IH-2026-000001%00", "x" * 300])
def test_a_malformed_reference_is_refused_with_422(console: Console, reference: str) -> None:
    answer = console.client.post(
        f"/api/v1/admin/ideas/{reference}/withdraw", json={"reason": "x"}, headers=console.admin
    )
    assert answer.status_code in (404, 422)
    assert answer.status_code != 500
