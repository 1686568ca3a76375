"""Case studies in public (the list, one case study, its print view, the Atom feed) and the submitter's view of
their idea's incubation, outcome and credit, through the real app on each stack's real database.

Ideas are taken to their outcome with the service code the workers and the sponsors' routes run; what must never be
published (email addresses, the name of a submitter who did not agree or asked to stay anonymous, reviewers' words,
private progress) is put in the database first, and then looked for in every public answer.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infra import people
from infra.app import create_app
from infra.composition import Runtime
from services.incubation import actors as incubation_actors
from services.incubation import case_studies, deadlines, handlers
from services.incubation.schemas import CaseStudyIn, MilestoneIn, OutcomeIn, PlanIn, UpdateIn
from services.intake import handlers as intake
from services.intake.schemas import Submission
from services.matching import actors as matching_actors
from services.matching import handlers as matching
from shared import lifecycle
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import CaseStudy, CreditConsent, Idea, Offer, OutboxMessage, Review, ReviewTask
from shared.db.uow import unit_of_work
from shared.principal import Principal
from shared.worker.declare import StageActor, StageContext
from shared.worker.stage import run_handler
from tests.conftest import Stack

PUBLIC_URL = "https://ideas.example.gov.uk"
ATOM = "{http://www.w3.org/2005/Atom}"
SPONSOR = ("Sofia Sponsor", "Housing", "Environment", "parks, trees and shade in hot streets")


@dataclass
class World:
    runtime: Runtime
    settings: Settings
    client: TestClient
    sponsor: Principal
    admin: Principal
    reviewer_id: int

    @property
    def factory(self) -> Any:
        return self.runtime.session_factory

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

    def page(self, path: str) -> httpx.Response:
        return self.client.get(path, headers={"Accept": "text/html"})


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    settings = stack.settings(public_url=PUBLIC_URL, milestone_grace="1h", milestone_reminder="30m")
    name, department, themes, interests = SPONSOR
    email = "pages.sponsor@example.gov.uk"
    sponsor_id = people.add(
        settings,
        email=email,
        name=name,
        role="sponsor",
        department=department,
        themes=themes,
        interests=interests,
        capacity=100,
    )
    admin_id = people.add(settings, email="pages.admin@example.gov.uk", name="Ada Admin", role="admin")
    reviewer_id = people.add(settings, email="pages.reviewer@example.gov.uk", name="Rhona Reviewer", role="reviewer")
    runtime = Runtime(settings)
    with TestClient(create_app(settings, runtime), base_url="https://testserver", follow_redirects=False) as client:
        yield World(
            runtime,
            settings,
            client,
            Principal(sponsor_id, email, name, "sponsor"),
            Principal(admin_id, "pages.admin@example.gov.uk", "Ada Admin", "admin"),
            reviewer_id,
        )
    runtime.close()


# --- ideas taken to their outcome with the service code (as in test_sponsors.py) ------------------------------------


@dataclass(frozen=True)
class Made:
    idea_id: int
    reference: str
    token: str


def incubating(
    world: World,
    *,
    title: str = "Shade trees for hot streets",
    department: str = "Housing",
    theme: str | None = None,
    name: str | None = "Sam Submitter",
    email: str = "sam.submitter@example.gov.uk",
    anonymous: bool = False,
) -> Made:
    """A new idea taken to `matching`, offered to the sponsor as the matching worker offers it, accepted, and its
    incubation record opened as the incubation worker opens it."""
    body = Submission(
        title=f"{title} {uuid.uuid4().hex[:4]}",
        problem="Streets are too hot in summer.",
        idea="Plant trees in parks and along hot streets for shade.",
        department=department,
        theme=theme,
        name=name,
        email=email,
        anonymous=anonymous,
    )
    with unit_of_work(world.factory) as session:
        created = intake.submit_idea(session, body, channel="api", departments=world.settings.departments)
        for target in (lifecycle.Status.IN_REVIEW, lifecycle.Status.MATCHING):
            lifecycle.transition(session, lifecycle.load(session, created.id), target, actor="test")
    (to_matching,) = [e for e in world.events(created.id, "idea.status_changed.v1") if e["to_status"] == "matching"]
    world.deliver(matching_actors.start_matching, to_matching)
    with unit_of_work(world.factory) as session:
        offer_id = session.scalar(select(Offer.id).where(Offer.idea_id == created.id, Offer.state == "open"))
        assert offer_id is not None
        matching.accept_offer(session, offer_id, sponsor=world.sponsor)
    (accepted,) = world.events(created.id, "offer.answered.v1")
    world.deliver(incubation_actors.start_incubation, accepted)
    return Made(created.id, created.reference, created.status_token)


OUTCOME = OutcomeIn(
    result="implemented",
    summary="Forty streets have shade.",
    benefits="Fewer calls about heat.",
    money_saved_a_year=12000,
    hours_saved_a_year=1250.5,
    people_affected=4000,
    lessons="Ask the parks team first.",
)


def implemented(world: World, outcome: OutcomeIn = OUTCOME, **fields: Any) -> Made:
    made = incubating(world, **fields)
    with unit_of_work(world.factory) as session:
        handlers.record_outcome(session, made.reference, outcome, sponsor=world.sponsor)
    return made


def write_up(world: World, reference: str, **changes: Any) -> int:
    """The case study as drafted from the outcome, with `changes`, saved as a draft; its id."""
    with unit_of_work(world.factory) as session:
        text = case_studies.draft(session, reference, author=world.sponsor).model_dump() | changes
        return case_studies.write(session, reference, CaseStudyIn.model_validate(text), author=world.sponsor)


def publish(world: World, case_study_id: int) -> str:
    with unit_of_work(world.factory) as session:
        return case_studies.publish(session, case_study_id, admin=world.admin)


def published(world: World, **fields: Any) -> str:
    """A new implemented idea with its case study published; its slug."""
    made = implemented(world, **fields)
    return publish(world, write_up(world, made.reference))


def review_words(world: World, idea_id: int, comment: str, note: str) -> None:
    """A reviewer's comment and private note about the idea, as a review stores them."""
    with unit_of_work(world.factory) as session:
        task = ReviewTask(idea_id=idea_id, reviewer_id=world.reviewer_id, state="done", due_at=utcnow())
        session.add(task)
        session.flush()
        session.add(
            Review(
                task_id=task.id,
                idea_id=idea_id,
                impact=4,
                feasibility=4,
                cost=3,
                evidence=3,
                recommendation="accept",
                comment=comment,
                private_note=note,
            )
        )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found[1]


