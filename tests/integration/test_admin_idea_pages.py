"""The console's ideas pages on each stack: /admin/ideas finds ideas with a GET form, and /admin/ideas/{reference}
shows one in full (the only page showing an anonymous submitter) with the actions that unblock it, each recorded
on its timeline with the administrator's name and reason. Bad input gets the page again with what is wrong, and
changes nothing.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from infra import people
from services.intake import handlers as intake
from services.intake.schemas import Submission
from shared import lifecycle
from shared.clock import utcnow
from shared.db.models import Idea, Notification, OutboxMessage, Review, ReviewTask
from shared.db.uow import unit_of_work
from tests.conftest import Stack
from tests.integration.sponsor_world import World, words, world_on


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    yield from world_on(stack)


@pytest.fixture(scope="module")
def other_reviewer(world: World) -> str:
    email = "pages.other.reviewer@example.gov.uk"
    people.add(world.settings, email=email, name="Omar Other", role="reviewer", department="Housing")
    return email


def in_review(world: World, *, title: str = "Fewer paper forms", anonymous: bool = False) -> tuple[int, str, int]:
    """A new idea in review with one waiting task for the world's reviewer: (idea id, reference, task id)."""
    body = Submission(
        title=f"{title} {uuid.uuid4().hex[:6]}",
        problem="Forms are printed,\nsigned and scanned.",
        idea="Let people fill the form in online.",
        department="Housing",
        name="Nadia Nurse",
        email="nadia.nurse@example.gov.uk",
        anonymous=anonymous,
    )
    with unit_of_work(world.factory) as session:
        idea = intake.submit_idea(session, body, channel="web", departments=world.settings.departments)
        lifecycle.transition(session, lifecycle.load(session, idea.id), lifecycle.Status.IN_REVIEW, actor="test")
        task = ReviewTask(idea_id=idea.id, reviewer_id=world.who["reviewer"].id, due_at=utcnow() + timedelta(days=3))
        session.add(task)
        session.flush()
        return idea.id, idea.reference, task.id


def actions_of(world: World, idea_id: int) -> list[str]:
    with unit_of_work(world.factory) as session:
        rows = session.scalars(
            select(OutboxMessage.payload)
            .where(OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == "admin.action_taken.v1")
            .order_by(OutboxMessage.id)
        ).all()
    return [json.loads(row)["action"] for row in rows]


# --- finding ideas --------------------------------------------------------------------------------------------------


def test_the_ideas_page_finds_ideas_by_words_and_status_and_links_each(world: World) -> None:
    _, reference, _ = in_review(world, title="Zebra crossings near schools")
    admin = world.browser("admin")
    page = admin.get("/admin/ideas?q=zebra&status=in_review")
    assert page.status_code == 200
    assert f'href="/admin/ideas/{reference}"' in page.text
    assert "Zebra crossings near schools" in words(page)
    assert re.search(r'id="status-in_review"[^>]*checked', page.text)  # the filter is shown as applied
    none = admin.get("/admin/ideas?q=zebra&status=implemented")
    assert "No ideas match" in words(none)


def test_the_ideas_page_is_paged_and_keeps_its_filters(world: World) -> None:
    tag = uuid.uuid4().hex[:8]
    for n in range(3):
        in_review(world, title=f"Pager{tag} {n}")
    admin = world.browser("admin")
    first = admin.get(f"/admin/ideas?q=pager{tag}&per_page=2")
    assert first.text.count(f"Pager{tag}") >= 2
    match = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert match
    assert f"q=pager{tag}" in match[1]
    second = admin.get(match[1].replace("&amp;", "&"))
    assert second.status_code == 200
    assert 'rel="next"' not in second.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=pending", "status"),
        ("department=Atlantis", "department"),
        ("channel=fax", "channel"),
        ("sort=random", "sort"),
        ("from-day=31&from-month=2&from-year=2026", "from-day"),
        ("from-day=2&from-month=3&from-year=2026&to-day=1&to-month=3&to-year=2026", "to-day"),
        ("q=bad%00word", "q"),
        ("q=" + "x" * 201, "q"),
    ],
)
def test_a_bad_filter_shows_the_page_with_what_is_wrong(world: World, query: str, field: str) -> None:
    page = world.browser("admin").get(f"/admin/ideas?{query}")
    assert page.status_code == 400
    assert "There is a problem" in page.text
    assert f'href="#{field}"' in page.text
    assert 'id="ideas"' not in page.text


