"""The console's failures and people pages, through the real app and a signed-in administrator's browser on each
stack: the lists filtered and paginated; a failed message retried (handled once) or discarded (with a reason);
a failed notification resent; a person added, changed, deactivated (their work handed on, and recorded) and
reactivated (and deactivated by `ideahub users deactivate`); every refusal shown with nothing changed, and a
hostile name shown as text on every page.

Who may open these pages is in test_access.py; the functions behind them are tested in test_failures.py and
test_console.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from infra import people
from infra.app import create_app
from infra.composition import Runtime
from infra.console import actions
from infra.signin import use_link
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.notify.handlers import handle_event, notifier_for
from services.review import actors as review_actors
from shared.bus.exactly_once import record_failure
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import FailedMessage, Idea, Notification, OutboxMessage, Person, ReviewTask, SignInLink
from shared.db.uow import unit_of_work
from shared.principal import Principal
from shared.worker.declare import StageContext
from shared.worker.stage import run_handler
from tests.conftest import Stack
from tests.integration.sponsor_world import Browser, words

HOSTILE = "<script>alert('x')</script>"


@dataclass
class World:
    settings: Settings
    runtime: Runtime
    app: FastAPI
    admin: Principal
    tag: str

    @property
    def factory(self) -> Any:
        return self.runtime.session_factory

    def browser(self, person_id: int | None = None) -> Browser:
        """A browser signed in as the administrator, or as the person given."""
        link_id = uuid.uuid4()
        with unit_of_work(self.factory) as session:
            who = person_id or self.admin.id
            session.add(SignInLink(id=link_id, person_id=who, expires_at=utcnow() + timedelta(minutes=5)))
        with unit_of_work(self.factory) as session:
            cookie = use_link(session, link_id, hours=1, now=utcnow())
        assert cookie is not None
        return Browser(self.app, cookie)

    def scalar(self, statement: Any) -> Any:
        with unit_of_work(self.factory) as session:
            return session.scalar(statement)

    def idea(self, title: str | None = None) -> dict[str, Any]:
        """A new idea's idea.received payload, as the relay would deliver it."""
        body = Submission(
            title=title or f"Console page idea {uuid.uuid4().hex[:6]}",
            problem="Forms are printed and scanned.",
            idea="Let people fill the form in online.",
            department="Housing",
            email="sam.pages@example.gov.uk",
        )
        with unit_of_work(self.factory) as session:
            created = submit_idea(session, body, channel="api", departments=self.settings.departments)
            payload = session.scalar(select(OutboxMessage.payload).where(OutboxMessage.idea_id == created.id))
        return dict(json.loads(str(payload)))

    def failure(self, payload: dict[str, Any], error: str, consumer: str = "review.screen_idea") -> int:
        """A message its consumer gave up on, as after dramatiq's last retry."""
        record_failure(self.factory, consumer, payload, error)
        found = self.scalar(select(FailedMessage.id).where(FailedMessage.event_id == uuid.UUID(payload["event_id"])))
        assert found is not None
        return int(found)

    def failure_row(self, failure_id: int) -> FailedMessage:
        with unit_of_work(self.factory) as session:
            row = session.get(FailedMessage, failure_id)
            assert row is not None
            session.expunge(row)
        return row

    def person(self, name: str, role: str, **fields: Any) -> tuple[int, str]:
        email = f"pages.{uuid.uuid4().hex[:8]}@example.gov.uk"
        return people.add(self.settings, email=email, name=name, role=role, **fields), email

    def actions(self, idea_id: int) -> list[dict[str, Any]]:
        with unit_of_work(self.factory) as session:
            rows = session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == "admin.action_taken.v1")
                .order_by(OutboxMessage.id)
            ).all()
        return [json.loads(row) for row in rows]

    def tasks(self, idea_id: int) -> list[tuple[int, str]]:
        """(reviewer id, state) of each review task of the idea, in the order made."""
        with unit_of_work(self.factory) as session:
            rows = session.execute(
                select(ReviewTask.reviewer_id, ReviewTask.state)
                .where(ReviewTask.idea_id == idea_id)
                .order_by(ReviewTask.id)
            ).all()
        return [(row.reviewer_id, str(row.state)) for row in rows]


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    settings = stack.settings(api_rate_limit="0/minute", reviewers_per_idea=1)
    email = "pages.console.admin@example.gov.uk"
    admin = Principal(
        people.add(settings, email=email, name="Ada Console", role="admin"), email, "Ada Console", "admin"
    )
    # Someone free to take over a leaver's reviews.
    people.add(settings, email="pages.rest@example.gov.uk", name="Rita Rest", role="reviewer", capacity=100)
    runtime = Runtime(settings)
    try:
        yield World(settings, runtime, create_app(settings, runtime), admin, uuid.uuid4().hex[:6])
    finally:
        runtime.close()