def slugs_listed(html: str) -> list[str]:
    return re.findall(
        r'<h3 class="govuk-heading-m[^"]*"><a class="govuk-link" href="/case-studies/([a-z0-9-]+)">', html
    )


def pagination_links(html: str) -> dict[str, str]:
    return {rel: href.replace("&amp;", "&") for href, rel in re.findall(r'href="([^"]+)" rel="(prev|next)"', html)}


def feed_entries(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    return {str(entry.findtext(f"{ATOM}id")): entry for entry in root.findall(f"{ATOM}entry")}


def list_item(html: str, slug: str) -> str:
    """The part of the list about one case study."""
    return html.split(f'<li class="govuk-!-margin-bottom-6" id="case-study-{slug}">')[1].split("<hr")[0]


def credit_on_page(html: str) -> str:
    found = re.search(r'<p class="govuk-body" id="credit">Idea from: ([^<]*)</p>', html)
    assert found, "no credit line on the page"
    return found[1]


# --- anonymity: what is published, and what never is ---------------------------------------------------------------


def test_a_case_study_names_only_a_submitter_who_agreed_on_the_page_list_feed_and_api(world: World) -> None:
    uid = uuid.uuid4().hex[:8]
    theme = f"Shade {uid}"
    agreed_name, unanswered_name, anonymous_name = f"Agnes Agreed {uid}", f"Una Unanswered {uid}", f"Ann Onymous {uid}"
    emails = [f"agnes.{uid}@example.gov.uk", f"una.{uid}@example.gov.uk", f"ann.{uid}@example.gov.uk"]
    secrets = [
        f"reviewer comment {uid}",
        f"reviewer private note {uid}",
        f"private progress words {uid}",
        unanswered_name,
        anonymous_name,
        *emails,
    ]
    made = []
    for name, email, hidden in zip(
        (agreed_name, unanswered_name, anonymous_name), emails, (False, False, True), strict=True
    ):
        idea = incubating(world, theme=theme, name=name, email=email, anonymous=hidden)
        review_words(world, idea.idea_id, f"reviewer comment {uid}", f"reviewer private note {uid}")
        with unit_of_work(world.factory) as session:
            handlers.add_update(
                session, idea.reference, UpdateIn(state="on_track", note="Planting has begun."), sponsor=world.sponsor
            )
            handlers.add_update(
                session,
                idea.reference,
                UpdateIn(state="at_risk", note=f"private progress words {uid}", private=True),
                sponsor=world.sponsor,
            )
            handlers.record_outcome(session, idea.reference, OUTCOME, sponsor=world.sponsor)
        made.append(idea)
    agreed, _, anonymous = made
    with unit_of_work(world.factory) as session:
        intake.answer_credit(session, agreed.token, credit_by_name=True)
        # Even a consent that somehow exists never names an anonymous submitter.
        session.add(CreditConsent(idea_id=anonymous.idea_id, credit_by_name=True, answered_at=utcnow()))
    slugs = [publish(world, write_up(world, idea.reference)) for idea in made]
    unnamed = "a member of staff in Housing"
    expected = dict(zip(slugs, [agreed_name, unnamed, unnamed], strict=True))

    answers: list[httpx.Response] = []
    for slug, credit in expected.items():
        page = world.page(f"/case-studies/{slug}")
        printed = world.page(f"/case-studies/{slug}?print=1")
        one = world.client.get(f"/api/v1/case-studies/{slug}")
        assert (page.status_code, printed.status_code, one.status_code) == (200, 200, 200)
        assert credit_on_page(page.text) == credit_on_page(printed.text) == credit
        assert one.json()["credit"] == credit
        answers += [page, printed, one]

    listed = world.page(f"/case-studies?theme={theme}")
    assert sorted(slugs_listed(listed.text)) == sorted(slugs)
    for slug, credit in expected.items():
        assert f"Idea from: {credit}</p>" in list_item(listed.text, slug)
    api_list = world.client.get("/api/v1/case-studies", params={"theme": theme})
    assert {c["slug"]: c["credit"] for c in api_list.json()} == expected
    feed = world.client.get("/case-studies.atom")
    entries = feed_entries(feed.text)
    for slug, credit in expected.items():
        assert entries[f"{PUBLIC_URL}/case-studies/{slug}"].findtext(f"{ATOM}author/{ATOM}name") == credit
    answers += [listed, api_list, feed]

    for answer in answers:
        for secret in secrets:
            assert secret not in answer.text, (str(answer.url), secret)
        assert "@" not in answer.text.replace('xmlns="http://www.w3.org/2005/Atom"', ""), str(answer.url)


def test_what_is_published_is_escaped_in_the_page_and_the_feed(world: World) -> None:
    hostile = f'<script>&" {uuid.uuid4().hex[:6]}'
    made = implemented(world)
    slug = publish(world, write_up(world, made.reference, title=f"{hostile}\x0b", problem=f"Before: {hostile}"))

    page = world.page(f"/case-studies/{slug}")
    assert page.status_code == 200
    assert "<script>&" not in page.text
    assert "&lt;script&gt;&amp;&#34;" in page.text

    feed = world.client.get("/case-studies.atom")
    assert "<script>" not in feed.text
    entry = feed_entries(feed.text)[f"{PUBLIC_URL}/case-studies/{slug}"]  # it parses, control character and all
    assert entry.findtext(f"{ATOM}title") == hostile
    content = entry.find(f"{ATOM}content")
    assert content is not None
    assert content.get("type") == "html"
    # The content is HTML carried as text: the hostile words are escaped once more inside it.
    assert f"<p>Before: {hostile.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}" in (
        content.text or ""
    ).replace("&#34;", '"')


# --- the Atom feed --------------------------------------------------------------------------------------------------


def test_the_feed_is_atom_with_the_newest_twenty_and_absolute_links(world: World) -> None:
    for _ in range(2):
        published(world)
    newest = published(world)
    answer = world.client.get("/case-studies.atom")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert "public" in answer.headers["cache-control"]
    root = ET.fromstring(answer.text)
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}id") == f"{PUBLIC_URL}/case-studies.atom"
    assert root.findtext(f"{ATOM}title") == "Ideahub case studies"
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links == {"self": f"{PUBLIC_URL}/case-studies.atom", "alternate": f"{PUBLIC_URL}/case-studies"}
    entries = root.findall(f"{ATOM}entry")
    assert 3 <= len(entries) <= 20
    first = entries[0]
    assert first.findtext(f"{ATOM}id") == f"{PUBLIC_URL}/case-studies/{newest}"
    link = first.find(f"{ATOM}link")
    assert link is not None
    assert link.get("href") == f"{PUBLIC_URL}/case-studies/{newest}"
    assert root.findtext(f"{ATOM}updated") == max(str(e.findtext(f"{ATOM}updated")) for e in entries)
    for entry in entries:
        for name in ("id", "title", "updated", "published", "summary", "content", f"author/{ATOM}name"):
            assert entry.findtext(f"{ATOM}{name}"), name
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(entry.findtext(f"{ATOM}published")))
        assert str(entry.findtext(f"{ATOM}updated")) >= str(entry.findtext(f"{ATOM}published"))
    content = str(first.findtext(f"{ATOM}content"))
    for words in ("The problem", "What was done", "Fewer calls about heat.", "£12,000 saved a year", "Ask the parks"):
        assert words in content


