"""A real browser (Debian's headless Chromium, driven by Playwright) reads the public case studies and a submitter's
status page with an incubation, an outcome and the credit question, on `ideahub serve`; every page is checked with
axe-core against WCAG 2.2 A and AA, nothing is fetched from another site, and a printed case study leaves out the
site's header and footer.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from infra import people
from infra.composition import Runtime
from services.incubation import actors as incubation_actors
from services.incubation import case_studies, handlers
from services.incubation.schemas import CaseStudyIn, MilestoneIn, OutcomeIn, PlanIn, UpdateIn
from services.intake import handlers as intake
from services.intake.schemas import Submission
from services.matching import actors as matching_actors
from services.matching import handlers as matching
from shared import lifecycle
from shared.config import Settings, load_settings
from shared.db.migrate import upgrade
from shared.db.models import Offer, OutboxMessage
from shared.db.uow import unit_of_work
from shared.principal import Principal
from shared.worker.declare import StageActor, StageContext
from shared.worker.stage import run_handler
from tests.conftest import free_port, unavailable
from tests.e2e import axe
from tests.helpers import start_component, wait_for

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass(frozen=True)
class Served:
    base: str
    settings: Settings  # the server's database and secret key, for setting the scene in-process


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`ideahub serve` on a free port over a fresh SQLite database; pages need no broker or workers."""
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "IDEAHUB_DATA_DIR": str(data),
        "IDEAHUB_DATABASE_URL": f"sqlite:///{data / 'ideahub.db'}",
        "IDEAHUB_HTTP_PORT": str(port),
        "IDEAHUB_PUBLIC_URL": base,
        "IDEAHUB_QUEUE_PREFIX": "casestudies.",
    }
    upgrade(env["IDEAHUB_DATABASE_URL"])
    settings = load_settings(
        data_dir=data, database_url=env["IDEAHUB_DATABASE_URL"], public_url=base, queue_prefix="casestudies."
    )
    settings.resolved_secret_key()  # made now, in the data folder the server reads it from
    process = start_component(data, "serve", env, "serve")
    try:
        wait_for(lambda: _answers(f"{base}/healthz") or process.poll() is not None, timeout=60, what="ideahub serve")
        assert process.poll() is None, (data / "serve.log").read_text()[-3000:]
        yield Served(base, settings)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def browser() -> Iterator[Any]:
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
    """Ideas taken through incubation to their outcome and case study with the service code, in the server's
    own database: what the workers, the sponsor and an administrator would have done."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = Runtime(settings)
        sponsor_id = people.add(
            settings,
            email="sofia@example.gov.uk",
            name="Sofia Sponsor",
            role="sponsor",
            department="Housing",
            interests="parks, trees, buses, clinics, housing repairs",
            capacity=50,
        )
        admin_id = people.add(settings, email="alex@example.gov.uk", name="Alex Admin", role="admin")
        self.sponsor = Principal(sponsor_id, "sofia@example.gov.uk", "Sofia Sponsor", "sponsor")
        self.admin = Principal(admin_id, "alex@example.gov.uk", "Alex Admin", "admin")

    def close(self) -> None:
        self.runtime.close()

    def _deliver(self, actor: StageActor, idea_id: int, event_type: str) -> None:
        with unit_of_work(self.runtime.session_factory) as session:
            payload = session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == event_type)
                .order_by(OutboxMessage.id.desc())
            ).first()
        assert payload is not None, event_type
        run_handler(actor, self.runtime.session_factory, StageContext(self.settings), json.loads(payload))

    def incubating(self, title: str, department: str, theme: str) -> tuple[str, str]:
        """An idea accepted by the sponsor, its incubation open: (reference, status token)."""
        body = Submission(
            title=title,
            problem="Residents wait weeks for small repairs, and ring us again and again to ask when.",
            idea="Let residents book a repair slot online and send a text the day before.",
            department=department,
            theme=theme,
            name="Priya Patel",
            email=f"priya.{uuid.uuid4().hex[:6]}@example.gov.uk",
        )
        factory = self.runtime.session_factory
        with unit_of_work(factory) as session:
            created = intake.submit_idea(session, body, channel="api", departments=self.settings.departments)
            for target in (lifecycle.Status.IN_REVIEW, lifecycle.Status.MATCHING):
                lifecycle.transition(session, lifecycle.load(session, created.id), target, actor="test")
        self._deliver(matching_actors.start_matching, created.id, "idea.status_changed.v1")
        with unit_of_work(factory) as session:
            offer_id = session.scalar(select(Offer.id).where(Offer.idea_id == created.id, Offer.state == "open"))
            assert offer_id is not None
            matching.accept_offer(session, offer_id, sponsor=self.sponsor)
        self._deliver(incubation_actors.start_incubation, created.id, "offer.answered.v1")
        with unit_of_work(factory) as session:
            (reached, _) = handlers.add_plan(
                session,
                created.reference,
                PlanIn(
                    milestones=[
                        MilestoneIn(title="Choose a booking system", due_on=date.today() + timedelta(days=10)),
                        MilestoneIn(title="Try it in one area", due_on=date.today() + timedelta(days=60)),
                    ]
                ),
                sponsor=self.sponsor,
                settings=self.settings,
            )
            handlers.reach_milestone(session, created.reference, reached, sponsor=self.sponsor)
            handlers.add_update(
                session,
                created.reference,
                UpdateIn(state="on_track", note="The booking system is chosen; training starts next week."),
                sponsor=self.sponsor,
            )
        return created.reference, created.status_token

    def finished(self, reference: str, outcome: OutcomeIn) -> None:
        with unit_of_work(self.runtime.session_factory) as session:
            handlers.record_outcome(session, reference, outcome, sponsor=self.sponsor)

    def publish(self, reference: str) -> str:
        with unit_of_work(self.runtime.session_factory) as session:
            text = case_studies.draft(session, reference, author=self.sponsor)
            case_study_id = case_studies.write(
                session, reference, CaseStudyIn.model_validate(text.model_dump()), author=self.sponsor
            )
        with unit_of_work(self.runtime.session_factory) as session:
            return case_studies.publish(session, case_study_id, admin=self.admin)


IMPLEMENTED = OutcomeIn(
    result="implemented",
    summary="Residents now book repairs online in three areas, and get a text the day before.",
    benefits="Fewer calls asking when a repairer will come, and fewer missed visits.",
    money_saved_a_year=48250,
    hours_saved_a_year=1200,
    people_affected=15000,
    lessons="Ask the repairers early: they know which jobs fit a slot.",
)
CLOSED = OutcomeIn(
    result="closed",
    summary="The trial stopped after two months.",
    lessons="Texts reached too few residents: many had no mobile number on file.",
)


@dataclass
class Audit:
    shots: Path
    found: dict[str, axe.Findings] = field(default_factory=dict)

    def check(self, page: Any, name: str, title: str) -> None:
        page.wait_for_load_state("load")
        assert page.title().startswith(title), f"{name}: expected the page {title!r}, got {page.title()!r}"
        page.screenshot(path=self.shots / f"{len(self.found) + 1:02d}-{name}.png", full_page=True)
        self.found[name] = axe.check(page)

    def failures(self) -> str:
        return "\n".join(f"{name}:\n{axe.describe(f.failures)}" for name, f in self.found.items() if f.failures)

    def summary(self) -> str:
        return "\n".join(f"  {name}: {len(found.failures)} violations" for name, found in self.found.items())


def test_case_studies_and_the_status_page_of_an_incubated_idea_have_no_wcag_failures(
    served: Served, browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not axe.AXE.is_file():
        unavailable(f"{axe.AXE} is missing: run `npm ci` in the repository root")
    base = served.base
    shots = tmp_path / "screenshots"
    shots.mkdir()
    audit = Audit(shots)
    scene = Scene(served.settings)
    try:
        slugs = []
        for title, department, theme, outcome in (
            ("Book housing repairs online", "Housing", "Repairs", IMPLEMENTED),
            ("Texts before clinic appointments", "Health", "Appointments", IMPLEMENTED),
            ("Texts for bus pass renewals", "Transport", "Reminders", CLOSED),
        ):
            reference, _ = scene.incubating(title, department, theme)
            scene.finished(reference, outcome)
            slugs.append(scene.publish(reference))
        running, running_token = scene.incubating("Shared vans for repair teams", "Housing", "Repairs")
        finished, finished_token = scene.incubating("Repair photos sent by residents", "Housing", "Repairs")
        scene.finished(finished, IMPLEMENTED)
    finally:
        scene.close()

    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    elsewhere: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)

    page.goto(f"{base}/case-studies")
    audit.check(page, "case-studies", "Case studies")
    assert page.locator("#case-studies > li").count() == 3
    assert page.get_attribute("link[rel=alternate]", "href") == "/case-studies.atom"

    page.select_option("#department", "Housing")
    page.click("button:has-text('Apply filters')")
    page.wait_for_url(re.compile(r"department=Housing"))
    audit.check(page, "case-studies-filtered", "Case studies from Housing")
    assert page.locator("#case-studies > li").count() == 1

    page.goto(f"{base}/case-studies?per_page=2")
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(r"page=2"))
    audit.check(page, "case-studies-page-2", "Case studies (page 2)")
    assert page.locator("#case-studies > li").count() == 1

    page.goto(f"{base}/case-studies?department=Nowhere")
    audit.check(page, "case-studies-bad-filter", "Error: Case studies")

    page.goto(f"{base}/case-studies/{slugs[0]}")
    audit.check(page, "case-study", "Book housing repairs online")
    assert "£48,250" in page.inner_text("#benefits")
    page.emulate_media(media="print")
    for hidden in (".govuk-template__header", ".govuk-footer", ".govuk-breadcrumbs", "#print-link"):
        assert not page.is_visible(hidden), f"{hidden} would be printed"
    assert page.is_visible("#printed-from")
    page.emulate_media(media="screen")
    page.click("#print-link")
    page.wait_for_url(re.compile(r"\?print=1$"))
    audit.check(page, "case-study-print-view", "Book housing repairs online (print version)")
    assert not page.is_visible(".govuk-footer")
    assert page.is_visible("#back-to-case-study")

    page.goto(f"{base}/case-studies/{slugs[2]}")
    audit.check(page, "case-study-closed", "Texts for bus pass renewals")

    page.goto(f"{base}/status/{running_token}")
    assert page.inner_text("#sponsor") == "Your idea's sponsor is Sofia Sponsor."
    assert not page.is_visible("#credit")
    audit.check(page, "status-incubating", "Your idea")

    page.goto(f"{base}/status/{finished_token}")
    assert page.is_visible("#credit")
    audit.check(page, "status-credit-question", "Your idea")
    page.click("button:has-text('Save')")
    page.wait_for_selector(".govuk-error-summary")
    audit.check(page, "status-credit-error", "Error: Your idea")
    page.check("#credit_by_name")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"done=credit-yes"))
    assert "may name you" in page.inner_text(".govuk-notification-banner")
    audit.check(page, "status-credit-saved", "Your idea")
    context.close()

    # Without JavaScript the filters, the print view and the credit question work the same.
    plain = browser.new_context(java_script_enabled=False)
    page = plain.new_page()
    page.goto(f"{base}/case-studies")
    page.select_option("#theme", "Appointments")
    page.click("button:has-text('Apply filters')")
    page.wait_for_url(re.compile(r"theme=Appointments"))
    assert page.locator("#case-studies > li").count() == 1
    page.goto(f"{base}/status/{finished_token}")
    page.check("#credit_by_name-no")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"done=credit-no"))
    plain.close()

    with capsys.disabled():
        print(f"\naxe-core, WCAG 2.2 A and AA, screenshots in {shots}:\n{audit.summary()}")  # noqa: T201 - the figures
    assert elsewhere == [], f"pages fetched files from other sites: {elsewhere}"
    assert len(audit.found) == 11
    assert not audit.failures(), f"axe-core found WCAG failures:\n{audit.failures()}"