# --- failed messages ------------------------------------------------------------------------------------------------


def test_failed_messages_are_listed_newest_first_filtered_by_state_and_consumer_and_a_page_at_a_time(
    world: World,
) -> None:
    long_error = "OperationalError: the database went away " + "while it was being asked something " * 5
    made = [world.failure(world.idea(), long_error) for _ in range(3)]
    other = world.failure(world.idea(), "KeyError: 'sponsor'", consumer="matching.start_matching")
    browser = world.browser()

    page = browser.get("/admin/failures?consumer=review.screen_idea&per_page=2")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    ids = [f'id="failure-{n}"' for n in (made[2], made[1])]
    assert all(i in page.text for i in ids)
    assert f'id="failure-{made[0]}"' not in page.text
    assert page.text.index(ids[0]) < page.text.index(ids[1])  # newest first
    assert f'id="failure-{other}"' not in page.text
    assert 'rel="next"' in page.text
    assert "consumer=review.screen_idea" in page.text  # the next page keeps the filter
    text = words(page)
    assert "idea.received.v1" in text
    assert "OperationalError: the database went away while it was being asked" in text  # shortened...
    assert "Full error" in text  # ... and whole behind "Full error"
    row = world.failure_row(made[2])
    reference = json.loads(row.payload)["idea_reference"]
    assert f'href="/admin/ideas/{reference}"' in page.text
    assert f'href="/admin/failures/{made[2]}"' in page.text

    second = browser.get("/admin/failures?consumer=review.screen_idea&per_page=2&page=2")
    assert f'id="failure-{made[0]}"' in second.text
    assert 'rel="prev"' in second.text

    # Dealt with, it leaves the open list for the resolved one.
    discarded = browser.post(f"/admin/failures/{made[0]}/discard", {"reason": "A test message"})
    assert discarded.status_code == 303
    opened = browser.get("/admin/failures?per_page=100")
    assert f'id="failure-{made[0]}"' not in opened.text
    assert f'id="failure-{other}"' in opened.text
    resolved = browser.get("/admin/failures?state=resolved&per_page=100")
    assert f'id="failure-{made[0]}"' in resolved.text
    assert f'id="failure-{other}"' not in resolved.text
    assert "Discarded" in words(resolved)
    everything = browser.get("/admin/failures?state=all&per_page=100")
    assert all(f'id="failure-{n}"' in everything.text for n in (*made, other))

    assert browser.get("/admin/failures?state=sideways").status_code == 404
    assert browser.get("/admin/failures?consumer=%00").status_code == 404  # never searched for: refused
    empty = browser.get("/admin/failures?consumer=no.such.consumer")
    assert "No messages are waiting for you" in words(empty)


def test_a_failed_message_is_retried_from_its_page_and_handled_once(world: World) -> None:
    payload = world.idea()
    failure_id = world.failure(payload, "OperationalError: the database went away")
    browser = world.browser()
    page = browser.get(f"/admin/failures/{failure_id}")
    assert page.status_code == 200
    assert f'action="/admin/failures/{failure_id}/retry"' in page.text
    assert f'action="/admin/failures/{failure_id}/discard"' in page.text
    assert "OperationalError: the database went away" in words(page)

    retried = browser.post(f"/admin/failures/{failure_id}/retry")
    assert (retried.status_code, retried.headers["location"]) == (303, f"/admin/failures/{failure_id}?done=handled")
    assert world.scalar(select(Idea.status).where(Idea.id == payload["idea_id"])) == "in_review"
    screened = world.tasks(payload["idea_id"])
    assert len(screened) == 1
    shown = browser.get(retried.headers["location"])
    assert "The message was handled" in words(shown)
    assert "Retried" in words(shown)
    assert f'action="/admin/failures/{failure_id}/retry"' not in shown.text  # nothing more to do

    again = browser.post(f"/admin/failures/{failure_id}/retry")
    assert again.status_code == 409
    assert "retried already" in words(again)
    assert world.tasks(payload["idea_id"]) == screened  # handled once
    # A redelivery of the event by the broker changes nothing either.
    run_handler(review_actors.screen_idea, world.factory, StageContext(world.settings), payload)
    assert world.tasks(payload["idea_id"]) == screened
    assert [a["action"] for a in world.actions(payload["idea_id"])] == ["failure_retried"]


