"""A sponsor's whole job, and an administrator's part in it, in a real browser (Debian's headless Chromium, driven by
Playwright) on `ideahub serve`: signing in from the emailed link, answering two offers from the offer email,
planning, reporting and finishing the accepted idea, writing its case study; the administrator publishes it,
and it can be read signed out. Every page visited is checked with axe-core against WCAG 2.2 A and AA.

Stage work runs in the test process as the workers would run it (matching, incubation), and notify's handlers
write the emails as .eml files in DATA_DIR/mail, which the test reads as a person would.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from infra import people
from infra.composition import Runtime
from services.incubation import actors as incubation_actors
from services.intake import handlers as intake
from services.intake.schemas import Submission
from services.matching import actors as matching_actors
from services.matching import handlers as matching
from services.notify.handlers import handle_event, notifier_for
from shared import lifecycle
from shared.config import Settings
from shared.db.models import Offer, OutboxMessage
from shared.db.uow import unit_of_work
from shared.principal import Principal
from shared.worker.declare import StageActor, StageContext
from shared.worker.stage import run_handler
from tests.conftest import unavailable
from tests.e2e import axe
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, Audit, Served, _serve

pytestmark = pytest.mark.e2e

SOFIA = "sofia.sponsor@example.gov.uk"
SEAN = "sean.sponsor@example.gov.uk"
ALEX = "alex.admin@example.gov.uk"
SUBMITTER = ("Sam Submitter", "sam.submitter@example.gov.uk")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with _serve(tmp_path) as running:
        yield running


@pytest.fixture
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is missing: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Scene:
    """The server's own database, worked on as the workers and notify would work on it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = Runtime(settings)
        self.notifier = notifier_for(settings, self.runtime.session_factory)
        self.ids = {
            "sofia": people.add(
                settings,
                email=SOFIA,
                name="Sofia Sponsor",
                role="sponsor",
                department="Housing",
                themes="Environment",
                interests="parks, trees and shade in hot streets",
            ),
            "sean": people.add(
                settings,
                email=SEAN,
                name="Sean Sponsor",
                role="sponsor",
                department="Transport",
                themes="Transport",
                interests="buses, routes and timetables",
            ),
            "alex": people.add(settings, email=ALEX, name="Alex Admin", role="admin"),
        }

    def close(self) -> None:
        self.runtime.close()

    def deliver(self, actor: StageActor, idea_id: int, event_type: str, **match: str) -> None:
        """Hand the idea's latest event of this type (with these fields) to a stage actor, as the relay would."""
        with unit_of_work(self.runtime.session_factory) as session:
            payloads = session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == event_type)
                .order_by(OutboxMessage.id.desc())
            ).all()
        events = [json.loads(p) for p in payloads]
        event = next(e for e in events if all(e.get(k) == v for k, v in match.items()))
        run_handler(actor, self.runtime.session_factory, StageContext(self.settings), event)

    def in_matching(self, title: str, proposal: str) -> tuple[int, str]:
        """An idea recommended by its reviewers, and offered to the best-fitting sponsor by the matching worker."""
        body = Submission(
            title=title,
            problem="Streets get too hot in summer, and older residents call us for help.",
            idea=proposal,
            department="Housing",
            theme="Environment",
            name=SUBMITTER[0],
            email=SUBMITTER[1],
        )
        with unit_of_work(self.runtime.session_factory) as session:
            created = intake.submit_idea(session, body, channel="api", departments=self.settings.departments)
            for target in (lifecycle.Status.IN_REVIEW, lifecycle.Status.MATCHING):
                lifecycle.transition(session, lifecycle.load(session, created.id), target, actor="test")
        self.deliver(matching_actors.start_matching, created.id, "idea.status_changed.v1", to_status="matching")
        return created.id, created.reference

    def offer_holder(self, idea_id: int) -> int | None:
        """Who holds the idea's open offer."""
        with unit_of_work(self.runtime.session_factory) as session:
            return session.scalar(select(Offer.sponsor_id).where(Offer.idea_id == idea_id, Offer.state == "open"))

    def notify(self) -> None:
        """Notify's handlers over the whole outbox: each email is written once, however often this runs."""
        with unit_of_work(self.runtime.session_factory) as session:
            payloads = session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id)).all()
        for payload in payloads:
            handle_event(self.notifier, json.loads(payload))

    def newest_mail(self, to: str, subject: str) -> EmailMessage:
        """The newest .eml file written to `to` whose subject has these words."""
        self.notify()
        found = []
        for path in self.settings.mail_dir.glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if to in str(message["To"]) and subject in str(message["Subject"]):
                found.append((path.stat().st_mtime_ns, path.name, message))
        assert found, f"no email to {to} about {subject!r}"
        return max(found, key=lambda item: item[:2])[2]  # type: ignore[no-any-return]

    def link_in(self, message: EmailMessage, path: str) -> str:
        """The address in the email's text that starts with `path`, as a path on this site."""
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        found = re.search(re.escape(self.settings.public_url) + "(" + re.escape(path) + r"\S*)", text)
        assert found, f"no link to {path} in:\n{text}"
        return found[1]