def test_only_administrators_see_the_console(world: World) -> None:
    _, reference, _ = in_review(world)
    for key in ("reviewer", "parks"):
        for path in ("/admin/ideas", f"/admin/ideas/{reference}"):
            answer = world.browser(key).get(path)
            assert answer.status_code == 403, (key, path)
            assert "It is for administrators" in answer.text


# --- one idea -------------------------------------------------------------------------------------------------------


def test_an_idea_s_page_shows_everything_including_the_anonymous_submitter_and_private_notes(world: World) -> None:
    idea_id, reference, task_id = in_review(world, anonymous=True)
    with unit_of_work(world.factory) as session:
        session.execute(update(ReviewTask).where(ReviewTask.id == task_id).values(state="done"))
        session.add(
            Review(
                task_id=task_id,
                idea_id=idea_id,
                impact=4,
                feasibility=3,
                cost=5,
                evidence=2,
                recommendation="accept",
                comment="Worth a pilot.",
                private_note="The team lead is sceptical.",
            )
        )
    page = world.browser("admin").get(f"/admin/ideas/{reference}")
    assert page.status_code == 200
    text = words(page)
    assert "Nadia Nurse, nadia.nurse@example.gov.uk" in text
    assert "Anonymous" in text
    assert "only administrators see who sent it" in text
    assert "Forms are printed,<br>signed and scanned." in page.text  # line breaks kept, the text escaped
    assert "The team lead is sceptical." in text
    assert "Rhona Reviewer" in text
    assert "idea.received.v1" in text  # the timeline
    assert page.headers["cache-control"] == "no-store"


def test_an_idea_s_page_escapes_what_people_wrote(world: World) -> None:
    _, reference, _ = in_review(world, title='<script>alert("x")</script>')
    page = world.browser("admin").get(f"/admin/ideas/{reference}")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert" in page.text


def test_an_unknown_or_malformed_reference_is_a_404_page(world: World) -> None:
    admin = world.browser("admin")
    for path in ("/admin/ideas/IH-1999-000001", "/admin/ideas/nonsense", "/admin/ideas/IH-2026-000001%00"):
        answer = admin.get(path)
        assert answer.status_code == 404, path
        assert "Page not found" in answer.text


def test_the_timeline_is_paged(world: World) -> None:
    idea_id, reference, _ = in_review(world)
    with unit_of_work(world.factory) as session:
        events = session.scalar(select(func.count()).where(OutboxMessage.idea_id == idea_id))
    admin = world.browser("admin")
    first = admin.get(f"/admin/ideas/{reference}?per_page=1")
    assert first.text.count("<code>") == 1
    assert events is not None
    assert events >= 2
    assert 'rel="next"' in first.text
    last = admin.get(f"/admin/ideas/{reference}?per_page=1&page={events}")
    assert last.text.count("<code>") == 1
    assert 'rel="next"' not in last.text


def test_a_review_is_given_to_another_reviewer_from_the_page_and_recorded(world: World, other_reviewer: str) -> None:
    idea_id, reference, task_id = in_review(world)
    admin = world.browser("admin")
    page = admin.get(f"/admin/ideas/{reference}")
    assert f'<option value="{task_id}">' in page.text
    assert f'<option value="{other_reviewer}">' in page.text
    refused = admin.post(
        f"/admin/ideas/{reference}/reassign", {"task_id": str(task_id), "reviewer_email": other_reviewer, "reason": ""}
    )
    assert refused.status_code == 422
    assert 'href="#reason"' in refused.text
    assert re.search(r'<details class="govuk-details" id="reassign" open', refused.text)
    assert actions_of(world, idea_id) == []
    done = admin.post(
        f"/admin/ideas/{reference}/reassign",
        {"task_id": str(task_id), "reviewer_email": other_reviewer, "reason": "Rhona is on leave"},
    )
    assert (done.status_code, done.headers["location"]) == (303, f"/admin/ideas/{reference}?done=reassigned#top")
    after = admin.get(done.headers["location"])
    assert "The review has been given to the reviewer you chose" in words(after)
    assert "Omar Other" in words(after)
    assert actions_of(world, idea_id) == ["review_reassigned"]
    again = admin.post(
        f"/admin/ideas/{reference}/reassign",
        {"task_id": str(task_id), "reviewer_email": other_reviewer, "reason": "Again"},
    )
    assert again.status_code == 409
    assert "Nothing has been changed" in words(again)


