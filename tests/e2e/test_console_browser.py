"""An administrator's failures and people pages in a real browser (Debian's headless Chromium, driven by Playwright)
on `ideahub serve`: signing in from the emailed link, retrying a message that failed, discarding another, resending
a failed notification, adding a reviewer and deactivating one whose review is waiting. Every page visited is checked
with axe-core against WCAG 2.2 A and AA; then the same pages are used with JavaScript turned off.

The failures are made in the test process as a worker makes them (`record_failure`, as after its last retry), and
notify's handlers write the emails as .eml files in DATA_DIR/mail, which the test reads as a person would.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from infra import people
from infra.composition import Runtime
from infra.signin import use_link
from services.intake import handlers as intake
from services.intake.schemas import Submission
from services.notify.handlers import handle_event, notifier_for
from services.review import actors as review_actors
from shared.bus.exactly_once import record_failure
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import FailedMessage, Idea, Notification, OutboxMessage, Person, ReviewTask, SignInLink
from shared.db.uow import unit_of_work
from shared.worker.declare import StageContext
from shared.worker.stage import run_handler
from tests.conftest import unavailable
from tests.e2e import axe
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, Audit, Served, _serve, signed_in_context
from tests.e2e.test_sponsor_browser import sign_in

pytestmark = pytest.mark.e2e

ALEX = "alex.admin@example.gov.uk"
RHONA = "rhona.reviewer@example.gov.uk"
RAVI = "ravi.reviewer@example.gov.uk"
RORY = "rory.reviewer@example.gov.uk"
LONG_ERROR = (
    "OperationalError: (psycopg.OperationalError) connection to the database server was lost while the message was"
    " being handled; it will not be retried again by itself"
)


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
            "alex": people.add(settings, email=ALEX, name="Alex Admin", role="admin"),
            "rhona": people.add(settings, email=RHONA, name="Rhona Reviewer", role="reviewer", department="Housing"),
            "ravi": people.add(settings, email=RAVI, name="Ravi Reviewer", role="reviewer", department="Housing"),
        }

    @property
    def factory(self) -> Any:
        return self.runtime.session_factory

    def close(self) -> None:
        self.runtime.close()

    def scalar(self, statement: Any) -> Any:
        with unit_of_work(self.factory) as session:
            return session.scalar(statement)

    def received(self, title: str) -> dict[str, Any]:
        """A new idea's idea.received event, as the relay would deliver it."""
        body = Submission(
            title=title,
            problem="People wait on the phone to ask where their form is.",
            idea="Send a text message when the form arrives.",
            department="Housing",
            name="Sam Submitter",
            email="sam.submitter@example.gov.uk",
        )
        with unit_of_work(self.factory) as session:
            created = intake.submit_idea(session, body, channel="api", departments=self.settings.departments)
            payload = session.scalar(
                select(OutboxMessage.payload).where(
                    OutboxMessage.idea_id == created.id, OutboxMessage.event_type == "idea.received.v1"
                )
            )
        return dict(json.loads(str(payload)))

    def failed(self, title: str, error: str) -> tuple[int, dict[str, Any]]:
        """An idea whose screening failed for good, as after the review worker's last retry: (failure id, event)."""
        payload = self.received(title)
        record_failure(self.factory, "review.screen_idea", payload, error)
        failure_id = self.scalar(select(FailedMessage.id).where(FailedMessage.idea_id == payload["idea_id"]))
        assert failure_id is not None
        return int(failure_id), payload

    def screened(self, title: str) -> int:
        """An idea screened by the review worker's code: in review, with its reviewers' tasks waiting."""
        payload = self.received(title)
        run_handler(review_actors.screen_idea, self.factory, StageContext(self.settings), payload)
        return int(payload["idea_id"])

    def notify(self) -> None:
        """Notify's handlers over the whole outbox: each email is written once, however often this runs."""
        with unit_of_work(self.factory) as session:
            payloads = session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id)).all()
        for payload in payloads:
            handle_event(self.notifier, json.loads(payload))

    def failed_notification(self, idea_id: int) -> int:
        """The idea's acknowledgement to its submitter, failed for good (as after the worker's last attempt)."""
        self.notify()
        with unit_of_work(self.factory) as session:
            notification_id = session.scalar(
                select(Notification.id).where(
                    Notification.idea_id == idea_id, Notification.template == "submitter/received"
                )
            )
            assert notification_id is not None
            session.execute(
                update(Notification)
                .where(Notification.id == notification_id)
                .values(state="failed", attempts=8, error="550 5.1.1 mailbox unavailable")
            )
        return int(notification_id)

    def newest_mail(self, to: str, subject: str) -> EmailMessage:
        """The newest .eml file written to `to` whose subject has these words."""
        self.notify()
        found = []
        for path in self.settings.mail_dir.glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if to in str(message["To"]) and subject in str(message["Subject"]):
                found.append((path.stat().st_mtime_ns, path.name, message))
        assert found, f"no email to {to} about {subject!r}"
        newest: EmailMessage = max(found, key=lambda item: item[:2])[2]
        return newest

    def link_in(self, message: EmailMessage, path: str) -> str:
        """The address in the email's text that starts with `path`, as a path on this site."""
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        found = re.search(re.escape(self.settings.public_url) + "(" + re.escape(path) + r"\S*)", text)
        assert found, f"no link to {path} in:\n{text}"
        return found[1]

    def session_cookie(self, name: str) -> str:
        """A signed-in browser's session for this person, as the sign-in link's button makes one."""
        link_id = uuid.uuid4()
        with unit_of_work(self.factory) as session:
            session.add(SignInLink(id=link_id, person_id=self.ids[name], expires_at=utcnow() + timedelta(minutes=5)))
        with unit_of_work(self.factory) as session:
            cookie = use_link(session, link_id, hours=1, now=utcnow())
        assert cookie is not None
        return cookie

    def tasks(self, idea_id: int) -> dict[int, str]:
        """Each review task of the idea: reviewer id -> state."""
        with unit_of_work(self.factory) as session:
            rows = session.execute(
                select(ReviewTask.reviewer_id, ReviewTask.state).where(ReviewTask.idea_id == idea_id)
            ).all()
        return {row.reviewer_id: str(row.state) for row in rows}

    def actions(self, idea_id: int) -> list[str]:
        with unit_of_work(self.factory) as session:
            rows = session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == "admin.action_taken.v1")
                .order_by(OutboxMessage.id)
            ).all()
        return [json.loads(row)["action"] for row in rows]