def nobody_takes(scene: Scene, idea_id: int) -> None:
    """Sean declines the idea Sofia declined; nobody else is left, so it is unmatched and administrators are told."""
    with unit_of_work(scene.runtime.session_factory) as session:
        offer_id = session.scalar(select(Offer.id).where(Offer.idea_id == idea_id, Offer.state == "open"))
        assert offer_id is not None
        sean = Principal(scene.ids["sean"], SEAN, "Sean Sponsor", "sponsor")
        matching.decline_offer(session, offer_id, sponsor=sean, reason="No budget left this year.")
    scene.deliver(matching_actors.offer_declined, idea_id, "offer.answered.v1", answer="declined")
    with unit_of_work(scene.runtime.session_factory) as session:
        assert lifecycle.load(session, idea_id).status is lifecycle.Status.UNMATCHED


def sign_in(page: Any, base: str, scene: Scene, audit: Audit, address: str, name: str) -> None:
    """From the sign-in page the browser is on: ask for a link, open it from the email, press the button."""
    audit.check(page, f"sign-in-{name}", "Sign in")
    page.fill("#email", address)
    page.click("button:has-text('Email me a link')")
    audit.check(page, f"check-your-email-{name}", "Check your email")
    link = scene.link_in(scene.newest_mail(address, "sign in"), "/sign-in/")
    page.goto(f"{base}{link}")
    audit.check(page, f"sign-in-link-{name}", "Sign in")
    page.click("button:has-text('Sign in')")