def test_the_feed_holds_the_newest_twenty_only(world: World) -> None:
    while len(feed_entries(world.client.get("/case-studies.atom").text)) < 20:
        published(world)
    newest = published(world)
    entries = list(feed_entries(world.client.get("/case-studies.atom").text))
    assert len(entries) == 20
    assert entries[0] == f"{PUBLIC_URL}/case-studies/{newest}"


# --- the list: filters and pages ------------------------------------------------------------------------------------


def test_the_list_is_filtered_by_department_and_theme_and_its_pages_keep_the_filters(world: World) -> None:
    theme = f"Paging {uuid.uuid4().hex[:6]}"
    slugs = [published(world, theme=theme) for _ in range(25)]

    first = world.page(f"/case-studies?theme={theme}")
    assert first.status_code == 200
    assert "public" in first.headers["cache-control"]
    assert "set-cookie" not in first.headers  # the same for everyone, so that it may be cached
    assert f'<option value="{theme}" selected>{theme}</option>' in first.text
    assert slugs_listed(first.text) == list(reversed(slugs))[:20]  # newest first
    links = pagination_links(first.text)
    assert set(links) == {"next"}
    assert links["next"] == "/case-studies?" + httpx.QueryParams({"theme": theme, "page": "2"}).__str__()

    second = world.page(links["next"])
    assert slugs_listed(second.text) == list(reversed(slugs))[20:]
    assert set(pagination_links(second.text)) == {"prev"}
    assert "(page 2)" in second.text.split("</title>")[0]

    both = world.page(f"/case-studies?department=Housing&theme={theme}&per_page=10")
    assert len(slugs_listed(both.text)) == 10
    assert pagination_links(both.text)["next"] == "/case-studies?" + str(
        httpx.QueryParams({"department": "Housing", "theme": theme, "per_page": "10", "page": "2"})
    )
    assert world.page(f"/case-studies?theme={theme}&page=3").status_code == 404  # past the last page

    # A filter that names nothing published is an error on the page, and filters nothing.
    unknown = world.page("/case-studies?department=No+such+department&theme=%00%01")
    assert unknown.status_code == 400
    assert "Choose a department from the list" in unknown.text
    assert "Choose a theme from the list" in unknown.text
    assert unknown.text.count('class="govuk-error-message"') == 2
    assert len(slugs_listed(unknown.text)) == 20


