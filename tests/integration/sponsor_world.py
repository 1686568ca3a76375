"""What the sponsors' and administrators' page tests share: a signed-in browser that sends each form with its CSRF
token, and a world of sponsors, an administrator and a reviewer on one stack, with ideas offered, incubating,
implemented or unmatched as the workers would make them (`run_handler`).
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from infra import people
from infra.app import create_app
from infra.composition import Runtime
from infra.signin import use_link
from services.incubation import actors as incubation_actors
from services.intake import handlers as intake
from services.intake.schemas import Submission
from services.matching import actors as matching_actors
from shared import lifecycle
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import (
    Idea,
    Milestone,
    Offer,
    OutboxMessage,
    Review,
    ReviewTask,
    SignInLink,
)
from shared.db.uow import unit_of_work
from shared.principal import Principal
from shared.web.deps import SESSION_COOKIE
from shared.worker.declare import StageActor, StageContext
from shared.worker.stage import run_handler
from tests.conftest import Stack

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SUBMITTER = ("Sam Submitter", "sam.submitter@example.gov.uk")
# key: (name, department, themes, interests, capacity)
SPONSORS = {
    "parks": ("Sofia Sponsor", "Housing", "Environment", "parks, trees and shade in hot streets", 40),
    "buses": ("Sean Sponsor", "Transport", "Transport", "buses, routes and timetables", 40),
    "harbours": ("Hana Harbour", "Justice", "Maritime", "lighthouses, harbours, quays and moorings", 40),
    "idle": ("Ivy Idle", "Health", "Health", "clinics and appointments", 0),
}


def words(answer: httpx.Response) -> str:
    """The page's text as a person reads it: tags dropped, entities decoded, spaces squeezed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", answer.text)).split())


class Browser:
    """A signed-in browser: it sends each form with the CSRF token the pages gave it."""

    def __init__(self, app: FastAPI, cookie: str) -> None:
        self.client = TestClient(app, follow_redirects=False, raise_server_exceptions=False, headers=BROWSER)
        self.client.cookies.set(SESSION_COOKIE, cookie)
        token = _CSRF.search(self.client.get("/incubations").text)  # any page: its sign-out form has one
        self.token = token[1] if token else ""

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True) -> httpx.Response:
        return self.client.post(path, data=(data or {}) | ({"csrf_token": self.token} if csrf else {}))


@dataclass
class World:
    settings: Settings
    runtime: Runtime
    app: FastAPI
    who: dict[str, Principal]

    @property
    def factory(self) -> Any:
        return self.runtime.session_factory

    def browser(self, key: str) -> Browser:
        link_id = uuid.uuid4()
        with unit_of_work(self.factory) as session:
            session.add(SignInLink(id=link_id, person_id=self.who[key].id, expires_at=utcnow() + timedelta(minutes=5)))
        with unit_of_work(self.factory) as session:
            cookie = use_link(session, link_id, hours=1, now=utcnow())
        assert cookie is not None
        return Browser(self.app, cookie)

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

    def scalar(self, statement: Any) -> Any:
        with unit_of_work(self.factory) as session:
            return session.scalar(statement)

    def offered(self, topic: str = "parks", *, anonymous: bool = False, reviewed: bool = False) -> tuple[int, int, str]:
        """A new idea taken to `matching` and offered, as the matching worker does: (idea id, offer id, reference)."""
        ideas = {
            "parks": ("Shade trees", "Plant trees in parks and along hot streets for shade.", "Housing"),
            "buses": ("Bus timetables", "Put bus timetables at every stop, with routes.", "Transport"),
            "harbours": ("Lighthouse lamps", "Mend the lighthouse lamps at the harbour quays.", "Justice"),
        }
        title, proposal, department = ideas[topic]
        body = Submission(
            title=f"{title} {uuid.uuid4().hex[:6]}",
            problem="It is a problem today.",
            idea=proposal,
            department=department,
            name=SUBMITTER[0],
            email=SUBMITTER[1],
            anonymous=anonymous,
        )
        with unit_of_work(self.factory) as session:
            idea = intake.submit_idea(session, body, channel="api", departments=self.settings.departments)
            idea_id, reference = idea.id, idea.reference
            lifecycle.transition(session, lifecycle.load(session, idea_id), lifecycle.Status.IN_REVIEW, actor="test")
            if reviewed:
                task = ReviewTask(idea_id=idea_id, reviewer_id=self.who["reviewer"].id, state="done", due_at=utcnow())
                session.add(task)
                session.flush()
                session.add(
                    Review(
                        task_id=task.id,
                        idea_id=idea_id,
                        impact=4,
                        feasibility=3,
                        cost=5,
                        evidence=2,
                        recommendation="accept",
                        comment="Cheap to try in one park.",
                        private_note="The parks manager is leaving soon.",
                    )
                )
            lifecycle.transition(session, lifecycle.load(session, idea_id), lifecycle.Status.MATCHING, actor="test")
        (to_matching,) = [e for e in self.events(idea_id, "idea.status_changed.v1") if e["to_status"] == "matching"]
        self.deliver(matching_actors.start_matching, to_matching)
        offer_id = self.scalar(select(Offer.id).where(Offer.idea_id == idea_id, Offer.state == "open"))
        assert offer_id is not None
        return idea_id, int(offer_id), reference

    def open_incubation(self, idea_id: int) -> None:
        """What the incubation worker does when the offer's acceptance reaches it."""
        (accepted,) = [e for e in self.events(idea_id, "offer.answered.v1") if e["answer"] == "accepted"]
        self.deliver(incubation_actors.start_incubation, accepted)

    def incubating(self, topic: str = "parks", **fields: Any) -> tuple[int, str]:
        """An idea accepted through its offer page, its incubation open."""
        idea_id, offer_id, reference = self.offered(topic, **fields)
        assert self.browser(topic).post(f"/offers/{offer_id}/accept").status_code == 303
        self.open_incubation(idea_id)
        return idea_id, reference

    def status(self, idea_id: int) -> str:
        return str(self.scalar(select(Idea.status).where(Idea.id == idea_id)))