def test_a_sponsor_answers_offers_runs_an_incubation_and_an_administrator_publishes_its_case_study(
    served: Served, chromium: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not axe.AXE.is_file():
        unavailable(f"{axe.AXE} is missing: run `npm ci` in the repository root")
    base = served.base
    shots = tmp_path / "screenshots"
    shots.mkdir()
    audit = Audit(shots)
    scene = Scene(served.settings)
    try:
        reference, declined_id, _ = _the_sponsor_s_job(chromium, base, scene, audit)
        nobody_takes(scene, declined_id)
        slug = _the_administrator_publishes(chromium, base, scene, audit, reference)
        _anyone_reads_it(chromium, base, audit, slug)
    finally:
        scene.close()
    with capsys.disabled():
        print(f"\naxe-core, WCAG 2.2 A and AA, screenshots in {shots}:\n{audit.summary()}")  # noqa: T201 - the figures
    assert len(audit.found) >= 25
    assert not audit.failures(), f"axe-core found WCAG failures:\n{audit.failures()}"


DECLINED = "Shade sails over bus stops"
TAKEN = "Street trees for shade"


def _card(page: Any, title: str) -> Any:
    return page.locator(".govuk-summary-card", has_text=title)


def _the_sponsor_s_job(chromium: Any, base: str, scene: Scene, audit: Audit) -> tuple[str, int, str]:
    """Sofia declines one offer and takes the other on, to its case study: (its reference, the declined idea)."""
    declined_id, declined = scene.in_matching(DECLINED, "Put shade sails over the bus stops near parks.")
    taken_id, taken = scene.in_matching(TAKEN, "Plant trees along the hottest streets and in small parks.")
    assert scene.offer_holder(declined_id) == scene.offer_holder(taken_id) == scene.ids["sofia"]
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)

    # The link in the offer email, opened signed out, leads through signing in to the offer.
    offer = scene.link_in(scene.newest_mail(SOFIA, declined), "/offers/")
    page.goto(f"{base}{offer}")
    page.wait_for_url(re.compile(r"/sign-in\?next="))
    sign_in(page, base, scene, audit, SOFIA, "sponsor")
    page.wait_for_url(f"{base}{offer}")
    audit.check(page, "offer", f"Offer: {DECLINED}")
    assert "Why you" in page.inner_text("main")
    assert SUBMITTER[0] in page.inner_text("#submitted-by")
    assert SUBMITTER[1] not in page.content()
    page.click("#decline")
    page.wait_for_selector(".govuk-error-summary")
    audit.check(page, "offer-decline-without-a-reason", f"Error: Offer: {DECLINED}")
    page.fill("#reason", "Bus stops are for the transport team.")
    page.click("#decline")
    page.wait_for_selector("#done")
    assert "Your reason: Bus stops are for the transport team." in page.inner_text("main")
    audit.check(page, "offer-declined", f"Offer: {DECLINED}")
    scene.deliver(matching_actors.offer_declined, declined_id, "offer.answered.v1", answer="declined")
    assert scene.offer_holder(declined_id) == scene.ids["sean"]  # the next sponsor has it now

    page.goto(f"{base}/offers")
    audit.check(page, "offers", "Your offers")
    page.click(f"a:has-text('{TAKEN}')")
    audit.check(page, "offer-to-accept", f"Offer: {TAKEN}")
    page.click("#accept")
    page.wait_for_url(re.compile(rf"/incubations/{taken}\?done=accepted"))
    audit.check(page, "incubation-being-set-up", "The incubation is being set up")
    scene.deliver(incubation_actors.start_incubation, taken_id, "offer.answered.v1", answer="accepted")
    page.click("#setting-up a")
    audit.check(page, "incubation", TAKEN)

    # The plan: a date that does not exist is refused, then two milestones.
    next_year = str(date.today().year + 1)
    page.fill("#milestone_title", "Choose the streets with residents")
    page.fill("#due-day", "31")
    page.fill("#due-month", "2")
    page.fill("#due-year", next_year)
    page.click("button:has-text('Add the milestone')")
    page.wait_for_selector(".govuk-error-summary")
    assert "The due date must be a real date" in page.inner_text(".govuk-error-summary")
    assert page.input_value("#milestone_title") == "Choose the streets with residents"
    audit.check(page, "incubation-with-a-date-error", f"Error: {TAKEN}")
    for title, due in (
        ("Choose the streets with residents", date.today() + timedelta(days=30)),
        ("Plant the trees", date.today() + timedelta(days=90)),
    ):
        page.fill("#milestone_title", title)
        page.fill("#due-day", str(due.day))
        page.fill("#due-month", str(due.month))
        page.fill("#due-year", str(due.year))
        page.click("button:has-text('Add the milestone')")
        page.wait_for_selector("#done")
    assert _card(page, "Plant the trees").is_visible()

    page.fill("#budget", "4,500")
    page.fill("#staff_days", "12")
    page.fill("#projected_benefits", "Cooler streets, and fewer calls about the heat.")
    page.fill("#projected_money_a_year", "3000")
    page.fill("#projected_people", "2000")
    page.click("button:has-text('Save the budget and benefits')")
    page.wait_for_selector("#done")
    assert page.input_value("#budget") == "4500"

    page.check("#state")  # on track
    page.fill("#note", "Residents have chosen twelve streets.")
    page.click("button:has-text('Add the update')")
    page.wait_for_selector("#done")
    assert "Residents have chosen twelve streets." in page.inner_text("#updates")

    _card(page, "Choose the streets with residents").locator("button").click()
    page.wait_for_selector("#done")
    assert "Reached" in _card(page, "Choose the streets with residents").inner_text()
    audit.check(page, "incubation-with-a-milestone-reached", TAKEN)
    _card(page, "Plant the trees").get_by_role("link", name="Change Plant the trees").click()
    audit.check(page, "milestone-change", "Change a milestone")
    page.click("a:has-text('Cancel')")
    _card(page, "Plant the trees").get_by_role("link", name="Remove Plant the trees").click()
    audit.check(page, "milestone-remove", "Are you sure you want to remove this milestone?")
    page.click("a:has-text('Cancel')")

    # The outcome: "Implemented" opens its questions.
    assert not page.is_visible("#benefits")
    page.check("#result")
    assert page.is_visible("#benefits")
    audit.check(page, "incubation-outcome-open", TAKEN)
    page.fill("#benefits", "Twelve streets are cooler in summer, and calls about the heat fell by a third.")
    page.fill("#money_saved_a_year", "3,200")
    page.fill("#hours_saved_a_year", "150")
    page.fill("#people_affected", "2400")
    page.fill("#summary", "Trees now shade twelve streets.")
    page.click("button:has-text('Record the outcome')")
    page.wait_for_selector("#done")
    assert "£3,200" in page.inner_text("#outcome")
    audit.check(page, "incubation-implemented", TAKEN)

    page.click("a:has-text('Write the case study')")
    audit.check(page, "case-study-draft", f"Case study: {TAKEN}")
    assert page.input_value("#summary") == "Trees now shade twelve streets."
    page.fill("#summary", "Trees in twelve streets cut calls about the heat by a third.")
    page.fill("#lessons", "Ask residents first; write to parks@example.gov.uk for the tree list.")
    page.click("button:has-text('Save the case study')")
    page.wait_for_selector(".govuk-error-summary")
    assert "Take out the email address" in page.inner_text(".govuk-error-summary")
    audit.check(page, "case-study-with-an-error", f"Error: Case study: {TAKEN}")
    page.fill("#lessons", "Ask residents first, and plant in the autumn.")
    page.click("button:has-text('Save the case study')")
    page.wait_for_selector("#done")
    assert "Idea from a member of staff in Housing" in page.inner_text("#credit")
    assert page.inner_text("#state") == "Draft"
    audit.check(page, "case-study-saved", f"Case study: {TAKEN}")

    page.goto(f"{base}/incubations")
    audit.check(page, "incubations", "Your incubations")
    assert "Implemented" in page.inner_text("#incubations")
    assert "Plant the trees" not in page.inner_text("#incubations")  # an ended incubation has no next milestone
    context.close()
    return taken, declined_id, declined