def test_the_list_shows_each_case_study_with_its_result_numbers_and_date(world: World) -> None:
    theme = f"Details {uuid.uuid4().hex[:6]}"
    closed = OutcomeIn(result="closed", summary="Stopped after a trial.", lessons="The soil was too poor.")
    slug_closed = publish(world, write_up(world, implemented(world, outcome=closed, theme=theme).reference))
    slug_done = published(world, theme=theme)
    page = world.page(f"/case-studies?theme={theme}").text
    assert '<link rel="alternate" type="application/atom+xml"' in page.split("</head>")[0]
    assert 'href="/case-studies.atom"' in page.split("<main")[1]
    done = list_item(page, slug_done)
    for words in (
        "Implemented",
        "Forty streets have shade.",
        "£12,000 saved a year",
        "1,250.5 staff hours saved a year",
        "4,000 people affected",
        "Department: Housing.",
        f"Theme: {theme}.",
        "Published <time datetime=",
    ):
        assert words in done, words
    assert re.search(r">\d{1,2} [A-Z][a-z]+ \d{4}</time>", done)
    stopped = list_item(page, slug_closed)
    assert "Closed with lessons" in stopped
    assert "saved a year" not in stopped


def test_the_list_says_when_nothing_matches(world: World) -> None:
    published(world, theme="Empty state")
    published(world, department="Transport", theme="Elsewhere")
    page = world.page("/case-studies?department=Transport&theme=Empty+state")
    assert page.status_code == 200
    assert 'id="no-case-studies"' in page.text
    assert "No case studies match these filters" in page.text


