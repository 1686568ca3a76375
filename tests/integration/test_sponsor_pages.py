"""The sponsors' and administrators' pages, through the real app and a signed-in browser, on each stack:
offers, incubations (plan, milestones, figures, progress, outcome), case studies, and matching by hand.

Each form is sent as a browser sends it (with its CSRF token); the state it changes is read back from the
database, so that an error is seen to change nothing. Stage work runs as the workers run it (`run_handler`).
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
import pytest
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
    CaseStudy,
    Idea,
    Incubation,
    Milestone,
    Offer,
    OutboxMessage,
    ProgressUpdate,
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


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
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


# --- offers ---------------------------------------------------------------------------------------------------------


def test_a_sponsor_s_offers_say_why_them_and_how_long_they_have_and_an_empty_list_says_what_will_happen(
    world: World,
) -> None:
    _, offer_id, reference = world.offered("buses")
    page = world.browser("buses").get("/offers")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = words(page)
    assert f'href="/offers/{offer_id}"' in page.text
    assert reference in text
    assert "Why you" in text
    assert "Your interests match: buses" in text  # the ranking's first reason, as the sponsor wrote the word
    assert re.search(r"\(\d+ working days? left\)", text), text
    assert "Transport" in text

    empty = world.browser("idle").get("/offers")
    assert empty.status_code == 200
    assert "No ideas are waiting for your answer" in words(empty)
    assert "we will email you" in words(empty)


def test_an_offer_in_full_shows_the_idea_its_reviews_and_why_them_but_no_private_note_and_no_email(
    world: World,
) -> None:
    _, offer_id, _ = world.offered("parks", reviewed=True)
    page = world.browser("parks").get(f"/offers/{offer_id}")
    assert page.status_code == 200
    text = words(page)
    for shown in (
        "Plant trees in parks",
        "It is a problem today.",
        "Housing",
        SUBMITTER[0],
        "Impact 4, feasibility 3, cost to try 5, evidence 2",
        "Cheap to try in one park.",
        "Why you",
        "Please answer by",
    ):
        assert shown in text, shown
    assert "The parks manager is leaving soon." not in text  # a reviewer's private note
    assert SUBMITTER[1] not in page.text
    assert f'action="/offers/{offer_id}/accept"' in page.text
    assert f'action="/offers/{offer_id}/decline"' in page.text


def test_declining_needs_a_reason_and_an_empty_one_changes_nothing(world: World) -> None:
    _, offer_id, _ = world.offered("parks")
    browser = world.browser("parks")
    refused = browser.post(f"/offers/{offer_id}/decline", {"reason": "   "})
    assert refused.status_code == 422
    assert "There is a problem" in words(refused)
    assert '<a href="#reason">Say why you are declining this idea' in refused.text
    nul = browser.post(f"/offers/{offer_id}/decline", {"reason": "No\x00budget"})
    assert nul.status_code == 422
    assert "Remove the control characters (such as NUL)" in words(nul)
    assert world.scalar(select(Offer.state).where(Offer.id == offer_id)) == "open"

    declined = browser.post(f"/offers/{offer_id}/decline", {"reason": "No budget this year."})
    assert (declined.status_code, declined.headers["location"]) == (303, f"/offers/{offer_id}?done=declined")
    assert world.scalar(select(Offer.state).where(Offer.id == offer_id)) == "declined"
    shown = words(browser.get(declined.headers["location"]))
    assert "You have declined this idea" in shown
    assert "Your reason: No budget this year." in shown
    assert "Decline this idea" not in shown  # answered: the buttons are gone

    again = browser.post(f"/offers/{offer_id}/accept")
    assert again.status_code == 409
    assert "This offer is already declined" in words(again)
    assert world.scalar(select(Offer.state).where(Offer.id == offer_id)) == "declined"


def test_accepting_leads_to_the_incubation_which_waits_until_its_record_is_open(world: World) -> None:
    idea_id, offer_id, reference = world.offered("parks")
    browser = world.browser("parks")
    accepted = browser.post(f"/offers/{offer_id}/accept")
    assert (accepted.status_code, accepted.headers["location"]) == (303, f"/incubations/{reference}?done=accepted")
    assert world.status(idea_id) == "incubating"
    waiting = browser.get(accepted.headers["location"])
    assert waiting.status_code == 409
    assert "The incubation is being set up" in words(waiting)
    assert "You are sponsoring this idea" in words(waiting)
    world.open_incubation(idea_id)
    page = browser.get(accepted.headers["location"])
    assert page.status_code == 200
    assert "You are sponsoring this idea" in words(page)
    assert "Add a milestone" in words(page)
    assert "You accepted this idea" in words(browser.get(f"/offers/{offer_id}"))


def test_another_sponsor_s_offer_or_incubation_is_not_found_and_a_reviewer_is_refused(world: World) -> None:
    _, offer_id, _ = world.offered("parks")
    idea_id, reference = world.incubating("parks")
    other, reviewer = world.browser("buses"), world.browser("reviewer")
    for path in (f"/offers/{offer_id}", f"/incubations/{reference}", f"/incubations/{reference}/case-study"):
        assert other.get(path).status_code == 404, path
        assert reviewer.get(path).status_code == 403, path
    assert other.post(f"/offers/{offer_id}/accept").status_code == 404
    assert other.post(f"/offers/{offer_id}/decline", {"reason": ""}).status_code == 404
    assert other.post(f"/incubations/{reference}/updates", {"state": "blocked", "note": "x"}).status_code == 404
    assert world.scalar(select(Offer.state).where(Offer.id == offer_id)) == "open"
    assert world.scalar(select(ProgressUpdate.id).where(ProgressUpdate.idea_id == idea_id)) is None
    for path in ("/offers/99999999999999999999", "/offers/0", "/incubations/IH%00x", "/incubations/" + "9" * 41):
        assert world.browser("parks").get(path).status_code == 404, path


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(world: World) -> None:
    _, offer_id, _ = world.offered("parks")
    idea_id, reference = world.incubating("parks")
    browser = world.browser("parks")
    assert browser.post(f"/offers/{offer_id}/decline", {"reason": "No."}, csrf=False).status_code == 403
    assert browser.post(f"/offers/{offer_id}/accept", csrf=False).status_code == 403
    update = {"state": "on_track", "note": "Fine."}
    assert browser.post(f"/incubations/{reference}/updates", update, csrf=False).status_code == 403
    assert world.scalar(select(Offer.state).where(Offer.id == offer_id)) == "open"
    assert world.scalar(select(ProgressUpdate.id).where(ProgressUpdate.idea_id == idea_id)) is None


def test_offers_and_incubations_are_listed_a_page_at_a_time(world: World) -> None:
    made = [world.offered("harbours") for _ in range(25)]
    assert len(open_offers(world, "harbours")) == 25
    browser = world.browser("harbours")
    first = browser.get("/offers")
    assert first.text.count('class="govuk-summary-card"') == 20
    assert 'href="/offers?page=2" rel="next"' in first.text
    second = browser.get("/offers?page=2")
    assert second.text.count('class="govuk-summary-card"') == 5
    assert 'rel="next"' not in second.text
    assert 'href="/offers?page=1" rel="prev"' in second.text
    assert browser.get("/offers?page=0").status_code == 404

    for idea_id, offer_id, _ in made:
        assert browser.post(f"/offers/{offer_id}/accept").status_code == 303
        world.open_incubation(idea_id)
    listed = browser.get("/incubations")
    assert listed.text.count('<tr class="govuk-table__row">') == 21  # the heading's row and 20
    assert 'href="/incubations?page=2" rel="next"' in listed.text
    assert "No update yet" in words(listed)
    page_two = browser.get("/incubations?page=2")
    assert page_two.text.count('<tr class="govuk-table__row">') == 6
    everyone = world.browser("admin").get("/incubations")
    assert everyone.status_code == 200
    assert "sponsored by Hana Harbour" in words(everyone)


# --- incubations ----------------------------------------------------------------------------------------------------


def milestones(world: World, idea_id: int) -> list[tuple[str, date, str]]:
    with unit_of_work(world.factory) as session:
        rows = session.execute(
            select(Milestone.title, Milestone.due_on, Milestone.state).where(Milestone.idea_id == idea_id)
        ).all()
    return [(row.title, row.due_on, row.state) for row in sorted(rows)]


def due(day: date) -> dict[str, str]:
    return {"due-day": str(day.day), "due-month": str(day.month), "due-year": str(day.year)}


def test_milestones_are_added_changed_reached_and_removed_and_a_date_that_does_not_exist_is_refused(
    world: World,
) -> None:
    idea_id, reference = world.incubating("parks")
    browser = world.browser("parks")
    path = f"/incubations/{reference}/milestones"
    no_such_day = browser.post(
        path, {"milestone_title": "Choose streets", "due-day": "31", "due-month": "2", "due-year": "2027"}
    )
    assert no_such_day.status_code == 422
    assert '<a href="#due-day">The due date must be a real date</a>' in no_such_day.text
    assert 'value="Choose streets"' in no_such_day.text  # nothing typed is lost
    assert 'id="due-day" name="due-day" type="text" inputmode="numeric" value="31"' in no_such_day.text
    both = browser.post(path, {"milestone_title": " ", "due-day": "3", "due-year": "2027"})
    assert both.status_code == 422
    assert '<a href="#milestone_title">' in both.text
    assert '<a href="#due-month">The due date must include a month</a>' in both.text
    assert milestones(world, idea_id) == []

    first, second = date.today() + timedelta(days=30), date.today() + timedelta(days=60)
    added = browser.post(path, {"milestone_title": "Choose streets"} | due(first))
    assert (added.status_code, added.headers["location"]) == (303, f"/incubations/{reference}?done=milestone-added")
    assert browser.post(path, {"milestone_title": "Plant trees"} | due(second)).status_code == 303
    assert milestones(world, idea_id) == [("Choose streets", first, "open"), ("Plant trees", second, "open")]
    page = browser.get(added.headers["location"])
    assert "The milestone has been added to the plan" in words(page)
    assert f"Due {first.day} {first:%B %Y}" in words(page)
    with unit_of_work(world.factory) as session:
        rows = session.execute(select(Milestone.title, Milestone.id).where(Milestone.idea_id == idea_id))
        ids = {title: milestone_id for title, milestone_id in rows}

    change = f"{path}/{ids['Choose streets']}"
    form = browser.get(change)
    assert form.status_code == 200
    assert 'value="Choose streets"' in form.text
    assert f'name="due-year" type="text" inputmode="numeric" value="{first.year}"' in form.text
    later = first + timedelta(days=7)
    refused = browser.post(change, {"milestone_title": "Choose streets"} | due(later) | {"due-year": "27"})
    assert refused.status_code == 422
    assert "The year must include 4 numbers" in words(refused)
    changed = browser.post(change, {"milestone_title": "Choose the streets"} | due(later))
    assert changed.headers["location"] == f"/incubations/{reference}?done=milestone-changed"
    unchanged = browser.post(change, {"milestone_title": "Choose the streets"} | due(later))
    assert unchanged.headers["location"] == f"/incubations/{reference}?done=milestone-unchanged"
    assert len(world.events(idea_id, "milestone.scheduled.v1")) == 3  # two added, one date changed

    reached = browser.post(f"{change}/reached")
    assert reached.headers["location"] == f"/incubations/{reference}?done=milestone-reached"
    assert browser.post(f"{change}/reached").headers["location"].endswith("done=milestone-already-reached")
    assert len(world.events(idea_id, "milestone.reached.v1")) == 1
    assert "was reached" in words(browser.get(change))  # no form for a reached milestone

    remove = f"{path}/{ids['Plant trees']}/remove"
    confirm = browser.get(remove)
    assert "Are you sure you want to remove this milestone?" in words(confirm)
    assert milestones(world, idea_id)[1][2] == "open"  # asking is not removing
    assert browser.post(remove).headers["location"] == f"/incubations/{reference}?done=milestone-removed"
    assert milestones(world, idea_id) == [
        ("Choose the streets", later, "reached"),
        ("Plant trees", second, "dropped"),
    ]
    assert browser.get(remove).status_code == 404  # a removed milestone is no longer shown
    again = browser.post(remove)
    assert again.status_code == 409
    assert "only one still to be reached can be dropped" in words(again)


def test_the_figures_refuse_a_negative_or_endless_number_and_keep_what_was_typed(world: World) -> None:
    idea_id, reference = world.incubating("parks")
    browser = world.browser("parks")
    typed = {
        "budget": "-5",
        "staff_days": "12.5",
        "projected_benefits": "Cooler streets.",
        "projected_money_a_year": "1e999",
        "projected_hours_a_year": "",
        "projected_people": "2,000",
    }
    refused = browser.post(f"/incubations/{reference}/plan", typed)
    assert refused.status_code == 422
    assert '<a href="#budget">Enter the budget in pounds, as a number of 0 or more' in refused.text
    assert '<a href="#projected_money_a_year">' in refused.text
    assert 'value="-5"' in refused.text
    assert "Cooler streets." in refused.text
    assert world.scalar(select(Incubation.budget).where(Incubation.idea_id == idea_id)) is None

    saved = browser.post(
        f"/incubations/{reference}/plan", typed | {"budget": "£5,000", "projected_money_a_year": "800"}
    )
    assert saved.headers["location"] == f"/incubations/{reference}?done=plan"
    with unit_of_work(world.factory) as session:
        record = session.get(Incubation, idea_id)
        assert record is not None
        assert (record.budget, record.staff_days, record.projected_people) == (5000, 12.5, 2000)
        assert (record.projected_money_a_year, record.projected_hours_a_year) == (800, None)
    page = browser.get(saved.headers["location"])
    assert 'id="budget" name="budget" type="text" inputmode="decimal" spellcheck="false" value="5000"' in page.text


def test_progress_updates_are_listed_newest_first_and_private_ones_are_marked(world: World) -> None:
    idea_id, reference = world.incubating("parks")
    browser = world.browser("parks")
    refused = browser.post(f"/incubations/{reference}/updates", {"note": "Suppliers are late."})
    assert refused.status_code == 422
    assert '<a href="#state">Choose how the work is going' in refused.text
    assert "Suppliers are late." in refused.text
    nul = browser.post(f"/incubations/{reference}/updates", {"state": "on_track", "note": "Fine\x00"})
    assert nul.status_code == 422
    assert '<a href="#note">Remove the control characters (such as NUL)' in nul.text
    risky = browser.post(f"/incubations/{reference}/updates", {"state": "at_risk", "note": "Suppliers are late."})
    assert risky.status_code == 303
    hidden = {"state": "blocked", "note": "The budget holder is ill.", "private": "yes"}
    assert browser.post(f"/incubations/{reference}/updates", hidden).headers["location"].endswith("done=update")
    page = words(browser.get(f"/incubations/{reference}"))
    assert page.index("The budget holder is ill.") < page.index("Suppliers are late.")
    assert page.count("Private: staff only") == 2  # the checkbox's label, and the private update
    with unit_of_work(world.factory) as session:
        rows = session.execute(
            select(ProgressUpdate.state, ProgressUpdate.private).where(ProgressUpdate.idea_id == idea_id)
        ).all()
    assert sorted(rows) == [("at_risk", False), ("blocked", True)]
    listed = browser.get("/incubations")
    row = next(r for r in listed.text.split('<tr class="govuk-table__row">') if reference in r)
    assert '<strong class="govuk-tag govuk-tag--red">Blocked</strong>' in row


def test_an_implemented_outcome_needs_its_benefits_and_numbers_that_make_sense(world: World) -> None:
    idea_id, reference = world.incubating("parks")
    browser = world.browser("parks")
    path = f"/incubations/{reference}/outcome"
    nothing = browser.post(path, {})
    assert nothing.status_code == 422
    assert '<a href="#result">Choose how it ended' in nothing.text
    assert '<a href="#summary">Write a summary' in nothing.text
    without = browser.post(path, {"result": "implemented", "summary": "Forty streets have shade.", "lessons": "x"})
    assert without.status_code == 422
    assert '<a href="#benefits">Say in words what benefits the idea brought' in without.text
    # The chosen reveal stays open, with what was typed.
    assert 'class="govuk-radios__conditional" id="conditional-result-implemented"' in without.text
    negative = {"result": "implemented", "summary": "Done.", "benefits": "Fewer heat calls.", "people_affected": "-3"}
    refused = browser.post(path, negative)
    assert refused.status_code == 422
    assert '<a href="#people_affected">' in refused.text
    closed_without = browser.post(path, {"result": "closed", "summary": "Stopped.", "benefits": "x"})
    assert '<a href="#lessons">Say what was learned' in closed_without.text
    assert world.status(idea_id) == "incubating"

    recorded = browser.post(
        path,
        {
            "result": "implemented",
            "summary": "Forty streets have shade.",
            "benefits": "Fewer heat calls.",
            "money_saved_a_year": "12000",
            "hours_saved_a_year": "300",
            "people_affected": "4000",
            "lessons": "typed before choosing implemented: not kept",
        },
    )
    assert recorded.headers["location"] == f"/incubations/{reference}?done=implemented"
    assert world.status(idea_id) == "implemented"
    page = browser.get(recorded.headers["location"])
    text = words(page)
    assert "The outcome is recorded: the idea is implemented" in text
    assert "Money saved a year £12,000" in text
    assert "People affected 4,000" in text
    assert "typed before choosing" not in text
    assert "Write the case study" in text
    assert 'action="/incubations/' not in page.text  # the forms are replaced by the outcome
    late = browser.post(f"/incubations/{reference}/updates", {"state": "on_track", "note": "Late."})
    assert late.status_code == 409
    assert "its plan can no longer change" in words(late)


# --- case studies ---------------------------------------------------------------------------------------------------


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


def test_a_case_study_is_written_from_the_outcome_previewed_and_published_by_an_administrator(world: World) -> None:
    idea_id, reference = implemented(world)
    sponsor, admin = world.browser("parks"), world.browser("admin")
    path = f"/incubations/{reference}/case-study"
    draft = sponsor.get(path)
    assert draft.status_code == 200
    assert 'value="Forty streets have shade."' in draft.text  # the summary, from the outcome
    assert "Fewer heat calls." in draft.text
    assert "Not saved yet" in words(draft)
    assert f'action="/incubations/{reference}/case-study/publish"' not in draft.text

    with_address = sponsor.post(path, CASE_STUDY | {"what_was_done": "Ask sam.submitter@example.gov.uk for more."})
    assert with_address.status_code == 422
    assert '<a href="#what_was_done">Take out the email address: a case study is public' in with_address.text
    assert "Shade for hot streets" in with_address.text
    assert world.scalar(select(CaseStudy.id).where(CaseStudy.idea_id == idea_id)) is None
    negative = sponsor.post(path, CASE_STUDY | {"people_affected": "-1"})
    assert '<a href="#people_affected">' in negative.text

    saved = sponsor.post(path, CASE_STUDY)
    assert saved.headers["location"] == f"{path}?done=saved"
    page = sponsor.get(saved.headers["location"])
    text = words(page)
    assert "The case study has been saved" in text
    assert "State: Draft" in text
    assert "Idea from a member of staff in Housing. Sponsored by Sofia Sponsor, Housing." in text
    assert "£12,000 saved a year" in text
    assert sponsor.post(f"{path}/publish").status_code == 403

    assert 'id="publish"' in admin.get(path).text
    published = admin.post(f"{path}/publish")
    assert published.headers["location"] == f"{path}?done=published"
    assert world.scalar(select(CaseStudy.state).where(CaseStudy.idea_id == idea_id)) == "published"
    shown = admin.get(published.headers["location"])
    assert "State: Published" in words(shown)
    assert 'href="/case-studies/shade-for-hot-streets-' in shown.text
    assert len(world.events(idea_id, "case_study.published.v1")) == 1

    late = sponsor.post(path, CASE_STUDY | {"title": "A new title"})
    assert late.status_code == 409
    assert "This case study is published: ask an administrator" in words(late)
    assert "A new title" in late.text  # what was typed is still there
    assert world.scalar(select(CaseStudy.title).where(CaseStudy.idea_id == idea_id)) == "Shade for hot streets"

    assert admin.post(f"{path}/withdraw").headers["location"] == f"{path}?done=withdrawn"
    assert world.scalar(select(CaseStudy.state).where(CaseStudy.idea_id == idea_id)) == "withdrawn"
    assert admin.post(f"{path}/withdraw").status_code == 409


def test_a_case_study_waits_for_the_outcome(world: World) -> None:
    _, reference = world.incubating("parks")
    page = world.browser("parks").get(f"/incubations/{reference}/case-study")
    assert page.status_code == 409
    assert "has no outcome yet" in words(page)
    refused = world.browser("admin").post(f"/incubations/{reference}/case-study/publish")
    assert refused.status_code == 409


# --- matching by hand -----------------------------------------------------------------------------------------------


def unmatched(world: World) -> tuple[int, str]:
    """An idea whose only offer (max_offers is 1) was declined."""
    idea_id, offer_id, reference = world.offered("buses")
    assert world.browser("buses").post(f"/offers/{offer_id}/decline", {"reason": "No budget."}).status_code == 303
    (declined,) = world.events(idea_id, "offer.answered.v1")
    world.deliver(matching_actors.offer_declined, declined)
    assert world.status(idea_id) == "unmatched"
    return idea_id, reference


def test_an_administrator_sees_each_offer_with_its_ranking_and_offers_an_unmatched_idea_by_hand(world: World) -> None:
    idea_id, reference = unmatched(world)
    admin = world.browser("admin")
    path = f"/admin/ideas/{reference}/matching"
    page = admin.get(path)
    assert page.status_code == 200
    text = words(page)
    for shown in (
        "Unmatched",
        "Round 1, offer 1: Sean Sponsor",
        "Declined",
        "Their reason No budget.",
        "How sponsors were ranked",
        "Your interests match: buses",
        "Ivy Idle: no places free",
    ):
        assert shown in text, shown
    options = re.findall(r'<option value="([^"]*)"', page.text)
    assert options[0] == ""
    assert "pages.buses@example.gov.uk" not in options  # asked before
    assert "pages.idle@example.gov.uk" not in options  # full

    empty = admin.post(f"{path}/offer", {"sponsor_email": ""})
    assert empty.status_code == 422
    assert '<a href="#sponsor_email">Choose the sponsor to offer the idea to</a>' in empty.text
    not_a_sponsor = admin.post(f"{path}/offer", {"sponsor_email": "pages.reviewer@example.gov.uk"})
    assert not_a_sponsor.status_code == 422
    asked_before = admin.post(f"{path}/offer", {"sponsor_email": "pages.buses@example.gov.uk"})
    assert asked_before.status_code == 409
    assert "a sponsor is never asked twice" in words(asked_before)
    no_reason = admin.post(f"{path}/close", {"reason": ""})
    assert no_reason.status_code == 422
    assert world.status(idea_id) == "unmatched"

    offered = admin.post(f"{path}/offer", {"sponsor_email": "pages.parks@example.gov.uk"})
    assert offered.headers["location"] == f"{path}?done=offered"
    assert world.status(idea_id) == "matching"
    after = words(admin.get(offered.headers["location"]))
    assert "The idea has been offered to the sponsor you chose" in after
    assert "Offered by hand by pages.admin@example.gov.uk" in after
    assert "Chosen by Ada Admin" in after
    assert "An offer is out" in after  # and the actions are gone, with the reason
    assert admin.post(f"{path}/rematch").status_code == 409
    assert world.browser("parks").get("/offers").text.count(reference) == 1


def test_an_unmatched_idea_is_matched_again_or_closed_and_only_administrators_may(world: World) -> None:
    first, again = unmatched(world), unmatched(world)
    admin = world.browser("admin")
    for key in ("parks", "reviewer"):
        assert world.browser(key).get(f"/admin/ideas/{first[1]}/matching").status_code == 403
        assert world.browser(key).post(f"/admin/ideas/{first[1]}/matching/rematch").status_code == 403
    assert world.status(first[0]) == "unmatched"
    rematched = admin.post(f"/admin/ideas/{first[1]}/matching/rematch")
    assert rematched.headers["location"].endswith("done=rematched")
    assert world.status(first[0]) == "matching"
    closed = admin.post(f"/admin/ideas/{again[1]}/matching/close", {"reason": "No sponsor this year."})
    assert closed.headers["location"].endswith("done=closed")
    assert world.status(again[0]) == "closed"
    assert "Its matching is over" in words(admin.get(closed.headers["location"]))
    assert admin.get("/admin/ideas/IH-2026-999999999/matching").status_code == 404


# --- who sees whom --------------------------------------------------------------------------------------------------


def test_no_page_shows_an_anonymous_submitter_s_name_or_any_submitter_s_email(world: World) -> None:
    _, offer_id, _ = world.offered("parks", anonymous=True, reviewed=True)
    _, reference = implemented(world, anonymous=True)
    named_offer = world.offered("parks")[1]
    sponsor, admin = world.browser("parks"), world.browser("admin")
    assert sponsor.post(f"/incubations/{reference}/case-study", CASE_STUDY).status_code == 303
    anonymous_pages = [
        (sponsor, f"/offers/{offer_id}"),
        (sponsor, f"/incubations/{reference}"),
        (sponsor, f"/incubations/{reference}/case-study"),
        (admin, f"/incubations/{reference}"),
        (admin, f"/incubations/{reference}/case-study"),
    ]
    for browser, path in anonymous_pages:
        page = browser.get(path)
        assert page.status_code == 200, path
        assert SUBMITTER[0] not in page.text, path
        assert SUBMITTER[1] not in page.text, path
    assert "the submitter asked to stay anonymous" in words(sponsor.get(f"/offers/{offer_id}"))
    for path in ("/offers", "/incubations", f"/offers/{named_offer}"):
        assert SUBMITTER[1] not in sponsor.get(path).text, path
    assert SUBMITTER[0] in sponsor.get(f"/offers/{named_offer}").text  # a name given openly is shown


def test_a_sponsor_s_work_is_their_offers_and_the_header_lists_their_pages(world: World) -> None:
    sponsor = world.browser("parks")
    home = sponsor.get("/staff")
    assert (home.status_code, home.headers["location"]) == (303, "/offers")
    offers = sponsor.get("/offers")
    assert re.search(r'href="/offers" aria-current="page">\s*<strong[^>]*>Your offers</strong>', offers.text)
    assert 'href="/incubations"' in offers.text
    admin = world.browser("admin").get("/staff")
    assert admin.status_code == 200
    assert re.search(r'href="/incubations">\s*Incubations\s*</a>', admin.text)