def test_a_retry_that_fails_again_leads_to_the_new_failure_with_its_error(world: World) -> None:
    payload = world.idea() | {"idea_id": 987_654_321}  # no such idea: refused whenever it is handled
    failure_id = world.failure(payload, "the first error")
    browser = world.browser()
    retried = browser.post(f"/admin/failures/{failure_id}/retry")
    assert retried.status_code == 303
    location = retried.headers["location"]
    assert location.endswith("?done=failed_again")
    assert not location.startswith(f"/admin/failures/{failure_id}?")
    shown = browser.get(location)
    text = words(shown)
    assert "The message failed again" in text
    assert "987654321" in text  # the new error, which names the idea that is not there
    assert world.failure_row(failure_id).resolution == "retried"


def test_discarding_needs_a_reason_and_without_one_changes_nothing(world: World) -> None:
    payload = world.idea()
    failure_id = world.failure(payload, "boom")
    browser = world.browser()
    for reason, message in (
        ("   ", "Enter why you are discarding this message"),
        ("No\x00reason", "Remove the control characters (such as NUL)"),
        ("x" * 2001, "The reason must be 2,000 characters or fewer"),
    ):
        refused = browser.post(f"/admin/failures/{failure_id}/discard", {"reason": reason})
        assert refused.status_code == 422
        assert "There is a problem" in words(refused)
        assert f'<a href="#reason">{message}' in refused.text
        assert world.failure_row(failure_id).resolved_at is None
    kept = browser.post(f"/admin/failures/{failure_id}/discard", {"reason": "  "})
    assert kept.status_code == 422
    assert world.actions(payload["idea_id"]) == []

    discarded = browser.post(f"/admin/failures/{failure_id}/discard", {"reason": "A test idea"})
    assert (discarded.status_code, discarded.headers["location"]) == (
        303,
        f"/admin/failures/{failure_id}?done=discarded",
    )
    row = world.failure_row(failure_id)
    assert (row.resolution, row.resolution_reason, row.resolved_by) == ("discarded", "A test idea", world.admin.email)
    shown = words(browser.get(discarded.headers["location"]))
    assert "The message was discarded" in shown
    assert "A test idea" in shown
    assert [a["action"] for a in world.actions(payload["idea_id"])] == ["failure_discarded"]
    twice = browser.post(f"/admin/failures/{failure_id}/discard", {"reason": "Again"})
    assert twice.status_code == 409
    assert "discarded already" in words(twice)
    assert world.scalar(select(Idea.status).where(Idea.id == payload["idea_id"])) == "received"  # never handled


def test_a_message_that_is_not_an_event_can_only_be_discarded(world: World) -> None:
    record_failure(world.factory, "review.screen_idea", ["not", "an", "event"], "malformed event")
    failure_id = int(world.scalar(select(FailedMessage.id).order_by(FailedMessage.id.desc()).limit(1)))
    browser = world.browser()
    page = browser.get(f"/admin/failures/{failure_id}")
    assert "you can only discard it" in words(page)
    refused = browser.post(f"/admin/failures/{failure_id}/retry")
    assert refused.status_code == 409
    assert "discard it instead" in words(refused)
    assert world.failure_row(failure_id).resolved_at is None
    assert browser.get("/admin/failures/987654321").status_code == 404


# --- failed notifications -------------------------------------------------------------------------------------------


