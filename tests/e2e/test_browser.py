"""A real browser (Debian's headless Chromium, driven by Playwright) uses `ideahub serve`: a submitter sends an
idea with the keyboard, and every page a person uses today is checked with axe-core against WCAG 2.2 A and AA.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infra import people
from infra.app import create_app
from infra.composition import Runtime
from infra.signin import use_link
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.review import handlers as review
from services.review import screening
from services.review.schemas import ReviewIn
from shared.clock import utcnow
from shared.config import Settings, load_settings
from shared.contracts.events import IdeaReceivedV1
from shared.db.migrate import upgrade
from shared.db.models import Idea, OutboxMessage, Person, ReviewTask, SignInLink
from shared.db.uow import unit_of_work
from shared.principal import Principal
from shared.signing import sign_in_token
from shared.web import pages
from shared.web.deps import SESSION_COOKIE
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
GENERIC_HEADER_BLACK = "rgb(11, 12, 12)"  # GOV.UK Frontend's generic header; unstyled it would be transparent


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass(frozen=True)
class Served:
    base: str
    settings: Settings  # the same database and secret key as the server's, for setting the scene in-process


@contextmanager
def _serve(tmp_path: Path) -> Iterator[Served]:
    """`ideahub serve` on a free port over a fresh SQLite database; no broker or workers are needed for pages."""
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "IDEAHUB_DATA_DIR": str(data),
        "IDEAHUB_DATABASE_URL": f"sqlite:///{data / 'ideahub.db'}",
        "IDEAHUB_HTTP_PORT": str(port),
        "IDEAHUB_PUBLIC_URL": base,
        "IDEAHUB_QUEUE_PREFIX": "browser.",
    }
    upgrade(env["IDEAHUB_DATABASE_URL"])
    settings = load_settings(
        data_dir=data, database_url=env["IDEAHUB_DATABASE_URL"], public_url=base, queue_prefix="browser."
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
def server(tmp_path: Path) -> Iterator[str]:
    with _serve(tmp_path) as served:
        yield served.base


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with _serve(tmp_path) as running:
        yield running


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


def _focused_id(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def test_a_submitter_sends_an_idea_with_the_keyboard_and_follows_it(
    server: str, browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    styled = (pages.DEFAULT_ASSETS / "govuk-frontend.min.css").is_file()
    page = browser.new_page()
    page.set_default_timeout(10_000)

    page.goto(f"{server}/ideas/new")
    assert page.title() == "Send an idea – Ideahub"
    if styled:
        background = page.eval_on_selector(".govuk-generic-header", "e => getComputedStyle(e).backgroundColor")
        assert background == GENERIC_HEADER_BLACK
        # The GOV.UK script ran: the body is marked as supported and the module initialised.
        assert "govuk-frontend-supported" in str(page.get_attribute("body", "class"))
    page.screenshot(path=shots / "1-form.png", full_page=True)

    page.fill("#title", "Text claimants when a letter is on its way")
    page.fill("#problem", "Claimants ring us to ask whether we have written.")
    # "What is your idea?" is left empty.
    page.select_option("#department", "Benefits")
    page.fill("#email", "sam@example.gov.uk")
    page.click("button:has-text('Send idea')")

    page.wait_for_selector(".govuk-error-summary")
    assert page.title().startswith("Error: ")
    assert page.inner_text(".govuk-error-summary__list") == "Describe your idea"
    assert page.input_value("#title") == "Text claimants when a letter is on its way"  # nothing typed is lost
    assert page.input_value("#department") == "Benefits"
    page.screenshot(path=shots / "2-error.png", full_page=True)
    page.click(".govuk-error-summary__list a[href='#idea']")
    assert _focused_id(page) == "idea"

    # From here on, the keyboard only: type the answer, Tab to the button, press Enter.
    page.keyboard.type("Send a text message when the letter is posted.")
    for _ in range(20):
        if page.evaluate("document.activeElement.textContent.trim()") == "Send idea":
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("the Send idea button cannot be reached with Tab")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/ideas/confirmation/"))
    panel = page.inner_text(".govuk-panel")
    reference = re.search(r"IH-\d{4}-\d{6}", panel)
    assert reference, panel
    page.screenshot(path=shots / "3-confirmation.png", full_page=True)

    page.click("#status-link")
    page.wait_for_url(re.compile(r"/status/[A-Za-z0-9_-]+$"))
    assert page.inner_text("h1") == "Text claimants when a letter is on its way"
    assert page.inner_text("#status") == "Received"
    assert reference[0] in page.inner_text(".govuk-caption-l")
    page.screenshot(path=shots / "4-status.png", full_page=True)

    with capsys.disabled():
        print(f"\nscreenshots: {shots}")  # noqa: T201 - where to look, asked for by whoever runs it


# --- every page, checked with axe-core ------------------------------------------------------------------------------

TITLE = "Text claimants when a letter is on its way"
PROBLEM = "Claimants ring us to ask whether we have written to them, and wait on the phone for the answer."
IDEA_TEXT = "Send a text message when the letter is posted, with the day it should arrive."


@dataclass
class Audit:
    """Each page visited: a screenshot, and what axe-core found."""

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
        lines = []
        for name, found in self.found.items():
            known = f" (accepted: {', '.join(found.accepted)})" if found.accepted else ""
            lines.append(f"  {name}: {len(found.failures)} violations{known}")
        return "\n".join(lines)


class Scene:
    """What the pages show, set in the server's own database: people, sessions, screened ideas, a question."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = Runtime(settings)
        self.ids = {
            "rhona": people.add(settings, email="rhona@example.gov.uk", name="Rhona Reviewer", role="reviewer"),
            "ravi": people.add(settings, email="ravi@example.gov.uk", name="Ravi Reviewer", role="reviewer"),
            "sofia": people.add(settings, email="sofia@example.gov.uk", name="Sofia Sponsor", role="sponsor"),
            "alex": people.add(settings, email="alex@example.gov.uk", name="Alex Admin", role="admin"),
        }

    def close(self) -> None:
        self.runtime.close()

    def idea_of(self, token: str) -> tuple[int, str]:
        with unit_of_work(self.runtime.session_factory) as session:
            row = session.execute(select(Idea.id, Idea.reference).where(Idea.status_token == token)).one()
        return row.id, str(row.reference)

    def submitted(self) -> int:
        """Another idea in the same words, sent through the API."""
        body = {"title": TITLE, "problem": PROBLEM, "idea": IDEA_TEXT, "department": "Benefits", "email": "jo@x.gov.uk"}
        with unit_of_work(self.runtime.session_factory) as session:
            return submit_idea(session, Submission(**body), channel="api", departments=self.settings.departments).id

    def screen(self, idea_id: int) -> None:
        """As the review worker does: both reviewers are given the idea."""
        with unit_of_work(self.runtime.session_factory) as session:
            payload = session.scalar(
                select(OutboxMessage.payload).where(
                    OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == "idea.received.v1"
                )
            )
        assert payload is not None
        with unit_of_work(self.runtime.session_factory) as session:
            screening.screen_idea(session, IdeaReceivedV1.model_validate_json(payload), settings=self.settings)

    def task(self, idea_id: int, name: str) -> int:
        with unit_of_work(self.runtime.session_factory) as session:
            task_id = session.scalar(
                select(ReviewTask.id).where(ReviewTask.idea_id == idea_id, ReviewTask.reviewer_id == self.ids[name])
            )
        assert task_id is not None
        return task_id

    def ask(self, idea_id: int, name: str, question: str) -> None:
        body = {
            "scores": {"impact": 4, "feasibility": 3, "cost": 4, "evidence": 2},
            "recommendation": "needs_info",
            "comment": "Promising.",
            "question": question,
        }
        reviewer = Principal(self.ids[name], f"{name}@example.gov.uk", name, "reviewer")
        with unit_of_work(self.runtime.session_factory) as session:
            review.submit_review(
                session,
                self.task(idea_id, name),
                ReviewIn.model_validate(body),
                reviewer=reviewer,
                settings=self.settings,
            )

    def emailed_link(self, name: str) -> str:
        """The path of the newest sign-in link asked for by this person, as notify would email it."""
        with unit_of_work(self.runtime.session_factory) as session:
            link = session.scalars(
                select(SignInLink)
                .join(Person, Person.id == SignInLink.person_id)
                .where(Person.id == self.ids[name])
                .order_by(SignInLink.created_at.desc())
            ).first()
            assert link is not None
            return f"/sign-in/{sign_in_token(self.settings.resolved_secret_key(), link.id, link.expires_at)}"

    def session_cookie(self, name: str) -> str:
        link_id = uuid.uuid4()
        with unit_of_work(self.runtime.session_factory) as session:
            session.add(SignInLink(id=link_id, person_id=self.ids[name], expires_at=utcnow() + timedelta(minutes=5)))
        with unit_of_work(self.runtime.session_factory) as session:
            cookie = use_link(session, link_id, hours=1, now=utcnow())
        assert cookie is not None
        return cookie

    def crash_page(self) -> str:
        """The page a browser is shown when something fails inside: the app's own, from a route that raises."""

        def fail() -> None:
            raise RuntimeError("a failure inside")

        app = create_app(self.settings, self.runtime)
        app.add_api_route("/fails", fail)
        answer = TestClient(app, raise_server_exceptions=False).get("/fails", headers={"Accept": "text/html"})
        assert answer.status_code == 500
        return answer.text