def test_an_administrator_retries_and_discards_failures_and_adds_and_deactivates_reviewers(
    served: Served, chromium: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not axe.AXE.is_file():
        unavailable(f"{axe.AXE} is missing: run `npm ci` in the repository root")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    audit = Audit(shots)
    scene = Scene(served.settings)
    try:
        _failures(chromium, served.base, scene, audit)
        _people(chromium, served.base, scene, audit)
        _without_javascript(chromium, served.base, scene)
    finally:
        scene.close()
    with capsys.disabled():
        print(f"\naxe-core, WCAG 2.2 A and AA, screenshots in {shots}:\n{audit.summary()}")  # noqa: T201 - the figures
    assert len(audit.found) >= 20
    assert not audit.failures(), f"axe-core found WCAG failures:\n{audit.failures()}"


RETRIED = "Text people when their form arrives"
DISCARDED = "A test idea sent by mistake"


def _failures(chromium: Any, base: str, scene: Scene, audit: Audit) -> None:
    retry_id, retried = scene.failed(RETRIED, "OperationalError: the database went away")
    discard_id, _ = scene.failed(DISCARDED, LONG_ERROR)
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)

    page.goto(f"{base}/admin/failures")
    page.wait_for_url(re.compile(r"/sign-in\?next="))
    sign_in(page, base, scene, audit, ALEX, "admin")
    page.wait_for_url(f"{base}/admin/failures")
    audit.check(page, "failures", "Failed messages")
    assert page.is_visible(f"#failure-{retry_id}")
    assert page.is_visible(f"#failure-{discard_id}")
    assert retried["idea_reference"] in page.inner_text(f"#failure-{retry_id}")
    page.locator(f"#failure-{discard_id} summary").click()
    assert "it will not be retried again by itself" in page.inner_text(f"#failure-{discard_id}")
    audit.check(page, "failures-full-error-open", "Failed messages")

    page.click(f"a[href='/admin/failures/{retry_id}']")
    audit.check(page, "failure", f"Failed message {retry_id}")
    page.click("#retry")
    page.wait_for_selector("#done")
    assert "The message was handled" in page.inner_text("#done")
    assert page.inner_text("#resolution").strip() == "Retried"
    audit.check(page, "failure-retried", f"Failed message {retry_id}")
    assert scene.scalar(select(Idea.status).where(Idea.id == retried["idea_id"])) == "in_review"

    page.goto(f"{base}/admin/failures")
    page.click(f"a[href='/admin/failures/{discard_id}']")
    page.click("#discard")
    page.wait_for_selector(".govuk-error-summary")
    assert "Enter why you are discarding this message" in page.inner_text(".govuk-error-summary")
    audit.check(page, "failure-discard-without-a-reason", f"Error: Failed message {discard_id}")
    page.fill("#reason", "Sent by mistake while testing the form.")
    page.click("#discard")
    page.wait_for_selector("#done")
    assert "Sent by mistake while testing the form." in page.inner_text("#failure")
    audit.check(page, "failure-discarded", f"Failed message {discard_id}")

    page.goto(f"{base}/admin/failures")
    assert page.is_visible("#no-failures")
    page.check("#state-resolved")
    page.click("button:has-text('Show messages')")
    page.wait_for_url(re.compile(r"state=resolved"))
    assert page.is_visible(f"#failure-{retry_id}")
    assert page.is_visible(f"#failure-{discard_id}")
    audit.check(page, "failures-resolved", "Failed messages")

    notification_id = scene.failed_notification(retried["idea_id"])
    page.click("a:has-text('failed notifications')")
    audit.check(page, "failed-notifications", "Failed notifications")
    assert "550 5.1.1 mailbox unavailable" in page.inner_text(f"#notification-{notification_id}")
    page.click(f"#resend-{notification_id}")
    page.wait_for_selector("#done")
    assert not page.is_visible(f"#notification-{notification_id}")
    audit.check(page, "failed-notification-resent", "Failed notifications")
    assert scene.scalar(select(Notification.state).where(Notification.id == notification_id)) == "pending"
    context.close()