def world_on(stack: Stack) -> Iterator[World]:
    """A test module's world, on its stack: sponsors, an administrator and a reviewer, and the app."""
    settings = stack.settings(max_offers=1)
    who = {}
    for key, (name, department, themes, interests, capacity) in SPONSORS.items():
        email = f"pages.{key}@example.gov.uk"
        person_id = people.add(
            settings,
            email=email,
            name=name,
            role="sponsor",
            department=department,
            themes=themes,
            interests=interests,
            capacity=capacity,
        )
        who[key] = Principal(person_id, email, name, "sponsor")
    for key, role, name in (("admin", "admin", "Ada Admin"), ("reviewer", "reviewer", "Rhona Reviewer")):
        email = f"pages.{key}@example.gov.uk"
        who[key] = Principal(people.add(settings, email=email, name=name, role=role), email, name, role)
    runtime = Runtime(settings)
    try:
        yield World(settings, runtime, create_app(settings, runtime), who)
    finally:
        runtime.close()


def open_offers(world: World, key: str) -> list[int]:
    with unit_of_work(world.factory) as session:
        return list(
            session.scalars(select(Offer.id).where(Offer.sponsor_id == world.who[key].id, Offer.state == "open"))
        )


def milestones(world: World, idea_id: int) -> list[tuple[str, date, str]]:
    with unit_of_work(world.factory) as session:
        rows = session.execute(
            select(Milestone.title, Milestone.due_on, Milestone.state).where(Milestone.idea_id == idea_id)
        ).all()
    return [(row.title, row.due_on, row.state) for row in sorted(rows)]


def due(day: date) -> dict[str, str]:
    return {"due-day": str(day.day), "due-month": str(day.month), "due-year": str(day.year)}


def implemented(world: World, topic: str = "parks", **fields: Any) -> tuple[int, str]:
    idea_id, reference = world.incubating(topic, **fields)
    outcome = {
        "result": "implemented",
        "summary": "Forty streets have shade.",
        "benefits": "Fewer heat calls.",
        "money_saved_a_year": "12000",
    }
    assert world.browser(topic).post(f"/incubations/{reference}/outcome", outcome).status_code == 303
    return idea_id, reference


CASE_STUDY = {
    "title": "Shade for hot streets",
    "summary": "Trees in forty streets cut heat calls.",
    "problem": "Streets were too hot in summer.",
    "what_was_done": "We planted trees.",
    "benefits": "Fewer heat calls.",
    "money_saved_a_year": "12000",
    "hours_saved_a_year": "",
    "people_affected": "4000",
    "lessons": "",
}


def unmatched(world: World) -> tuple[int, str]:
    """An idea whose only offer (max_offers is 1) was declined."""
    idea_id, offer_id, reference = world.offered("buses")
    assert world.browser("buses").post(f"/offers/{offer_id}/decline", {"reason": "No budget."}).status_code == 303
    (declined,) = world.events(idea_id, "offer.answered.v1")
    world.deliver(matching_actors.offer_declined, declined)
    assert world.status(idea_id) == "unmatched"
    return idea_id, reference
