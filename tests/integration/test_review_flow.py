"""The review stage's rules, driven in-process on SQLite: declines, questions, reminders, escalation, the sweep.

Each test screens a fresh idea as the review worker would and then calls the same functions the
actors and the sweep call; deadlines are moved into the past in the database rather than waited for.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from infra import people
from infra.app import create_app
from infra.composition import Runtime
from infra.signin import use_link
from services.intake.handlers import reply, submit_idea
from services.intake.schemas import Submission
from services.review import deadlines, decision, handlers, screening
from services.review.schemas import ReviewIn
from shared.clock import utcnow
from shared.config import Duration, Settings
from shared.contracts.events import IdeaReceivedV1, IdeaStatusChangedV1
from shared.db.models import Idea, OutboxMessage, Person, Question, Review, ReviewTask, SignInLink
from shared.db.uow import unit_of_work
from shared.principal import Principal
from shared.web.deps import SESSION_COOKIE
from tests.helpers import load_by

REVIEWERS = ("r1", "r2", "r3", "r4")
SUBMITTER = "nadia@example.gov.uk"


@dataclass
class World:
    settings: Settings
    runtime: Runtime
    ids: dict[str, int]

    def session(self) -> Any:
        return unit_of_work(self.runtime.session_factory)

    def screened(self, **fields: object) -> int:
        body = {"title": "T", "problem": "P", "idea": "I", "email": SUBMITTER, "name": "Nadia Nurse", **fields}
        with self.session() as session:
            created = submit_idea(session, Submission(**body), channel="api", departments=self.settings.departments)
        (payload,) = self.events(created.id, "idea.received.v1")
        with self.session() as session:
            screening.screen_idea(session, IdeaReceivedV1.model_validate(payload), settings=self.settings)
        return created.id

    def events(self, idea_id: int, event_type: str) -> list[dict[str, Any]]:
        with self.session() as session:
            rows = session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == event_type)
                .order_by(OutboxMessage.id)
            ).all()
        return [json.loads(row) for row in rows]

    def tasks(self, idea_id: int) -> dict[str, str]:
        """Reviewer name -> task state."""
        with self.session() as session:
            rows = session.execute(
                select(Person.name, ReviewTask.state)
                .join(ReviewTask, ReviewTask.reviewer_id == Person.id)
                .where(ReviewTask.idea_id == idea_id)
            ).all()
        return dict(rows)  # type: ignore[arg-type]

    def task_of(self, idea_id: int, name: str) -> int:
        with self.session() as session:
            task_id = session.scalar(
                select(ReviewTask.id).where(ReviewTask.idea_id == idea_id, ReviewTask.reviewer_id == self.ids[name])
            )
        assert task_id is not None
        return task_id

    def who(self, name: str) -> Principal:
        return Principal(self.ids[name], f"{name}@example.gov.uk", name, "reviewer")

    def review(self, idea_id: int, name: str, recommendation: str = "accept", score: int = 4, **extra: Any) -> None:
        body = {
            "scores": {"impact": score, "feasibility": score, "cost": score, "evidence": score},
            "recommendation": recommendation,
            "comment": f"Comment from {name}",
            **extra,
        }
        with self.session() as session:
            handlers.submit_review(
                session,
                self.task_of(idea_id, name),
                ReviewIn.model_validate(body),
                reviewer=self.who(name),
                settings=self.settings,
            )

    def status(self, idea_id: int) -> str:
        with self.session() as session:
            return str(session.scalar(select(Idea.status).where(Idea.id == idea_id)))

    def loads(self) -> dict[str, int]:
        with self.session() as session:
            return dict(session.execute(load_by(Person.name)).all())  # type: ignore[arg-type]

    def overdue(self, idea_id: int) -> None:
        """Every awaited task of the idea passes its deadline."""
        with self.session() as session:
            session.execute(
                update(ReviewTask)
                .where(ReviewTask.idea_id == idea_id, ReviewTask.state == "open")
                .values(due_at=utcnow() - timedelta(seconds=1))
            )

    def last_change(self, idea_id: int) -> IdeaStatusChangedV1:
        return IdeaStatusChangedV1.model_validate(self.events(idea_id, "idea.status_changed.v1")[-1])


@pytest.fixture
def world(sqlite_settings: Settings) -> Iterator[World]:
    settings = sqlite_settings.model_copy(
        update={
            "reviewers_per_idea": 2,
            "review_deadline": Duration(3600, "s"),
            "review_reminder": Duration(600, "s"),
            "info_deadline": Duration(3600, "s"),
            "info_reminder": Duration(600, "s"),
        }
    )
    ids = {
        name: people.add(settings, email=f"{name}@example.gov.uk", name=name, role="reviewer", department="Health")
        for name in REVIEWERS
    }
    ids["admin"] = people.add(settings, email="admin@example.gov.uk", name="admin", role="admin")
    runtime = Runtime(settings)
    try:
        yield World(settings, runtime, ids)
    finally:
        runtime.close()


def test_two_reviewers_who_agree_decide_and_the_submitter_gets_their_reasons_not_names_nor_notes(world: World) -> None:
    idea = world.screened()
    assert world.tasks(idea) == {"r1": "open", "r2": "open"}
    world.review(idea, "r1", private_note="Ask finance about this")
    assert world.status(idea) == "in_review"
    world.review(idea, "r2")
    with world.session() as session:
        decision.decide_if_complete(
            session, handlers.lifecycle.load(session, idea), settings=world.settings, cause=None
        )
    assert world.status(idea) == "matching"
    decided = world.last_change(idea)
    assert sorted(decided.reasons) == ["Comment from r1", "Comment from r2"]
    text = decided.model_dump_json()
    assert "Ask finance" not in text
    assert "r1@example" not in text


def test_a_declined_task_goes_to_someone_who_never_had_the_idea_and_frees_the_decliner(world: World) -> None:
    idea = world.screened()
    task = world.task_of(idea, "r1")
    with world.session() as session:
        new_task = handlers.decline_task(session, task, "On leave", reviewer=world.who("r1"), settings=world.settings)
    assert new_task is not None
    assert world.tasks(idea) == {"r1": "declined", "r2": "open", "r3": "open"}
    assert world.loads() == {"r1": 0, "r2": 1, "r3": 1, "r4": 0}
    assigned = world.events(idea, "review.assigned.v1")
    assert assigned[-1]["task_id"] == new_task
    assert assigned[-1]["reviewer_id"] == world.ids["r3"]
    with world.session() as session:
        assert session.get(ReviewTask, task).decline_reason == "On leave"  # type: ignore[union-attr]
        with pytest.raises(handlers.Conflict):
            handlers.decline_task(session, task, "Again", reviewer=world.who("r1"), settings=world.settings)


def test_a_declined_task_nobody_can_take_over_alerts_administrators(world: World) -> None:
    idea = world.screened()
    for name, next_one in (("r1", "r3"), ("r3", "r4")):
        task = world.task_of(idea, name)
        with world.session() as session:
            handlers.decline_task(session, task, "Busy", reviewer=world.who(name), settings=world.settings)
        assert world.tasks(idea)[next_one] == "open"
    task = world.task_of(idea, "r4")
    with world.session() as session:
        assert handlers.decline_task(session, task, "Busy", reviewer=world.who("r4"), settings=world.settings) is None
    (escalated,) = world.events(idea, "review.escalated.v1")
    assert (escalated["reason"], escalated["replacement_id"]) == ("declined", None)


def test_a_question_pauses_the_clock_and_the_answer_reopens_the_askers_task(world: World) -> None:
    idea = world.screened()
    world.review(idea, "r1", "needs_info", score=2, question="How many clinics?", private_note="Unsure")
    assert world.status(idea) == "needs_info"
    assert world.tasks(idea) == {"r1": "asked", "r2": "open"}
    assert world.last_change(idea).reason == "How many clinics?"
    (asked,) = world.events(idea, "question.asked.v1")
    r1_task, r2_task = world.task_of(idea, "r1"), world.task_of(idea, "r2")
    with world.session() as session:
        before_due = session.get(ReviewTask, r2_task).due_at  # type: ignore[union-attr]
        # While the question is open, the idea is not escalated even past its deadline.
        session.execute(
            update(Question).where(Question.id == asked["question_id"]).values(asked_at=utcnow() - timedelta(hours=2))
        )
    world.overdue(idea)
    assert deadlines.sweep(world.runtime.session_factory, world.settings) == 0
    with world.session() as session:
        reply(session, idea, "Forty clinics.", channel="email")
    assert world.status(idea) == "in_review"
    back = world.last_change(idea)
    with world.session() as session:
        deadlines.resume(session, back, settings=world.settings)
    assert world.tasks(idea) == {"r1": "open", "r2": "open"}
    resumed = world.events(idea, "review.resumed.v1")
    assert {e["reviewer_id"] for e in resumed} == {world.ids["r1"], world.ids["r2"]}
    assert {e["answer"] for e in resumed} == {"Forty clinics."}
    with world.session() as session:
        after_due = session.get(ReviewTask, r2_task).due_at  # type: ignore[union-attr]
    assert after_due > utcnow()
    assert after_due != before_due
    # The asker scores again: their review is replaced, and the decision counts it.
    world.review(idea, "r1", "accept", score=4)
    world.review(idea, "r2", "accept", score=4)
    with world.session() as session:
        (review,) = session.scalars(select(Review).where(Review.task_id == r1_task)).all()
        assert review.recommendation == "accept"
        assert review.private_note is None
        decision.decide_if_complete(
            session, handlers.lifecycle.load(session, idea), settings=world.settings, cause=None
        )
    assert world.status(idea) == "matching"


def test_needs_info_without_a_question_is_refused_and_changes_nothing(world: World) -> None:
    idea = world.screened()
    with pytest.raises(ValueError, match="question"):
        world.review(idea, "r1", "needs_info")
    assert world.tasks(idea) == {"r1": "open", "r2": "open"}
    assert world.status(idea) == "in_review"


def test_an_unanswered_question_lapses_and_the_reviewers_decide_without_it(world: World) -> None:
    idea = world.screened()
    world.review(idea, "r1", "needs_info", question="How many clinics?")
    with world.session() as session:
        session.execute(update(Question).where(Question.idea_id == idea).values(due_at=utcnow() - timedelta(seconds=1)))
    assert deadlines.sweep(world.runtime.session_factory, world.settings) == 1
    assert world.status(idea) == "in_review"
    assert world.last_change(idea).reason == deadlines.NO_ANSWER
    back = world.last_change(idea)
    with world.session() as session:
        assert session.scalar(select(Question.state).where(Question.idea_id == idea)) == "expired"
        deadlines.resume(session, back, settings=world.settings)
    (resumed, _) = world.events(idea, "review.resumed.v1")
    assert resumed["answer"] is None
    assert deadlines.sweep(world.runtime.session_factory, world.settings) == 0


def test_a_reminder_is_sent_once_whether_the_message_or_the_sweep_comes_first(world: World) -> None:
    idea = world.screened()
    task = world.task_of(idea, "r1")
    with world.session() as session:
        assert deadlines.remind_task(session, task, settings=world.settings, now=utcnow()) == 0  # too early
        session.execute(
            update(ReviewTask).where(ReviewTask.idea_id == idea).values(due_at=utcnow() + timedelta(seconds=300))
        )
    assert deadlines.sweep(world.runtime.session_factory, world.settings) == 2
    with world.session() as session:
        assert deadlines.remind_task(session, task, settings=world.settings, now=utcnow()) == 0
    assert deadlines.sweep(world.runtime.session_factory, world.settings) == 0
    assert sorted(e["reviewer_id"] for e in world.events(idea, "review.reminder.v1")) == sorted(
        [world.ids["r1"], world.ids["r2"]]
    )


def test_late_reviewers_with_no_review_in_are_replaced_once_and_administrators_told(world: World) -> None:
    idea = world.screened()
    world.overdue(idea)
    with world.session() as session:
        assert deadlines.escalate_idea(session, idea, settings=world.settings, now=utcnow()) == 2
    assert deadlines.sweep(world.runtime.session_factory, world.settings) == 0
    with world.session() as session:
        assert deadlines.escalate_idea(session, idea, settings=world.settings, now=utcnow()) == 0
    assert world.tasks(idea) == {"r1": "replaced", "r2": "replaced", "r3": "open", "r4": "open"}
    assert world.loads() == {"r1": 0, "r2": 0, "r3": 1, "r4": 1}
    escalations = world.events(idea, "review.escalated.v1")
    assert sorted((e["reviewer_id"], e["replacement_id"]) for e in escalations) in (
        sorted([(world.ids["r1"], world.ids["r3"]), (world.ids["r2"], world.ids["r4"])]),
        sorted([(world.ids["r1"], world.ids["r4"]), (world.ids["r2"], world.ids["r3"])]),
    )
    # The replacements are late too, and nobody who never had the idea is left.
    world.overdue(idea)
    assert deadlines.sweep(world.runtime.session_factory, world.settings) == 2
    assert [e["replacement_id"] for e in world.events(idea, "review.escalated.v1")[2:]] == [None, None]


def test_at_the_deadline_with_one_review_in_the_idea_is_decided_and_the_late_task_expires(world: World) -> None:
    idea = world.screened()
    world.review(idea, "r1", "reject", score=2)
    world.overdue(idea)
    assert deadlines.sweep(world.runtime.session_factory, world.settings) == 1
    assert world.status(idea) == "rejected"
    assert world.tasks(idea) == {"r1": "done", "r2": "expired"}
    assert world.loads()["r2"] == 0
    assert world.last_change(idea).reasons == ["Comment from r1"]
    assert world.events(idea, "review.escalated.v1") == []


def test_a_withdrawn_idea_frees_its_reviewers(world: World) -> None:
    idea = world.screened()
    with world.session() as session:
        state = handlers.lifecycle.load(session, idea)
        event = handlers.lifecycle.transition(session, state, handlers.Status.WITHDRAWN, reason="x")
        deadlines.close_for_final(session, event)
    assert world.tasks(idea) == {"r1": "cancelled", "r2": "cancelled"}
    assert world.loads() == {"r1": 0, "r2": 0, "r3": 0, "r4": 0}


# --- over HTTP -----------------------------------------------------------------------------------------------------


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.settings, world.runtime)) as client:
        yield client


def bearer(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {people.new_api_token(world.settings, f'{name}@example.gov.uk')}"}


def test_the_api_refuses_needs_info_without_a_question_and_a_decline_without_a_reason(
    world: World, client: TestClient
) -> None:
    idea = world.screened()
    task = world.task_of(idea, "r1")
    scores = {"impact": 3, "feasibility": 3, "cost": 3, "evidence": 3}
    refused = client.post(
        f"/api/v1/reviews/tasks/{task}",
        headers=bearer(world, "r1"),
        json={"scores": scores, "recommendation": "needs_info", "comment": "Unclear"},
    )
    assert refused.status_code == 422, refused.text
    assert client.post(f"/api/v1/reviews/tasks/{task}/decline", headers=bearer(world, "r1"), json={}).status_code == 422
    assert (
        client.post(
            f"/api/v1/reviews/tasks/{task}/decline", headers=bearer(world, "r1"), json={"reason": "x" * 2001}
        ).status_code
        == 422
    )
    assert world.tasks(idea) == {"r1": "open", "r2": "open"}
    declined = client.post(
        f"/api/v1/reviews/tasks/{task}/decline", headers=bearer(world, "r1"), json={"reason": "On leave"}
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["replaced"] is True


def test_an_anonymous_submitter_is_never_shown_to_a_reviewer_and_notes_only_to_staff(
    world: World, client: TestClient
) -> None:
    idea = world.screened(anonymous=True)
    task = world.task_of(idea, "r1")
    world.review(idea, "r1", private_note="Ask finance")
    detail = client.get(f"/api/v1/reviews/tasks/{task}", headers=bearer(world, "r1"))
    assert detail.status_code == 200, detail.text
    assert "Nadia" not in detail.text
    assert SUBMITTER not in detail.text
    assert detail.json()["my_review"]["private_note"] == "Ask finance"
    other = client.get(f"/api/v1/reviews/tasks/{world.task_of(idea, 'r2')}", headers=bearer(world, "r2"))
    assert "Ask finance" not in other.text
    assert client.get(f"/api/v1/reviews/tasks/{task}", headers=bearer(world, "r2")).status_code == 404
    with world.session() as session:
        reference = session.scalar(select(Idea.reference).where(Idea.id == idea))
    admin = client.get(f"/api/v1/reviews/ideas/{reference}", headers=bearer(world, "admin"))
    assert admin.status_code == 200, admin.text
    assert [r["private_note"] for r in admin.json()["reviews"]] == ["Ask finance"]
    assert client.get(f"/api/v1/reviews/ideas/{reference}", headers=bearer(world, "r1")).status_code == 403


def test_a_named_submitter_is_shown_to_reviewers_by_name_only(world: World, client: TestClient) -> None:
    idea = world.screened()
    detail = client.get(f"/api/v1/reviews/tasks/{world.task_of(idea, 'r1')}", headers=bearer(world, "r1")).json()
    assert detail["submitted_by"] == "Nadia Nurse"
    assert SUBMITTER not in json.dumps(detail)


# --- the pages -----------------------------------------------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in(world: World, client: TestClient, name: str) -> None:
    """The browser is signed in as this reviewer (a used sign-in link's session cookie)."""
    link_id = uuid.uuid4()
    with world.session() as session:
        session.add(SignInLink(id=link_id, person_id=world.ids[name], expires_at=utcnow() + timedelta(minutes=5)))
    with world.session() as session:
        cookie = use_link(session, link_id, hours=1, now=utcnow())
    assert cookie is not None
    client.cookies.set(SESSION_COOKIE, cookie)


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "the page should carry a CSRF token"
    return found[1]


def test_a_reviewer_reviews_through_the_pages_with_errors_shown_and_nothing_typed_lost(
    world: World, client: TestClient
) -> None:
    idea = world.screened(anonymous=True, title="Anonymous pages idea")
    task = world.task_of(idea, "r1")
    signed_in(world, client, "r1")
    listing = client.get("/reviews")
    assert listing.status_code == 200
    assert f'href="/reviews/tasks/{task}"' in listing.text
    page = client.get(f"/reviews/tasks/{task}")
    assert page.status_code == 200
    assert "Anonymous pages idea" in page.text
    assert "Nadia" not in page.text
    assert SUBMITTER not in page.text
    form = {"csrf_token": csrf_of(page.text), "impact": "4", "recommendation": "needs_info", "comment": "Kept text"}
    refused = client.post(f"/reviews/tasks/{task}", data=form, follow_redirects=False)
    assert refused.status_code == 422
    assert "There is a problem" in refused.text
    assert "Choose a score from 1 to 5 for feasibility" in refused.text
    assert "Write the question for the submitter" in refused.text
    assert "Kept text" in refused.text
    assert world.tasks(idea)["r1"] == "open"
    form |= {"feasibility": "3", "cost": "4", "evidence": "2", "recommendation": "accept", "private_note": "Mine"}
    sent = client.post(f"/reviews/tasks/{task}", data=form, follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/reviews?done=reviewed"
    assert world.tasks(idea)["r1"] == "done"
    after = client.get(f"/reviews/tasks/{task}")
    assert "Mine" in after.text
    assert "Send your review" not in after.text
    # Without the form's CSRF token, a signed-in browser's post changes nothing.
    other = world.task_of(idea, "r2")
    signed_in(world, client, "r2")
    forged = client.post(f"/reviews/tasks/{other}/decline", data={"reason": "Forged"}, follow_redirects=False)
    assert forged.status_code in (400, 403)
    assert world.tasks(idea)["r2"] == "open"


@pytest.mark.parametrize("task", ["abc", "-1", "0", "1.5", str(2**63), "99999999999999999999999"])
def test_a_task_address_no_task_can_have_is_the_page_not_found(world: World, client: TestClient, task: str) -> None:
    signed_in(world, client, "r1")
    for path in (f"/reviews/tasks/{task}", f"/reviews/tasks/{task}/decline"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "Page not found" in answer.text


def test_the_question_box_is_revealed_under_the_ask_a_question_choice(world: World, client: TestClient) -> None:
    """A GOV.UK conditional reveal: hidden by the script until that radio is chosen; shown without the script."""
    idea = world.screened()
    task = world.task_of(idea, "r1")
    signed_in(world, client, "r1")
    page = client.get(f"/reviews/tasks/{task}").text
    radio = re.search(r'<input[^>]*id="recommendation-needs_info"[^>]*>', page)
    assert radio
    assert 'data-aria-controls="conditional-question"' in radio[0]
    box = re.search(r'<div class="([^"]*)" id="conditional-question">(.*?)</textarea>', page, re.S)
    assert box
    assert box[1] == "govuk-radios__conditional govuk-radios__conditional--hidden"
    assert 'name="question"' in box[2]
    assert page.index('id="recommendation-needs_info"') < box.start() < page.index('id="comment"')
    # Chosen, and sent without a question: the box is shown open, with its error.
    form = {"csrf_token": csrf_of(page), "recommendation": "needs_info"}
    refused = client.post(f"/reviews/tasks/{task}", data=form, follow_redirects=False).text
    box = re.search(r'<div class="([^"]*)" id="conditional-question">(.*?)</textarea>', refused, re.S)
    assert box
    assert box[1] == "govuk-radios__conditional"
    assert "Write the question for the submitter" in box[2]


def test_a_reviewer_hands_a_task_back_through_the_pages(world: World, client: TestClient) -> None:
    idea = world.screened()
    task = world.task_of(idea, "r2")
    signed_in(world, client, "r2")
    page = client.get(f"/reviews/tasks/{task}/decline")
    assert page.status_code == 200
    token = csrf_of(page.text)
    empty = client.post(f"/reviews/tasks/{task}/decline", data={"csrf_token": token, "reason": " "})
    assert empty.status_code == 422
    assert "Say why you cannot review this idea" in empty.text
    done = client.post(
        f"/reviews/tasks/{task}/decline", data={"csrf_token": token, "reason": "Conflict"}, follow_redirects=False
    )
    assert done.status_code == 303
    assert world.tasks(idea)["r2"] == "declined"
    told = client.get(done.headers["location"]).text
    assert "another reviewer will be given it" in told
    assert "administrators" not in told
    assert client.get("/reviews/tasks/987654").status_code == 404


def test_a_reviewer_who_hands_back_a_task_nobody_else_can_take_is_told_the_administrators_will_find_someone(
    world: World, client: TestClient
) -> None:
    idea = world.screened()
    for name in ("r1", "r3"):  # r3, then r4, take it over; after r4 nobody is left
        with world.session() as session:
            handlers.decline_task(
                session, world.task_of(idea, name), "Busy", reviewer=world.who(name), settings=world.settings
            )
    task = world.task_of(idea, "r4")
    signed_in(world, client, "r4")
    page = client.get(f"/reviews/tasks/{task}/decline")
    done = client.post(
        f"/reviews/tasks/{task}/decline",
        data={"csrf_token": csrf_of(page.text), "reason": "Conflict of interest"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert world.tasks(idea)["r4"] == "declined"
    told = client.get(done.headers["location"]).text
    assert "we have told the administrators and they will find someone" in told
    assert "another reviewer will be given it" not in told
    (escalated,) = world.events(idea, "review.escalated.v1")  # what "told" means: the administrators' alert
    assert escalated["reason"] == "declined"


def test_reminders_and_escalations_are_in_the_idea_timeline_that_administrators_see(
    world: World, client: TestClient
) -> None:
    people.add(world.settings, email="ada@example.gov.uk", name="Ada Admin", role="admin")
    idea = world.screened()
    with world.session() as session:
        reference = str(session.scalar(select(Idea.reference).where(Idea.id == idea)))
        session.execute(
            update(ReviewTask).where(ReviewTask.idea_id == idea).values(due_at=utcnow() + timedelta(seconds=300))
        )
    deadlines.sweep(world.runtime.session_factory, world.settings)  # the reminders
    world.overdue(idea)
    deadlines.sweep(world.runtime.session_factory, world.settings)  # the escalations

    answer = client.get(f"/api/v1/admin/ideas/{reference}/timeline", headers=bearer(world, "ada"))
    assert answer.status_code == 200, answer.text
    types = [entry["type"] for entry in answer.json()]
    assert types[:2] == ["idea.received.v1", "idea.status_changed.v1"]
    assert types.count("review.reminder.v1") == 2
    assert types.count("review.escalated.v1") == 2
    assert types.index("review.reminder.v1") < types.index("review.escalated.v1")
    escalated = next(e for e in answer.json() if e["type"] == "review.escalated.v1")
    assert escalated["data"]["reviewer_id"] in (world.ids["r1"], world.ids["r2"])
    assert escalated["published"] is False  # no relay runs here: committed, waiting to be published

    assert client.get(f"/api/v1/admin/ideas/{reference}/timeline", headers=bearer(world, "r1")).status_code == 403
    assert client.get("/api/v1/admin/ideas/IH-2026-999999/timeline", headers=bearer(world, "ada")).status_code == 404