def _people(chromium: Any, base: str, scene: Scene, audit: Audit) -> None:
    # Both reviewers have this idea, and the one retried on the failures page (two an idea, and only two reviewers).
    waiting = scene.screened("Fix the broken lift reports")
    assert scene.tasks(waiting) == {scene.ids["rhona"]: "open", scene.ids["ravi"]: "open"}
    context = signed_in_context(chromium, base, scene.session_cookie("alex"))
    page = context.new_page()
    page.set_default_timeout(10_000)

    page.goto(f"{base}/admin/people")
    audit.check(page, "people", "People")
    assert "2 reviews waiting" in page.inner_text(f"#person-{scene.ids['rhona']}")
    page.click("#add-person")
    audit.check(page, "person-new", "Add a person")
    page.fill("#email", "rory.reviewer@example")
    page.fill("#name", "Rory Reviewer")
    page.check("#role-reviewer")
    page.select_option("#department", "Housing")
    page.fill("#themes", "Housing, Repairs")
    page.click("#add")
    page.wait_for_selector(".govuk-error-summary")
    assert "Enter an email address in the correct format, like name@example.gov.uk" in page.inner_text(
        ".govuk-error-summary"
    )
    assert page.input_value("#name") == "Rory Reviewer"  # nothing typed is lost
    assert page.is_checked("#role-reviewer")
    audit.check(page, "person-new-with-an-error", "Error: Add a person")
    page.fill("#email", RORY)
    page.click("#add")
    page.wait_for_selector("#done")
    audit.check(page, "person-added", "Rory Reviewer")
    rory = scene.scalar(select(Person.id).where(Person.email == RORY))
    assert rory is not None

    page.goto(f"{base}/admin/people?role=reviewer")
    audit.check(page, "people-reviewers", "People")
    page.click("a:has-text('Rhona Reviewer')")
    audit.check(page, "person", "Rhona Reviewer")
    page.fill("#capacity", "many")
    page.click("#save")
    page.wait_for_selector(".govuk-error-summary")
    audit.check(page, "person-with-an-error", "Error: Rhona Reviewer")
    page.check("#role-sponsor")
    page.fill("#capacity", "3")
    page.click("#save")
    page.wait_for_selector("#conflict")
    assert "has work in hand" in page.inner_text("#conflict")
    audit.check(page, "person-role-refused", "Rhona Reviewer")

    page.click("#deactivate")
    audit.check(page, "person-deactivate", "Deactivate Rhona Reviewer")
    consequences = page.inner_text("#consequences")
    assert "their sign-in and API tokens stop working" in consequences
    assert "their 2 waiting reviews go to other reviewers" in consequences
    page.click("#confirm")
    page.wait_for_selector(".govuk-error-summary")
    audit.check(page, "person-deactivate-without-a-reason", "Error: Deactivate Rhona Reviewer")
    page.fill("#reason", "Rhona has moved to another team.")
    page.click("#confirm")
    page.wait_for_selector("#done")
    assert page.inner_text("#active").strip() == "Deactivated"
    audit.check(page, "person-deactivated", "Rhona Reviewer")
    # Her reviews went to the reviewer just added (Ravi has both ideas already), and each idea records it.
    assert scene.tasks(waiting) == {scene.ids["rhona"]: "replaced", scene.ids["ravi"]: "open", rory: "open"}
    assert "review_handed_over" in scene.actions(waiting)
    context.close()