# --- one case study -------------------------------------------------------------------------------------------------


def test_a_case_study_page_shows_the_write_up_and_prints_without_the_site_s_navigation(world: World) -> None:
    slug = published(world)
    page = world.page(f"/case-studies/{slug}")
    assert page.status_code == 200
    assert "public" in page.headers["cache-control"]
    html = page.text
    for words in (
        "Streets are too hot in summer.",
        "Forty streets have shade.",
        "Fewer calls about heat.",
        "Ask the parks team first.",
        "Sofia Sponsor",
        "Idea from: a member of staff in Housing",
        '<dt class="govuk-summary-list__key">Money saved a year</dt>',
        '<dd class="govuk-summary-list__value">£12,000</dd>',
        '<dd class="govuk-summary-list__value">1,250.5</dd>',
        '<dd class="govuk-summary-list__value">4,000</dd>',
        f'href="/case-studies/{slug}?print=1"',
    ):
        assert words in html, words
    stylesheet = re.search(r'<link rel="stylesheet" href="(/assets-local/case-studies\.css\?v=\w+)">', html)
    assert stylesheet
    css = world.client.get(stylesheet[1])
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    print_rules = css.text.split("@media print")[1]
    for hidden in (".govuk-template__header", ".govuk-service-navigation", ".govuk-footer", ".app-no-print"):
        assert hidden in print_rules.split("display: none")[0], hidden

    printed = world.page(f"/case-studies/{slug}?print=1").text
    assert 'class="app-print-view"' in printed
    assert "print=1" not in printed.split("<main")[1]  # no link to print what is already the print version
    assert f'href="/case-studies/{slug}" id="back-to-case-study"' in printed
    assert f"{PUBLIC_URL}/case-studies/{slug}" in printed