def test_a_reviewer_is_added_from_the_page(world: World, other_reviewer: str) -> None:
    idea_id, reference, _ = in_review(world)
    admin = world.browser("admin")
    missing = admin.post(f"/admin/ideas/{reference}/reviewers", {"reviewer_email": "", "reason": "Second view"})
    assert missing.status_code == 422
    assert "Choose a reviewer" in missing.text
    done = admin.post(
        f"/admin/ideas/{reference}/reviewers", {"reviewer_email": other_reviewer, "reason": "A second view"}
    )
    assert done.status_code == 303
    assert actions_of(world, idea_id) == ["reviewer_added"]


def test_an_idea_is_marked_a_duplicate_from_the_page(world: World) -> None:
    _, original, _ = in_review(world)
    idea_id, reference, _ = in_review(world)
    admin = world.browser("admin")
    unknown = admin.post(f"/admin/ideas/{reference}/duplicate", {"of_reference": "IH-1999-000001", "reason": "Same"})
    assert unknown.status_code == 422
    assert "There is no idea IH-1999-000001" in words(unknown)
    done = admin.post(f"/admin/ideas/{reference}/duplicate", {"of_reference": original, "reason": "Same form"})
    assert done.status_code == 303
    assert world.status(idea_id) == "duplicate"
    after = admin.get(f"/admin/ideas/{reference}")
    assert 'id="no-actions"' in after.text  # nothing more to do to a duplicate
    assert 'action="/admin/ideas/' + reference + '/withdraw"' not in after.text


def test_an_idea_is_withdrawn_from_the_page_with_the_reason_its_submitter_is_told(world: World) -> None:
    idea_id, reference, _ = in_review(world)
    admin = world.browser("admin")
    done = admin.post(f"/admin/ideas/{reference}/withdraw", {"reason": "They rang to withdraw it"})
    assert done.status_code == 303
    assert world.status(idea_id) == "withdrawn"
    (changed,) = [e for e in world.events(idea_id, "idea.status_changed.v1") if e["to_status"] == "withdrawn"]
    assert changed["reason"] == "They rang to withdraw it"
    again = admin.post(f"/admin/ideas/{reference}/withdraw", {"reason": "Again"})
    assert again.status_code == 409
    assert actions_of(world, idea_id) == ["withdrawn"]


def test_a_form_without_its_csrf_token_changes_nothing(world: World) -> None:
    idea_id, reference, _ = in_review(world)
    answer = world.browser("admin").post(f"/admin/ideas/{reference}/withdraw", {"reason": "x"}, csrf=False)
    assert answer.status_code == 403
    assert world.status(idea_id) == "in_review"


def test_a_failed_notification_is_sent_again_from_the_idea_s_page(world: World) -> None:
    idea_id, reference, _ = in_review(world)
    with unit_of_work(world.factory) as session:
        notification = Notification(
            idea_id=idea_id,
            event_id=uuid.uuid4(),
            audience="submitter",
            recipient="nadia.nurse@example.gov.uk",
            channel="email",
            template="submitter/acknowledgement",
            subject="We have your idea",
            body="Thanks",
            state="failed",
            attempts=5,
            error="550 mailbox unavailable",
        )
        session.add(notification)
        session.flush()
        notification_id = notification.id
    admin = world.browser("admin")
    page = admin.get(f"/admin/ideas/{reference}")
    assert "550 mailbox unavailable" in page.text
    path = f"/admin/ideas/{reference}/notifications/{notification_id}/resend"
    assert f'action="{path}"' in page.text
    assert admin.post(path).status_code == 303
    with unit_of_work(world.factory) as session:
        state = session.scalar(select(Notification.state).where(Notification.id == notification_id))
    assert state == "pending"
    assert admin.post(path).status_code == 409  # pending: nothing to send again
    _, other, _ = in_review(world)
    assert admin.post(f"/admin/ideas/{other}/notifications/{notification_id}/resend").status_code == 404


def test_the_ideas_page_lists_an_idea_as_soon_as_it_is_in(world: World) -> None:
    _, reference, _ = in_review(world)
    with unit_of_work(world.factory) as session:
        assert session.scalar(select(Idea.status).where(Idea.reference == reference)) == "in_review"
    page = world.browser("admin").get("/admin/ideas?status=in_review&sort=newest")
    assert f'href="/admin/ideas/{reference}"' in page.text