def failed_notifications(world: World, count: int) -> list[int]:
    """Acknowledgements to submitters that failed for good (as the worker leaves them after the last attempt)."""
    notifier = notifier_for(world.settings, world.factory)
    made = []
    for _ in range(count):
        payload = world.idea()
        handle_event(notifier, payload)
        with unit_of_work(world.factory) as session:
            notification_id = session.scalar(
                select(Notification.id).where(Notification.idea_id == payload["idea_id"]).order_by(Notification.id)
            )
            assert notification_id is not None
            session.execute(
                update(Notification)
                .where(Notification.id == notification_id)
                .values(state="failed", attempts=8, error=f"550 mailbox unavailable {HOSTILE}")
            )
        made.append(int(notification_id))
    return made


def test_failed_notifications_are_listed_a_page_at_a_time_and_resent(world: World) -> None:
    first, second, third = failed_notifications(world, 3)
    browser = world.browser()
    page = browser.get("/admin/failures/notifications?per_page=2")
    assert page.status_code == 200
    # Oldest first; this module's notifications are the only failed ones.
    assert f'id="notification-{first}"' in page.text
    assert f'id="notification-{second}"' in page.text
    assert f'id="notification-{third}"' not in page.text
    assert 'rel="next"' in page.text
    assert "550 mailbox unavailable" in words(page)
    later = browser.get("/admin/failures/notifications?per_page=2&page=2")
    assert f'id="notification-{third}"' in later.text
    assert f'id="notification-{third}"' not in browser.get("/admin/failures/notifications?state=unconfirmed").text

    resent = browser.post(f"/admin/failures/notifications/{second}/resend", {"state": "failed", "page": "1"})
    assert (resent.status_code, resent.headers["location"]) == (
        303,
        "/admin/failures/notifications?done=resent&page=1&state=failed",
    )
    with unit_of_work(world.factory) as session:
        row = session.get(Notification, second)
        assert row is not None
        assert (row.state, row.attempts) == ("pending", 0)
    shown = browser.get(resent.headers["location"])
    assert "The notification is back in line" in words(shown)
    assert f'id="notification-{second}"' not in shown.text

    again = browser.post(f"/admin/failures/notifications/{second}/resend")
    assert again.status_code == 409
    assert "only failed or unconfirmed ones can be resent" in words(again)
    assert browser.post("/admin/failures/notifications/987654321/resend").status_code == 404


# --- people ---------------------------------------------------------------------------------------------------------


def test_people_are_listed_filtered_by_role_activity_and_words_a_page_at_a_time(world: World) -> None:
    department = f"Pager {world.tag}"
    made = [
        world.person(f"Pager{n} {world.tag}", "sponsor", department=department, interests="budgets", capacity=2)[0]
        for n in range(3)
    ]
    reviewer, _ = world.person(f"Pager reviewer {world.tag}", "reviewer", department=department)
    browser = world.browser()
    page = browser.get(f"/admin/people?role=sponsor&q=PAGER+{world.tag}&per_page=2")
    assert page.status_code == 200
    assert [f'id="person-{n}"' in page.text for n in made] == [True, True, False]
    assert f'id="person-{reviewer}"' not in page.text
    assert 'rel="next"' in page.text
    text = words(page)
    for shown in ("Sponsor", department, "budgets", "0 incubations", "Never", "Active"):
        assert shown in text, shown
    assert 'value="sponsor" selected' in page.text  # the filter shows what was chosen
    later = browser.get(f"/admin/people?role=sponsor&q=pager+{world.tag}&per_page=2&page=2")
    assert f'id="person-{made[2]}"' in later.text

    with unit_of_work(world.factory) as session:
        session.execute(update(Person).where(Person.id == made[0]).values(active=False))
    gone = browser.get(f"/admin/people?active=no&q={world.tag}")
    assert f'id="person-{made[0]}"' in gone.text
    assert f'id="person-{made[1]}"' not in gone.text
    assert "Deactivated" in words(gone)
    nobody = browser.get("/admin/people?q=nobody-has-this-name")
    assert "Nobody matches what you chose" in words(nobody)
    assert "ideahub import people FILE.csv" in words(browser.get("/admin/people"))
    assert browser.get("/admin/people?role=submitter").status_code == 404
    assert browser.get("/admin/people?q=%00").status_code == 404  # never stored or searched: refused as a page is


