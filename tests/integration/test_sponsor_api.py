"""The sponsors' JSON API as a script uses it, on each stack: answers, pages, and bad input refused with 422.

Who may call what is in test_access.py; the service rules behind these routes are in test_sponsors.py.
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
from services.incubation import actors as incubation_actors
from services.intake import handlers as intake
from services.intake.schemas import Submission
from services.matching import actors as matching_actors
from shared import lifecycle
from shared.config import Settings
from shared.db.models import Idea, OutboxMessage
from shared.db.uow import unit_of_work
from shared.worker.declare import StageActor, StageContext
from shared.worker.stage import run_handler
from tests.conftest import Stack


@dataclass
class Api:
    client: TestClient
    settings: Settings
    factory: Any
    tokens: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def deliver(self, actor: StageActor, payload: dict[str, Any]) -> None:
        run_handler(actor, self.factory, StageContext(self.settings), payload)

    def events(self, idea_id: int, event_type: str) -> list[dict[str, Any]]:
        with unit_of_work(self.factory) as session:
            rows = session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == event_type)
                .order_by(OutboxMessage.id)
            ).all()
        return [json.loads(row) for row in rows]


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[Api]:
    settings = stack.settings(api_rate_limit="0/minute")
    tokens = {}
    for who, role, interests in (
        ("sponsor", "sponsor", "parks trees shade"),
        ("other", "sponsor", "buses and timetables"),
        ("admin", "admin", None),
    ):
        email = f"api.{who}@example.gov.uk"
        people.add(settings, email=email, name=f"{who.title()} Person", role=role, interests=interests, capacity=50)
        tokens[who] = people.new_api_token(settings, email)
    app = create_app(settings)
    with TestClient(app) as client:
        yield Api(client, settings, app.state.session_factory, tokens)
    app.state.runtime.close()


def offered(api: Api, *, anonymous: bool = False) -> tuple[int, str, int]:
    """A new parks idea in matching, offered to the parks sponsor: (idea id, reference, offer id)."""
    body = Submission(
        title=f"Shade trees {uuid.uuid4().hex[:4]}",
        problem="Streets are hot.",
        idea="Plant trees in parks for shade.",
        department="Housing",
        name="Sam Submitter",
        email="sam.api@example.gov.uk",
        anonymous=anonymous,
    )
    with unit_of_work(api.factory) as session:
        created = intake.submit_idea(session, body, channel="api", departments=api.settings.departments)
        for target in (lifecycle.Status.IN_REVIEW, lifecycle.Status.MATCHING):
            lifecycle.transition(session, lifecycle.load(session, created.id), target, actor="test")
    (moved,) = [e for e in api.events(created.id, "idea.status_changed.v1") if e["to_status"] == "matching"]
    api.deliver(matching_actors.start_matching, moved)
    (made,) = api.events(created.id, "offer.made.v1")
    return created.id, created.reference, made["offer_id"]


def incubating(api: Api) -> tuple[int, str]:
    idea_id, reference, offer_id = offered(api)
    assert api.client.post(f"/api/v1/offers/{offer_id}/accept", headers=api.as_("sponsor")).status_code == 200
    (accepted,) = api.events(idea_id, "offer.answered.v1")
    api.deliver(incubation_actors.start_incubation, accepted)
    return idea_id, reference


def test_offers_are_listed_a_page_at_a_time_with_a_link_to_the_next(api: Api) -> None:
    for _ in range(3):
        offered(api)
    first = api.client.get("/api/v1/offers?per_page=2", headers=api.as_("sponsor"))
    assert first.status_code == 200
    assert len(first.json()) == 2
    assert 'rel="next"' in first.headers["link"]
    assert "page=2" in first.headers["link"]
    assert {"reasons", "working_days_left", "department", "due_at"} <= set(first.json()[0])
    too_many = api.client.get("/api/v1/offers?per_page=1000", headers=api.as_("sponsor"))
    assert too_many.status_code == 422


def test_an_offer_in_full_never_names_an_anonymous_submitter_and_is_another_sponsor_s_404(api: Api) -> None:
    _, _, offer_id = offered(api, anonymous=True)
    mine = api.client.get(f"/api/v1/offers/{offer_id}", headers=api.as_("sponsor"))
    assert mine.status_code == 200
    assert mine.json()["submitted_by"] is None
    assert "sam.api@example.gov.uk" not in mine.text
    assert "Sam Submitter" not in mine.text
    assert api.client.get(f"/api/v1/offers/{offer_id}", headers=api.as_("other")).status_code == 404
    assert api.client.get(f"/api/v1/offers/{2**63}", headers=api.as_("sponsor")).status_code == 422


def test_a_plan_progress_and_an_outcome_are_read_back_as_json(api: Api) -> None:
    _, reference = incubating(api)
    headers = api.as_("sponsor")
    plan = {
        "milestones": [{"title": "Choose streets", "due_on": "2027-03-31"}, {"title": "Plant", "due_on": "2027-06-30"}],
        "budget": 4000,
        "projected_money_a_year": 1500.5,
    }
    made = api.client.post(f"/api/v1/ideas/{reference}/milestones", json=plan, headers=headers)
    assert made.status_code == 201
    first, second = made.json()["milestone_ids"]
    assert (
        api.client.patch(
            f"/api/v1/ideas/{reference}/milestones/{first}", json={"due_on": "2027-04-30"}, headers=headers
        ).status_code
        == 200
    )
    assert api.client.delete(f"/api/v1/ideas/{reference}/milestones/{second}", headers=headers).status_code == 200
    assert (
        api.client.post(
            f"/api/v1/ideas/{reference}/updates",
            json={"state": "at_risk", "note": "Late.", "private": True},
            headers=headers,
        ).status_code
        == 201
    )
    view = api.client.get(f"/api/v1/ideas/{reference}/incubation", headers=headers).json()
    assert [(m["title"], m["due_on"], m["state"]) for m in view["milestones"]] == [
        ("Choose streets", "2027-04-30", "open")
    ]
    assert (view["budget"], view["projected"]["money_a_year"], view["tag"]) == (4000, 1500.5, "at risk")
    assert view["updates"][0]["private"] is True
    listed = api.client.get("/api/v1/incubations", headers=headers).json()
    assert reference in [i["idea_reference"] for i in listed]
    assert reference not in [
        i["idea_reference"] for i in api.client.get("/api/v1/incubations", headers=api.as_("other")).json()
    ]
    assert api.client.get(f"/api/v1/ideas/{reference}/incubation", headers=api.as_("other")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"result": "implemented", "summary": "Done."}, "body"),  # benefits in words are required
        ({"result": "closed", "summary": "Stopped."}, "body"),  # lessons are required
        ({"result": "implemented", "summary": "x", "benefits": "y", "money_saved_a_year": -1}, "money_saved_a_year"),
        ({"result": "implemented", "summary": "x", "benefits": "y", "people_affected": 2.5}, "people_affected"),
        ({"result": "implemented", "summary": "x\u0000y", "benefits": "y"}, "summary"),
        ({"result": "sold", "summary": "x"}, "result"),
    ],
)
def test_a_bad_outcome_is_refused_with_422_and_changes_nothing(api: Api, body: dict[str, Any], field: str) -> None:
    idea_id, reference = incubating(api)
    answer = api.client.post(f"/api/v1/ideas/{reference}/outcome", json=body, headers=api.as_("sponsor"))
    assert answer.status_code == 422, answer.text
    assert field in {f["field"] for f in answer.json()["fields"]}
    with unit_of_work(api.factory) as session:
        assert session.scalar(select(Idea.status).where(Idea.id == idea_id)) == "incubating"


def test_infinity_in_an_outcome_is_refused_rather_than_stored(api: Api) -> None:
    _, reference = incubating(api)
    raw = '{"result": "implemented", "summary": "x", "benefits": "y", "money_saved_a_year": Infinity}'
    answer = api.client.post(
        f"/api/v1/ideas/{reference}/outcome",
        content=raw,
        headers=api.as_("sponsor") | {"content-type": "application/json"},
    )
    assert answer.status_code == 422


def test_a_case_study_is_written_published_and_read_by_anyone(api: Api) -> None:
    idea_id, reference = incubating(api)
    outcome = {"result": "implemented", "summary": "Forty streets.", "benefits": "Cooler.", "money_saved_a_year": 9000}
    assert (
        api.client.post(f"/api/v1/ideas/{reference}/outcome", json=outcome, headers=api.as_("sponsor")).status_code
        == 200
    )
    text = {"title": "Shade for hot streets", "summary": "Trees.", "problem": "Heat.", "what_was_done": "Planted."}
    refused = api.client.put(
        f"/api/v1/ideas/{reference}/case-study",
        json=text | {"lessons": "Ask sam.api@example.gov.uk"},
        headers=api.as_("sponsor"),
    )
    assert refused.status_code == 422
    saved = api.client.put(f"/api/v1/ideas/{reference}/case-study", json=text, headers=api.as_("sponsor"))
    assert saved.status_code == 200
    case_study_id = saved.json()["case_study_id"]
    assert (
        api.client.post(f"/api/v1/admin/case-studies/{case_study_id}/publish", headers=api.as_("sponsor")).status_code
        == 403
    )
    published = api.client.post(f"/api/v1/admin/case-studies/{case_study_id}/publish", headers=api.as_("admin"))
    assert published.status_code == 200
    slug = published.json()["slug"]
    public = api.client.get(f"/api/v1/case-studies/{slug}")
    assert public.status_code == 200
    assert public.json()["credit"] == "a member of staff in Housing"
    assert "sam.api@example.gov.uk" not in public.text
    token = None
    with unit_of_work(api.factory) as session:
        token = session.scalar(select(Idea.status_token).where(Idea.id == idea_id))
    assert api.client.put(f"/api/v1/status/{token}/credit", json={"credit_by_name": True}).status_code == 200
    assert api.client.get(f"/api/v1/case-studies/{slug}").json()["credit"] == "Sam Submitter"
    assert slug in [c["slug"] for c in api.client.get("/api/v1/case-studies?department=Housing&per_page=100").json()]
    assert api.client.get("/api/v1/case-studies/not a slug").status_code == 422


def test_an_unmatched_idea_is_matched_by_hand_through_the_api(api: Api) -> None:
    idea_id, reference, offer_id = offered(api)
    declined = api.client.post(
        f"/api/v1/offers/{offer_id}/decline", json={"reason": "No budget."}, headers=api.as_("sponsor")
    )
    assert declined.status_code == 200
    for payload in api.events(idea_id, "offer.answered.v1"):
        api.deliver(matching_actors.offer_declined, payload)
    made = api.events(idea_id, "offer.made.v1")
    if len(made) > 1:  # the other sponsor was asked next: decline theirs too
        api.client.post(
            f"/api/v1/offers/{made[-1]['offer_id']}/decline", json={"reason": "No."}, headers=api.as_("other")
        )
        for payload in api.events(idea_id, "offer.answered.v1")[1:]:
            api.deliver(matching_actors.offer_declined, payload)
    admin = api.as_("admin")
    view = api.client.get(f"/api/v1/admin/ideas/{reference}/matching", headers=admin)
    assert view.status_code == 200
    assert view.json()["status"] == "unmatched"
    assert view.json()["offers"][0]["considered"]
    refused = api.client.post(
        f"/api/v1/admin/ideas/{reference}/offer", json={"sponsor_email": "api.sponsor@example.gov.uk"}, headers=admin
    )
    assert refused.status_code == 409  # declined it before: never asked twice
    closed = api.client.post(f"/api/v1/admin/ideas/{reference}/close", json={"reason": ""}, headers=admin)
    assert closed.status_code == 422
    assert (
        api.client.post(
            f"/api/v1/admin/ideas/{reference}/close", json={"reason": "No sponsor."}, headers=admin
        ).status_code
        == 200
    )