def signed_in_context(browser: Any, base: str, cookie: str, **options: Any) -> Any:
    context = browser.new_context(**options)
    context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": base}])
    return context


def test_every_page_a_person_uses_has_no_wcag_a_or_aa_failures(
    served: Served, browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not axe.AXE.is_file():
        unavailable(f"{axe.AXE} is missing: run `npm ci` in the repository root")
    _the_checker_finds_what_it_should(browser)
    base = served.base
    shots = tmp_path / "screenshots"
    shots.mkdir()
    audit = Audit(shots)
    scene = Scene(served.settings)
    try:
        task, duplicate = _submitter_pages(browser, base, scene, audit)
        _staff_pages(browser, base, scene, audit, task=task, duplicate=duplicate)
    finally:
        scene.close()
    with capsys.disabled():
        print(f"\naxe-core, WCAG 2.2 A and AA, screenshots in {shots}:\n{audit.summary()}")  # noqa: T201 - the figures
    assert len(audit.found) >= 25
    assert not audit.failures(), f"axe-core found WCAG failures:\n{audit.failures()}"


def _the_checker_finds_what_it_should(browser: Any) -> None:
    """A page with known faults: each is reported; aria-expanded passes only on a conditional-reveal radio."""
    page = browser.new_page()
    page.set_content(
        '<!DOCTYPE html><html><head><title>Faults</title></head><body><main><img src="x.png">'
        '<input type="text" id="unlabelled">'
        '<input type="radio" name="a" id="plain" aria-expanded="false"><label for="plain">Plain</label>'
        '<div class="govuk-radios"><input class="govuk-radios__input" type="radio" name="b" id="reveal"'
        ' data-aria-controls="box" aria-expanded="false"><label for="reveal">Reveal</label></div>'
        '<div id="box"></div></main></body></html>'
    )
    found = axe.check(page)
    rules = {violation["id"] for violation in found.failures}
    assert {"html-has-lang", "image-alt", "label", "aria-allowed-attr"} <= rules, rules
    (allowed_attr,) = [violation for violation in found.failures if violation["id"] == "aria-allowed-attr"]
    assert [node["target"] for node in allowed_attr["nodes"]] == ["#plain"]
    assert found.accepted == ["aria-allowed-attr at #reveal"]
    page.close()


def _submitter_pages(browser: Any, base: str, scene: Scene, audit: Audit) -> tuple[int, str]:
    """The pages of someone sending an idea, and the pages anyone can see; then a review task with a duplicate."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)

    page.goto(f"{base}/ideas/new")
    audit.check(page, "idea-form", "Send an idea")
    page.fill("#title", TITLE)
    page.select_option("#department", "Benefits")
    page.fill("#email", "sam@example.gov.uk")
    page.click("button:has-text('Send idea')")
    page.wait_for_selector(".govuk-error-summary")
    audit.check(page, "idea-form-with-errors", "Error: Send an idea")
    page.fill("#problem", PROBLEM)
    page.fill("#idea", IDEA_TEXT)
    page.click("button:has-text('Send idea')")
    page.wait_for_url(re.compile(r"/ideas/confirmation/"))
    audit.check(page, "confirmation", "Idea sent")
    token = str(page.get_attribute("#status-link", "href")).rsplit("/", 1)[1]

    first, reference = scene.idea_of(token)
    scene.screen(first)
    scene.ask(first, "rhona", "How many claimants would get a text each week?")
    page.goto(f"{base}/status/{token}")
    assert page.is_visible("#question")
    audit.check(page, "status-with-a-question", "Your idea")
    page.click("#withdraw")
    audit.check(page, "withdraw", "Are you sure you want to withdraw your idea?")
    page.goto(f"{base}/status/{token}/stop-updates")
    audit.check(page, "stop-updates", "Stop updates about your idea")
    page.click("button:has-text('Stop updates')")
    page.wait_for_selector(".govuk-panel")
    audit.check(page, "updates-stopped", "Updates stopped")

    for path, name, title in (
        ("/accessibility", "accessibility-statement", "Accessibility statement"),
        ("/privacy", "privacy-notice", "Privacy notice"),
        ("/cookies", "cookies", "Cookies"),
        ("/nothing/12", "404", "Page not found"),
        ("/status/not-a-real-status-link-at-all", "404-status-link", "Page not found"),
    ):
        page.goto(f"{base}{path}")
        audit.check(page, name, title)

    # A form whose cookie has gone (a browser restarted, say): the "form has expired" page.
    page.goto(f"{base}/sign-in")
    context.clear_cookies()
    page.fill("#email", "sam@example.gov.uk")
    page.click("button:has-text('Email me a link')")
    audit.check(page, "400-form-expired", "Your form has expired")

    # Something fails inside: the app's own 500 page, shown at an address of the real server.
    crash = scene.crash_page()
    page.route(f"{base}/fails", lambda route: route.fulfill(status=500, content_type="text/html", body=crash))
    page.goto(f"{base}/fails")
    assert "a failure inside" not in page.content()
    audit.check(page, "500", "Sorry, there is a problem with the service")
    context.close()

    second = scene.submitted()
    scene.screen(second)  # its review task lists the first idea as a likely duplicate
    return scene.task(second, "rhona"), reference


def _staff_pages(browser: Any, base: str, scene: Scene, audit: Audit, *, task: int, duplicate: str) -> None:
    """The pages of reviewers, sponsors and administrators, from signing in to signing out."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)

    # A reviewer follows a link to a task, signs in, and lands on it.
    page.goto(f"{base}/reviews/tasks/{task}")
    page.wait_for_url(re.compile(r"/sign-in\?next="))
    audit.check(page, "sign-in", "Sign in")
    page.fill("#email", "rhona@example.gov.uk")
    page.click("button:has-text('Email me a link')")
    audit.check(page, "check-your-email", "Check your email")
    link = scene.emailed_link("rhona")
    page.goto(f"{base}{link}")
    audit.check(page, "sign-in-link", "Sign in")
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{base}/reviews/tasks/{task}")
    assert duplicate in page.inner_text("#duplicates")
    assert page.get_attribute(".govuk-service-navigation__link", "aria-current") == "true"
    # The question box opens under "Ask the submitter a question".
    assert not page.is_visible("#question")
    audit.check(page, "review-task-with-duplicates", "Review: ")
    page.check("#recommendation-needs_info")
    assert page.is_visible("#question")
    page.click("button:has-text('Send your review')")
    page.wait_for_selector(".govuk-error-summary")
    assert page.is_visible("#question")
    audit.check(page, "review-task-with-errors", "Error: Review: ")
    page.goto(f"{base}/reviews/tasks/{task}/decline")
    audit.check(page, "decline", "Hand back this review")
    page.goto(f"{base}/staff")
    page.wait_for_url(f"{base}/reviews")
    assert page.get_attribute(".govuk-service-navigation__link", "aria-current") == "page"
    audit.check(page, "reviews", "Your review tasks")
    page.goto(f"{base}{link}")
    audit.check(page, "sign-in-link-used", "This link has been used or has expired")
    page.goto(f"{base}/reviews")
    page.click("#sign-out button")
    page.wait_for_url(re.compile(r"/sign-in\?done=signed-out"))
    audit.check(page, "signed-out", "Sign in")
    context.close()

    # Without JavaScript the question box is simply there.
    plain = signed_in_context(browser, base, scene.session_cookie("rhona"), java_script_enabled=False)
    page = plain.new_page()
    page.goto(f"{base}/reviews/tasks/{task}")
    assert page.is_visible("#question")
    plain.close()

    for name, role in (("sofia", "sponsor"), ("alex", "admin")):
        context = signed_in_context(browser, base, scene.session_cookie(name))
        page = context.new_page()
        page.goto(f"{base}/staff")
        audit.check(page, f"staff-{role}", "Your offers" if role == "sponsor" else "Your work")  # a sponsor's work
        if role == "sponsor":
            page.goto(f"{base}/reviews")
            audit.check(page, "403", "You cannot use this page")
        context.close()


def test_the_api_documentation_works_with_no_other_site_reachable(server: str, browser: Any) -> None:
    """Swagger UI draws the API from the files Ideahub serves; a request anywhere else is refused and noted."""
    page = browser.new_page()
    page.set_default_timeout(10_000)
    elsewhere: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(server):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    page.goto(f"{server}/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Ideahub" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-tag-section")  # the operations, grouped by tag
    assert elsewhere == []