def _without_javascript(chromium: Any, base: str, scene: Scene) -> None:
    """The same pages with JavaScript off: every filter, form and button is plain HTML."""
    context = signed_in_context(chromium, base, scene.session_cookie("alex"), java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    failure_id, _ = scene.failed("Print fewer letters", LONG_ERROR)

    page.goto(f"{base}/admin/failures")
    page.select_option("#consumer", "review.screen_idea")
    page.click("button:has-text('Show messages')")
    page.wait_for_url(re.compile(r"consumer=review.screen_idea"))
    page.locator(f"#failure-{failure_id} summary").click()  # <details> opens without a script
    assert page.is_visible(f"#failure-{failure_id} .govuk-details__text")
    page.click(f"a[href='/admin/failures/{failure_id}']")
    page.fill("#reason", "A duplicate of an idea already in review.")
    page.click("#discard")
    page.wait_for_selector("#done")
    assert "discarded" in page.inner_text("#done")

    page.goto(f"{base}/admin/people")
    page.fill("#q", "rhona")
    page.select_option("#filter-active", "no")
    page.click("button:has-text('Find people')")
    page.wait_for_url(re.compile(r"active=no"))
    page.click("a:has-text('Rhona Reviewer')")
    page.click("#reactivate")
    page.wait_for_selector("#done")
    assert page.inner_text("#active").strip() == "Active"
    assert scene.scalar(select(Person.active).where(Person.id == scene.ids["rhona"])) is True
    context.close()