def test_a_person_is_added_and_a_bad_or_taken_address_is_refused_with_what_was_typed_kept(world: World) -> None:
    browser = world.browser()
    assert 'value="3"' in browser.get("/admin/people/new").text  # a sponsor's usual capacity
    email = f"pages.new.{world.tag}@example.gov.uk"
    form = {
        "email": "not-an-address",
        "name": "Nina New",
        "role": "sponsor",
        "department": "Housing",
        "themes": "Environment",
        "interests": "parks and trees",
        "capacity": "4",
    }
    bad = browser.post("/admin/people/new", form)
    assert bad.status_code == 422
    assert '<a href="#email">Enter an email address in the correct format, like name@example.gov.uk' in bad.text
    assert 'value="Nina New"' in bad.text
    assert "parks and trees" in bad.text
    assert 'value="sponsor" aria-describedby="role-sponsor-hint" checked' in bad.text

    missing = browser.post("/admin/people/new", {"email": "", "name": " ", "role": "", "capacity": "lots"})
    assert missing.status_code == 422
    start = missing.text.index("govuk-error-summary__list")
    summary = missing.text[start : missing.text.index("</ul>", start)]
    for message in (
        "Enter their email address",
        "Enter their full name",
        "Select their role",
        "Capacity must be a whole number, like 3",
    ):
        assert message in summary, message
    assert summary.index("Enter their email address") < summary.index("Select their role")  # the page's order
    other = browser.post("/admin/people/new", form | {"email": email, "department": "Not a department"})
    assert other.status_code == 422
    assert "Select a department from the list" in words(other)
    assert world.scalar(select(Person.id).where(Person.email == email)) is None

    added = browser.post("/admin/people/new", form | {"email": email.upper()})
    assert added.status_code == 303
    person_id = world.scalar(select(Person.id).where(Person.email == email))
    assert added.headers["location"] == f"/admin/people/{person_id}?done=added"
    shown = words(browser.get(added.headers["location"]))
    assert "They have been added" in shown
    assert "Nina New" in shown

    taken = browser.post("/admin/people/new", form | {"email": email, "name": "Nina Again"})
    assert taken.status_code == 422
    assert "Someone with this email address is already registered" in words(taken)
    assert world.scalar(select(Person.name).where(Person.email == email)) == "Nina New"


def test_a_person_s_details_are_changed_on_their_page_and_a_busy_reviewer_keeps_their_role(world: World) -> None:
    person_id, _ = world.person("Chris Changer", "sponsor", department="Housing", interests="parks", capacity=3)
    browser = world.browser()
    page = browser.get(f"/admin/people/{person_id}")
    assert page.status_code == 200
    assert 'value="Chris Changer"' in page.text
    assert '<option value="Housing" selected>' in page.text
    form = {"name": "Chris Changed", "role": "sponsor", "department": "", "themes": "", "interests": "parks"}

    bad = browser.post(f"/admin/people/{person_id}", form | {"capacity": "lots"})
    assert bad.status_code == 422
    assert "Capacity must be a whole number, like 3" in words(bad)
    assert 'value="Chris Changed"' in bad.text  # what was typed is kept
    negative = browser.post(f"/admin/people/{person_id}", form | {"capacity": "-1"})
    assert "Capacity must be between 0 and 1,000" in words(negative)
    assert world.scalar(select(Person.name).where(Person.id == person_id)) == "Chris Changer"

    changed = browser.post(f"/admin/people/{person_id}", form | {"capacity": "7"})
    assert (changed.status_code, changed.headers["location"]) == (303, f"/admin/people/{person_id}?done=changed")
    with unit_of_work(world.factory) as session:
        person = session.get(Person, person_id)
        assert person is not None
        assert (person.name, person.capacity, person.department, person.interests) == (
            "Chris Changed",
            7,
            None,
            "parks",
        )
    assert "Their details have been saved" in words(browser.get(changed.headers["location"]))

    # A reviewer with a review waiting is not made a sponsor behind its back.
    reviewer_id, reviewer_email = world.person("Busy Reviewer", "reviewer")
    idea_id = waiting_review(world, reviewer_email)
    moved = browser.post(f"/admin/people/{reviewer_id}", {"name": "Busy Reviewer", "role": "sponsor", "capacity": "3"})
    assert moved.status_code == 409
    assert "has work in hand" in words(moved)
    assert world.scalar(select(Person.role).where(Person.id == reviewer_id)) == "reviewer"
    assert (reviewer_id, "open") in world.tasks(idea_id)