def test_a_draft_a_withdrawn_and_an_unknown_case_study_are_nowhere_in_public(world: World) -> None:
    theme = f"Hidden {uuid.uuid4().hex[:6]}"
    shown = published(world, theme=theme)
    draft_id = write_up(world, implemented(world, theme=theme).reference)
    withdrawn_id = write_up(world, implemented(world, theme=theme).reference)
    withdrawn = publish(world, withdrawn_id)
    with unit_of_work(world.factory) as session:
        case_studies.withdraw(session, withdrawn_id, admin=world.admin)
        draft = str(session.scalar(select(CaseStudy.slug).where(CaseStudy.id == draft_id)))

    for slug in (draft, withdrawn, "no-such-case-study", "NOT_A_SLUG"):
        page = world.page(f"/case-studies/{slug}")
        assert page.status_code == 404, slug
        assert "Page not found" in page.text
        assert world.page(f"/case-studies/{slug}?print=1").status_code == 404
    assert world.client.get(f"/api/v1/case-studies/{draft}").status_code == 404
    assert world.client.get(f"/api/v1/case-studies/{withdrawn}").status_code == 404
    assert slugs_listed(world.page(f"/case-studies?theme={theme}").text) == [shown]
    assert [c["slug"] for c in world.client.get("/api/v1/case-studies", params={"theme": theme}).json()] == [shown]
    feed = world.client.get("/case-studies.atom").text
    assert f"/case-studies/{shown}" in feed
    assert draft not in feed
    assert withdrawn not in feed


# --- the submitter's status page ------------------------------------------------------------------------------------


def test_the_status_page_shows_the_sponsor_the_plan_and_public_progress_never_private_words(world: World) -> None:
    made = incubating(world)
    due = date.today() + timedelta(days=30)
    with unit_of_work(world.factory) as session:
        reached, late, _ = handlers.add_plan(
            session,
            made.reference,
            PlanIn(
                milestones=[
                    MilestoneIn(title="Choose the streets", due_on=due),
                    MilestoneIn(title="Order the trees", due_on=due),
                    MilestoneIn(title="Plant them", due_on=due + timedelta(days=31)),
                ]
            ),
            sponsor=world.sponsor,
            settings=world.settings,
        )
        handlers.reach_milestone(session, made.reference, reached, sponsor=world.sponsor)
    with unit_of_work(world.factory) as session:
        assert deadlines.mark_overdue(session, late, settings=world.settings, now=utcnow() + timedelta(days=60))
        handlers.add_update(
            session, made.reference, UpdateIn(state="at_risk", note="Suppliers are late."), sponsor=world.sponsor
        )
        handlers.add_update(
            session,
            made.reference,
            UpdateIn(state="blocked", note="The budget holder is off sick.", private=True),
            sponsor=world.sponsor,
        )

    page = world.page(f"/status/{made.token}")
    assert page.status_code == 200
    html = page.text
    assert "Your idea's sponsor is Sofia Sponsor." in html
    rows = re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", html, re.S)
    states = {
        re.sub(r"<[^>]+>", "", row.split("</td>")[0]).strip(): re.sub(r"<[^>]+>", "", row.split("</td>")[2]).strip()
        for row in rows[1:]
    }
    assert states == {"Choose the streets": "Reached", "Order the trees": "Overdue", "Plant them": "To do"}
    assert f"{due.day} {due:%B %Y}" in html
    assert 'class="govuk-tag govuk-tag--red">Overdue' in html
    assert "Suppliers are late." in html
    assert "At risk" in html
    assert "off sick" not in html
    assert 'id="credit"' not in html  # not asked before the outcome


