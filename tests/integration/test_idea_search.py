"""Staff find ideas: GET /api/v1/ideas filters, searches words, sorts and pages, on each stack's real database,
and shows each role only what it may see. Bad filters are refused with 422 and never reach the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from infra import people
from infra.app import create_app
from services.intake import handlers as intake
from services.intake.schemas import Submission
from shared import lifecycle
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Idea, Offer, ReviewTask
from shared.db.uow import unit_of_work
from tests.conftest import Stack

Status = lifecycle.Status


@dataclass
class Search:
    client: TestClient
    settings: Settings
    factory: Any
    tokens: dict[str, str]
    ids: dict[str, int]
    tag: str  # a word in every idea of this module, so other modules' ideas never count

    def get(self, who: str, **params: Any) -> Any:
        params.setdefault("q", self.tag)
        return self.client.get("/api/v1/ideas", params=params, headers={"Authorization": f"Bearer {self.tokens[who]}"})

    def refs(self, who: str = "admin", **params: Any) -> list[str]:
        answer = self.get(who, **params)
        assert answer.status_code == 200, answer.text
        return [row["reference"] for row in answer.json()]

    def idea(self, title: str, *, department: str = "Housing", theme: str | None = None, channel: str = "api") -> Any:
        with unit_of_work(self.factory) as session:
            return intake.submit_idea(
                session,
                Submission(
                    title=f"{title} {self.tag}",
                    problem="Paper forms are printed, signed and scanned.",
                    idea="Let people fill the form in online.",
                    department=department,
                    theme=theme,
                    email="sam.search@example.gov.uk",
                ),
                channel=channel,
                departments=self.settings.departments,
            )


@pytest.fixture(scope="module")
def search(stack: Stack) -> Iterator[Search]:
    settings = stack.settings(api_rate_limit="0/minute")
    tokens, ids = {}, {}
    for who, role in (("admin", "admin"), ("reviewer", "reviewer"), ("sponsor", "sponsor"), ("other", "reviewer")):
        email = f"search.{who}@example.gov.uk"
        ids[who] = people.add(settings, email=email, name=f"{who.title()} Searcher", role=role)
        tokens[who] = people.new_api_token(settings, email)
    app = create_app(settings)
    with TestClient(app) as client:
        yield Search(client, settings, app.state.session_factory, tokens, ids, f"zq{uuid.uuid4().hex[:8]}")
    app.state.runtime.close()


@pytest.fixture(scope="module")
def made(search: Search) -> dict[str, Any]:
    """A known set of ideas: their references by name, oldest first."""
    ideas = {
        "bins": search.idea("Bin collection by text message", department="Housing", theme="Waste", channel="web"),
        "buses": search.idea("Live bus times at stops", department="Transport", theme="Travel", channel="email"),
        "clinic": search.idea("Clinic reminders by text", department="Health", theme="Appointments", channel="api"),
        "late": search.idea("Scanning forms once", department="Housing", theme="Paper", channel="api"),
        "offered": search.idea("Benches in parks", department="Housing", theme="Parks", channel="api"),
    }
    start = utcnow() - timedelta(days=30)
    with unit_of_work(search.factory) as session:
        for n, created in enumerate(ideas.values()):  # one a day, so the date range and the orders are known
            at = start + timedelta(days=n)
            session.execute(update(Idea).where(Idea.id == created.id).values(created_at=at, updated_at=at))
        late = ideas["late"]
        for target in (Status.IN_REVIEW,):
            lifecycle.transition(session, lifecycle.load(session, late.id), target, actor="test")
        # The reviewer has one idea to review, past its deadline; nothing else is given to them.
        session.add(
            ReviewTask(idea_id=late.id, reviewer_id=search.ids["reviewer"], due_at=utcnow() - timedelta(hours=1))
        )
        offered = ideas["offered"]
        for target in (Status.IN_REVIEW, Status.MATCHING):
            lifecycle.transition(session, lifecycle.load(session, offered.id), target, actor="test")
        session.add(
            Offer(
                idea_id=offered.id,
                sponsor_id=search.ids["sponsor"],
                rank=1,
                score=1.0,
                reasons=["parks"],
                due_at=utcnow() + timedelta(days=5),
            )
        )
        # The last change of status was just now: sorting by update puts it first.
    return {name: created.reference for name, created in ideas.items()}


def test_an_administrator_sees_every_idea_newest_first_and_in_the_other_orders(
    search: Search, made: dict[str, str]
) -> None:
    newest = search.refs()
    assert newest == [made[name] for name in ("offered", "late", "clinic", "buses", "bins")]
    assert search.refs(sort="oldest") == list(reversed(newest))
    assert search.refs(sort="reference") == list(reversed(newest))  # references are made in order
    assert search.refs(sort="updated")[:2] == [made["offered"], made["late"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "in_review"}, ["late"]),
        ({"status": ["in_review", "matching"]}, ["offered", "late"]),
        ({"status": "received"}, ["clinic", "buses", "bins"]),
        ({"department": "Housing"}, ["offered", "late", "bins"]),
        ({"department": "Housing", "theme": "Waste"}, ["bins"]),
        ({"channel": "email"}, ["buses"]),
        ({"overdue": "true"}, ["late"]),
        ({"department": "Justice"}, []),
    ],
)
def test_filters_narrow_the_list(
    search: Search, made: dict[str, str], params: dict[str, Any], expected: list[str]
) -> None:
    assert search.refs(**params) == [made[name] for name in expected]


def test_words_are_searched_in_the_title_problem_and_idea(search: Search, made: dict[str, str]) -> None:
    assert search.refs(q=f"{search.tag} bus") == [made["buses"]]
    assert search.refs(q=f"{search.tag} TEXT") == [made["clinic"], made["bins"]]  # any case
    assert len(search.refs(q=f"{search.tag} online")) == 5  # in every idea's proposal
    assert search.refs(q=f"{search.tag} nowhere") == []


def test_postgresql_finds_a_word_in_its_other_forms_and_sqlite_as_written(search: Search, made: dict[str, str]) -> None:
    # Every problem says "printed, signed and scanned"; one title says "Scanning".
    found = search.refs(q=f"{search.tag} scanning")
    if search.factory.kw["bind"].dialect.name == "postgresql":
        assert len(found) == 5
    else:
        assert found == [made["late"]]


def test_words_that_mean_something_to_a_database_are_only_words(search: Search, made: dict[str, str]) -> None:
    for words in ("%", "_", "\\", "' OR 1=1 --", '"unclosed', "-bus", "a:*", "!&|"):
        answer = search.get("admin", q=f"{search.tag} {words}")
        assert answer.status_code == 200, (words, answer.text)


def test_the_date_range_takes_uk_days_both_included(search: Search, made: dict[str, str]) -> None:
    rows = search.get("admin", sort="oldest").json()
    second = rows[1]["submitted_at"][:10]
    fourth = rows[3]["submitted_at"][:10]
    within = search.refs(submitted_from=second, submitted_to=fourth, sort="oldest")
    assert within == [made["buses"], made["clinic"], made["late"]]
    refused = search.get("admin", submitted_from=fourth, submitted_to=second)
    assert refused.status_code == 422
    assert "submitted_to" in refused.text


def test_the_list_is_paged_with_a_link_to_the_next_page(search: Search, made: dict[str, str]) -> None:
    first = search.get("admin", per_page=2)
    assert [row["reference"] for row in first.json()] == [made["offered"], made["late"]]
    assert 'rel="next"' in first.headers["link"]
    assert f"q={search.tag}" in first.headers["link"]
    last = search.get("admin", per_page=2, page=3)
    assert [row["reference"] for row in last.json()] == [made["bins"]]
    assert "link" not in last.headers


def test_an_overdue_idea_is_marked_in_the_list(search: Search, made: dict[str, str]) -> None:
    rows = {row["reference"]: row for row in search.get("admin").json()}
    assert rows[made["late"]]["overdue"] is True
    assert rows[made["bins"]]["overdue"] is False


def test_a_reviewer_sees_only_the_ideas_given_to_them_and_a_sponsor_those_offered(
    search: Search, made: dict[str, str]
) -> None:
    assert search.refs("reviewer") == [made["late"]]
    assert search.refs("other") == []
    assert search.refs("sponsor") == [made["offered"]]
    assert search.refs("sponsor", department="Health") == []


def test_no_row_names_a_submitter(search: Search, made: dict[str, str]) -> None:
    for row in search.get("admin").json():
        assert "@" not in str(row)
        assert "sam" not in str(row).lower()


@pytest.mark.parametrize(
    "params",
    [
        {"status": "pending"},
        {"channel": "fax"},
        {"sort": "random"},
        {"overdue": "maybe"},
        {"submitted_from": "2026-13-01"},
        {"q": "x" * 201},
        {"q": "bad\x00word"},
        {"department": "Hou\x07sing"},
        {"page": 0},
        {"per_page": 1000},
    ],
)
def test_a_bad_filter_is_refused_with_422(search: Search, made: dict[str, str], params: dict[str, Any]) -> None:
    answer = search.get("admin", **params)
    assert answer.status_code == 422, answer.text
    assert "error" in answer.json()


def test_only_staff_may_search(search: Search) -> None:
    assert search.client.get("/api/v1/ideas").status_code == 401
    assert search.client.get("/api/v1/ideas", headers={"Authorization": "Bearer nonsense"}).status_code == 401