def waiting_review(world: World, reviewer_email: str) -> int:
    """An idea screened by the review worker's code, and given to this reviewer too if screening did not: its id."""
    payload = world.idea()
    run_handler(review_actors.screen_idea, world.factory, StageContext(world.settings), payload)
    reviewer_id = world.scalar(select(Person.id).where(Person.email == reviewer_email))
    if (reviewer_id, "open") in world.tasks(payload["idea_id"]):
        return int(payload["idea_id"])
    with unit_of_work(world.factory) as session:
        actions.add_reviewer(
            session,
            payload["idea_reference"],
            actions.AddReviewerIn(reviewer_email=reviewer_email, reason="Knows the forms"),
            admin=world.admin,
            settings=world.settings,
        )
    return int(payload["idea_id"])


def test_deactivating_a_reviewer_asks_why_revokes_their_access_and_hands_their_review_on(world: World) -> None:
    leaver_id, leaver_email = world.person("Lee Leaver", "reviewer")
    token = people.new_api_token(world.settings, leaver_email)
    idea_id = waiting_review(world, leaver_email)
    browser = world.browser()
    leaver_browser = world.browser(leaver_id)
    assert leaver_browser.get("/reviews").status_code == 200

    person = browser.get(f"/admin/people/{leaver_id}")
    assert "1 review waiting" in words(person)
    assert f'href="/admin/people/{leaver_id}/deactivate"' in person.text
    confirm = browser.get(f"/admin/people/{leaver_id}/deactivate")
    assert confirm.status_code == 200
    text = words(confirm)
    assert "Are you sure you want to deactivate Lee Leaver?" in text
    assert "their sign-in and API tokens stop working" in text
    assert "their waiting review goes to another reviewer" in text
    assert "lapses and goes to the next sponsor" in text

    refused = browser.post(f"/admin/people/{leaver_id}/deactivate", {"reason": " "})
    assert refused.status_code == 422
    assert '<a href="#reason">Enter why you are deactivating them' in refused.text
    assert world.scalar(select(Person.active).where(Person.id == leaver_id)) is True
    assert (leaver_id, "open") in world.tasks(idea_id)

    gone = browser.post(f"/admin/people/{leaver_id}/deactivate", {"reason": "Left the team"})
    assert (gone.status_code, gone.headers["location"]) == (303, f"/admin/people/{leaver_id}?done=deactivated")
    assert world.scalar(select(Person.active).where(Person.id == leaver_id)) is False
    tasks = world.tasks(idea_id)
    assert (leaver_id, "replaced") in tasks
    assert any(reviewer != leaver_id and state == "open" for reviewer, state in tasks[1:])  # handed on
    (handed,) = [a for a in world.actions(idea_id) if a["action"] == "review_handed_over"]
    assert (handed["by_name"], handed["reason"], handed["detail"]["reviewer_from"]) == (
        "Ada Console",
        "Left the team",
        "Lee Leaver",
    )
    # Every way in is gone: the browser session, the API token.
    assert leaver_browser.get("/reviews").status_code == 303
    api = leaver_browser.client.get("/api/v1/reviews/tasks", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401

    shown = words(browser.get(gone.headers["location"]))
    assert "They have been deactivated" in shown
    assert "Deactivated" in shown
    assert "Reactivate Lee Leaver" in shown
    twice = browser.post(f"/admin/people/{leaver_id}/deactivate", {"reason": "Again"})
    assert twice.status_code == 409
    assert "deactivated already" in words(twice)

    back = browser.post(f"/admin/people/{leaver_id}/reactivate")
    assert (back.status_code, back.headers["location"]) == (303, f"/admin/people/{leaver_id}?done=reactivated")
    assert world.scalar(select(Person.active).where(Person.id == leaver_id)) is True
    assert (leaver_id, "replaced") in world.tasks(idea_id)  # the work handed on stays handed on


def test_an_administrator_cannot_deactivate_themselves(world: World) -> None:
    browser = world.browser()
    mine = browser.get(f"/admin/people/{world.admin.id}")
    assert "You cannot deactivate yourself" in words(mine)
    assert f'href="/admin/people/{world.admin.id}/deactivate"' not in mine.text
    assert "You cannot deactivate yourself" in words(browser.get(f"/admin/people/{world.admin.id}/deactivate"))
    refused = browser.post(f"/admin/people/{world.admin.id}/deactivate", {"reason": "Testing"})
    assert refused.status_code == 409
    assert "ask another administrator" in words(refused)
    assert world.scalar(select(Person.active).where(Person.id == world.admin.id)) is True


def test_the_command_line_deactivates_a_person_with_a_reason_and_hands_their_review_on(
    world: World, stack: Stack
) -> None:
    from typer.testing import CliRunner

    from infra.cli import app

    leaver_id, leaver_email = world.person("Cleo Command", "reviewer")
    idea_id = waiting_review(world, leaver_email)
    env = {k: v for k, v in stack.env.items() if k.startswith("IDEAHUB_")} | {"COLUMNS": "160"}
    runner = CliRunner()
    refused = runner.invoke(app, ["users", "deactivate", leaver_email, "--reason", " "], env=env)
    assert refused.exit_code == 2
    assert "Say why" in refused.output
    assert world.scalar(select(Person.active).where(Person.id == leaver_id)) is True

    done = runner.invoke(app, ["users", "deactivate", leaver_email.upper(), "--reason", "Left the team"], env=env)
    assert done.exit_code == 0, done.output
    assert "Deactivated Cleo Command" in done.stdout
    assert "1 waiting review(s) handed on" in done.stdout
    assert world.scalar(select(Person.active).where(Person.id == leaver_id)) is False
    assert (leaver_id, "replaced") in world.tasks(idea_id)
    (handed,) = [a for a in world.actions(idea_id) if a["action"] == "review_handed_over"]
    assert handed["by_name"].endswith("(command line)")
    assert handed["reason"] == "Left the team"

    again = runner.invoke(app, ["users", "deactivate", leaver_email, "--reason", "Again"], env=env)
    assert again.exit_code == 2
    assert "deactivated already" in again.output
    unknown = runner.invoke(app, ["users", "deactivate", "nobody@example.gov.uk", "--reason", "Gone"], env=env)
    assert unknown.exit_code == 2
    assert "nobody is registered as nobody@example.gov.uk" in unknown.output


# --- hostile text ---------------------------------------------------------------------------------------------------


def test_every_page_shows_a_hostile_name_and_error_as_text(world: World) -> None:
    person_id, _ = world.person(HOSTILE, "sponsor", themes=HOSTILE, interests=HOSTILE, department=HOSTILE)
    payload = world.idea(title=HOSTILE)
    failure_id = world.failure(payload, f"ValueError: {HOSTILE}", consumer=f"review.{HOSTILE}")
    failed_notifications(world, 1)
    browser = world.browser()
    pages = [
        browser.get(f"/admin/people?q={HOSTILE}"),
        browser.get(f"/admin/people/{person_id}"),
        browser.get(f"/admin/people/{person_id}/deactivate"),
        browser.post(f"/admin/people/{person_id}", {"name": HOSTILE, "role": "sponsor", "capacity": "x"}),
        browser.post("/admin/people/new", {"email": HOSTILE, "name": HOSTILE, "role": "sponsor", "capacity": "3"}),
        browser.get(f"/admin/failures?state=all&consumer=review.{HOSTILE}"),
        browser.get(f"/admin/failures/{failure_id}"),
        browser.post(f"/admin/failures/{failure_id}/discard", {"reason": ""}),
        browser.get("/admin/failures/notifications?per_page=100"),
    ]
    for page in pages:
        assert page.status_code in (200, 422), (page.url, page.status_code)
        assert "<script>alert" not in page.text, page.url
        assert "&lt;script&gt;alert" in page.text, page.url


def test_the_pages_are_for_administrators_only(world: World) -> None:
    reviewer_id, _ = world.person("Rhoda Reader", "reviewer")
    browser = world.browser(reviewer_id)
    for path in ("/admin/failures", "/admin/failures/notifications", "/admin/people", "/admin/people/new"):
        page = browser.get(path)
        assert page.status_code == 403, path
        assert "It is for administrators" in words(page)