def _the_administrator_publishes(chromium: Any, base: str, scene: Scene, audit: Audit, reference: str) -> str:
    """Alex signs in from the email about an idea nobody took, looks at its matching, and publishes the case study."""
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    link = scene.link_in(scene.newest_mail(ALEX, "no sponsor"), "/admin/ideas/")
    page.goto(f"{base}{link}")
    page.wait_for_url(re.compile(r"/sign-in\?next="))
    sign_in(page, base, scene, audit, ALEX, "admin")
    page.wait_for_url(f"{base}{link}")
    audit.check(page, "matching-unmatched", "Matching: ")
    page.locator("summary:has-text('How sponsors were ranked')").first.click()
    audit.check(page, "matching-ranking-open", "Matching: ")
    page.click("#close")
    page.wait_for_selector(".govuk-error-summary")
    audit.check(page, "matching-close-without-a-reason", "Error: Matching: ")

    page.goto(f"{base}/staff")
    audit.check(page, "staff-admin", "Your work")
    page.goto(f"{base}/incubations")
    audit.check(page, "incubations-admin", "Incubations")
    page.click(f"a[href='/incubations/{reference}']")
    audit.check(page, "incubation-admin", TAKEN)
    page.click("a:has-text('Go to the case study')")
    page.click("#publish")
    page.wait_for_selector("#done")
    assert page.inner_text("#state") == "Published"
    audit.check(page, "case-study-published", f"Case study: {TAKEN}")
    slug = str(page.get_attribute("#public-link", "href")).rsplit("/", 1)[1]
    context.close()
    return slug


def _anyone_reads_it(chromium: Any, base: str, audit: Audit, slug: str) -> None:
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/case-studies")
    audit.check(page, "case-studies", "Case studies")
    assert TAKEN in page.inner_text("main")
    page.goto(f"{base}/case-studies/{slug}")
    audit.check(page, "case-study-public", TAKEN)
    text = page.inner_text("main")
    assert "Trees in twelve streets cut calls about the heat by a third." in text
    assert "Sofia Sponsor" in text
    assert SUBMITTER[0] not in text  # not asked yet whether to be named
    assert SUBMITTER[1] not in page.content()
    context.close()