def test_the_submitter_sees_the_outcome_answers_the_credit_question_and_the_case_study_follows(world: World) -> None:
    made = implemented(world, name="Priya Proud", email="priya.proud@example.gov.uk")
    page = world.page(f"/status/{made.token}")
    html = page.text
    for words in (
        "Put into practice",
        "Forty streets have shade.",
        "Fewer calls about heat.",
        '<dd class="govuk-summary-list__value">£12,000</dd>',
        '<dd class="govuk-summary-list__value">1,250.5</dd>',
        '<dd class="govuk-summary-list__value">4,000</dd>',
        "Ask the parks team first.",
        'id="credit"',
        "May we name you in a case study?",
    ):
        assert words in html, words
    assert " checked" not in html  # not answered yet
    assert 'id="case-study-link"' not in html

    slug = publish(world, write_up(world, made.reference))
    assert credit_on_page(world.page(f"/case-studies/{slug}").text) == "a member of staff in Housing"
    page = world.page(f"/status/{made.token}")
    assert f'<a class="govuk-link" href="/case-studies/{slug}">' in page.text

    saved = world.client.post(
        f"/status/{made.token}/credit", data={"credit_by_name": "yes", "csrf_token": csrf_of(page.text)}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/status/{made.token}?done=credit-yes"
    after = world.page(saved.headers["location"]).text
    assert "Saved: a case study of your idea may name you" in after
    assert 'id="credit_by_name" name="credit_by_name" type="radio" value="yes" checked' in after
    assert credit_on_page(world.page(f"/case-studies/{slug}").text) == "Priya Proud"
    assert world.client.get(f"/api/v1/case-studies/{slug}").json()["credit"] == "Priya Proud"

    saved = world.client.post(
        f"/status/{made.token}/credit", data={"credit_by_name": "no", "csrf_token": csrf_of(after)}
    )
    assert saved.headers["location"] == f"/status/{made.token}?done=credit-no"
    after = world.page(saved.headers["location"]).text
    assert "Saved: a case study of your idea will not name you" in after
    assert 'value="no" checked' in after
    assert credit_on_page(world.page(f"/case-studies/{slug}").text) == "a member of staff in Housing"
    assert "Priya Proud" not in world.client.get("/case-studies.atom").text


def test_a_credit_answer_that_is_missing_forged_or_not_asked_changes_nothing(world: World) -> None:
    made = implemented(world)
    page = world.page(f"/status/{made.token}")
    token = csrf_of(page.text)

    def consent(idea_id: int) -> bool | None:
        with unit_of_work(world.factory) as session:
            return session.scalar(select(CreditConsent.credit_by_name).where(CreditConsent.idea_id == idea_id))

    empty = world.client.post(f"/status/{made.token}/credit", data={"csrf_token": token})
    assert empty.status_code == 422
    assert '<a href="#credit_by_name">Select yes if a case study may name you</a>' in empty.text
    assert 'id="credit_by_name-error"' in empty.text
    odd = world.client.post(f"/status/{made.token}/credit", data={"credit_by_name": "maybe", "csrf_token": token})
    assert odd.status_code == 422
    forged = world.client.post(f"/status/{made.token}/credit", data={"credit_by_name": "yes"})
    assert forged.status_code == 400
    assert consent(made.idea_id) is None

    anonymous = implemented(world, anonymous=True)
    page = world.page(f"/status/{anonymous.token}")
    assert "Put into practice" in page.text
    assert 'id="credit"' not in page.text  # never asked of an anonymous submitter
    refused = world.client.post(
        f"/status/{anonymous.token}/credit", data={"credit_by_name": "yes", "csrf_token": token}
    )
    assert refused.status_code == 409
    assert "You asked to stay anonymous" in refused.text
    assert consent(anonymous.idea_id) is None

    running = incubating(world)
    refused = world.client.post(f"/status/{running.token}/credit", data={"credit_by_name": "yes", "csrf_token": token})
    assert refused.status_code == 409
    assert consent(running.idea_id) is None

    unknown = world.client.post(f"/status/{'x' * 32}/credit", data={"credit_by_name": "yes", "csrf_token": token})
    assert unknown.status_code == 404
    with unit_of_work(world.factory) as session:
        assert session.scalar(select(Idea.id).where(Idea.status_token == "x" * 32)) is None
