"""`POST /api/v1/ideas` for scripts and other systems: Idempotency-Key, rate limit, body limit, answers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, text

from infra.app import create_app
from infra.composition import Runtime
from services.intake.handlers import reference_for, submit_idea
from services.intake.schemas import Submission
from shared import lifecycle
from shared.clock import utcnow
from shared.config import Settings, load_settings
from shared.db.models import Idea, IdeaMessage, OutboxMessage, Question
from shared.db.uow import unit_of_work

BODY = {"title": "Shorter forms", "problem": "Forms are long.", "idea": "Cut them.", "email": "sam@example.gov.uk"}


def counts(runtime: Runtime) -> tuple[int, int]:
    """(ideas, events in the outbox)."""
    with unit_of_work(runtime.session_factory) as session:
        return (
            session.scalar(select(func.count()).select_from(Idea)) or 0,
            session.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
        )


@pytest.fixture
def client(sqlite_settings: Settings) -> Iterator[tuple[TestClient, Runtime]]:
    runtime = Runtime(sqlite_settings)
    with TestClient(create_app(sqlite_settings, runtime)) as test_client:
        yield test_client, runtime
    runtime.close()


def limited_client(settings: Settings, **overrides: object) -> tuple[TestClient, Runtime]:
    limited = load_settings(**(settings.model_dump() | overrides))
    runtime = Runtime(limited)
    return TestClient(create_app(limited, runtime)), runtime


def test_a_retried_request_with_the_same_key_gets_the_first_answer_and_creates_nothing(client) -> None:  # type: ignore[no-untyped-def]
    test_client, runtime = client
    first = test_client.post("/api/v1/ideas", json=BODY, headers={"Idempotency-Key": "a1b2c3"})
    assert first.status_code == 202
    again = test_client.post("/api/v1/ideas", json=BODY, headers={"Idempotency-Key": "a1b2c3"})
    assert again.status_code == 202
    assert again.json() == first.json()
    assert counts(runtime) == (1, 1)

    other = test_client.post("/api/v1/ideas", json=BODY, headers={"Idempotency-Key": "d4e5f6"})
    assert other.json()["reference"] != first.json()["reference"]
    without_key = test_client.post("/api/v1/ideas", json=BODY)
    assert without_key.json()["reference"] not in (first.json()["reference"], other.json()["reference"])
    assert counts(runtime) == (3, 3)


def test_the_first_answer_stays_the_first_answer_after_the_idea_moves_on(client) -> None:  # type: ignore[no-untyped-def]
    test_client, runtime = client
    first = test_client.post("/api/v1/ideas", json=BODY, headers={"Idempotency-Key": "k-1"}).json()
    with unit_of_work(runtime.session_factory) as session:
        state = lifecycle.load(session, first["id"])
        lifecycle.transition(session, state, lifecycle.Status.IN_REVIEW, reason="test")
    again = test_client.post("/api/v1/ideas", json=BODY, headers={"Idempotency-Key": "k-1"})
    assert again.json() == first
    assert again.json()["status"] == "received"


def test_a_key_reused_for_another_idea_is_refused_and_changes_nothing(client) -> None:  # type: ignore[no-untyped-def]
    test_client, runtime = client
    test_client.post("/api/v1/ideas", json=BODY, headers={"Idempotency-Key": "same"})
    reused = test_client.post(
        "/api/v1/ideas", json=BODY | {"title": "Longer forms"}, headers={"Idempotency-Key": "same"}
    )
    assert reused.status_code == 409
    assert "already used for a different idea" in reused.json()["error"]
    assert counts(runtime) == (1, 1)


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\tkey", "ünïcode"])
def test_a_malformed_key_is_named_in_a_422(client, key: str) -> None:  # type: ignore[no-untyped-def]
    test_client, runtime = client
    response = test_client.post("/api/v1/ideas", json=BODY, headers={"Idempotency-Key": key.encode("utf-8")})
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == ["header.idempotency-key"]
    assert counts(runtime) == (0, 0)


def test_concurrent_requests_with_one_key_make_one_idea(stack) -> None:  # type: ignore[no-untyped-def]
    """Two clients racing with the same key: the database's unique key decides, and both get the same answer."""
    settings = stack.settings()
    runtime = Runtime(settings, pool_size=8)
    app = create_app(settings, runtime)
    answers: list[dict[str, object]] = []
    statuses: list[int] = []
    start = threading.Barrier(6)
    key = f"race-{stack.prefix}"

    def submit() -> None:
        with TestClient(app) as test_client:
            start.wait()
            response = test_client.post("/api/v1/ideas", json=BODY, headers={"Idempotency-Key": key})
            statuses.append(response.status_code)
            answers.append(response.json())

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert statuses == [202] * 6, answers
        assert len({a["reference"] for a in answers}) == 1
        with unit_of_work(runtime.session_factory) as session:
            made = session.scalar(
                select(func.count()).select_from(Idea).where(Idea.reference == answers[0]["reference"])
            )
            events = session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.idea_id == answers[0]["id"])
            )
        assert (made, events) == (1, 1)
    finally:
        runtime.close()


def test_a_client_over_the_rate_limit_gets_429_with_retry_after_and_nothing_is_stored(sqlite_settings) -> None:  # type: ignore[no-untyped-def]
    limited = load_settings(**(sqlite_settings.model_dump() | {"api_rate_limit": "3/minute"}))
    runtime = Runtime(limited)
    app = create_app(limited, runtime)
    with TestClient(app, client=("192.0.2.1", 50000)) as test_client:
        answers = [test_client.post("/api/v1/ideas", json=BODY).status_code for _ in range(5)]
        assert answers == [202, 202, 202, 429, 429]
        refused = test_client.post("/api/v1/ideas", json=BODY)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 20
        assert "3/minute" in refused.json()["error"]
        # A made-up bearer token is no way round it.
        dodged = test_client.post("/api/v1/ideas", json=BODY, headers={"Authorization": "Bearer made-up"})
        assert dodged.status_code == 429
    with TestClient(app, client=("192.0.2.2", 50000)) as another_client:  # another address: its own allowance
        assert another_client.post("/api/v1/ideas", json=BODY).status_code == 202
    assert counts(runtime) == (4, 4)
    runtime.close()


def test_a_body_over_the_limit_is_refused_with_413_and_nothing_is_stored(sqlite_settings) -> None:  # type: ignore[no-untyped-def]
    test_client, runtime = limited_client(sqlite_settings, max_request_bytes=2048)
    with test_client:
        big = BODY | {"idea": "x" * 4000}
        declared = test_client.post("/api/v1/ideas", json=big)
        assert declared.status_code == 413
        assert "2048 bytes" in declared.json()["error"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"title": "Chunked", "problem": "p", "email": "a@b.gov.uk", "idea": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}'

        streamed = test_client.post("/api/v1/ideas", content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413
        small = test_client.post("/api/v1/ideas", json=BODY)
        assert small.status_code == 202
    assert counts(runtime) == (1, 1)
    runtime.close()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"title": "", "problem": "p", "idea": "i", "email": "a@b.gov.uk"}, ["title"]),
        ({"title": "t", "problem": "p", "idea": "i", "email": "not-an-email"}, ["email"]),
        ({"title": "t\r\nBcc: x@evil.example", "problem": "p", "idea": "i", "email": "a@b.gov.uk"}, ["title"]),
        ({"problem": "p", "email": "a@b.gov.uk"}, ["title", "idea"]),
        ({"title": "t", "problem": "p", "idea": "i", "email": "a@b.gov.uk", "role": "admin"}, ["role"]),
        ({"title": "t", "problem": "p", "idea": "i", "email": "a@b.gov.uk", "theme": "x" * 101}, ["theme"]),
        ({"title": "t", "problem": "p", "idea": "i", "email": "a@b.gov.uk", "department": "Nowhere"}, ["department"]),
    ],
)
def test_bad_input_names_each_bad_field_and_stores_nothing(client, body, fields) -> None:  # type: ignore[no-untyped-def]
    test_client, runtime = client
    response = test_client.post("/api/v1/ideas", json=body)
    assert response.status_code == 422
    assert sorted(f["field"] for f in response.json()["fields"]) == sorted(fields)
    assert counts(runtime) == (0, 0)


def test_malformed_json_is_a_422_not_a_500(client) -> None:  # type: ignore[no-untyped-def]
    test_client, runtime = client
    response = test_client.post("/api/v1/ideas", content=b'{"title": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert counts(runtime) == (0, 0)


def ask(runtime: Runtime, idea_id: int, text: str = "How many forms are there?") -> None:
    """What a reviewer's needs_info does (issue: review stage): the idea waits on an open question."""
    with unit_of_work(runtime.session_factory) as session:
        lifecycle.transition(session, lifecycle.load(session, idea_id), lifecycle.Status.IN_REVIEW, reason="test")
        lifecycle.transition(session, lifecycle.load(session, idea_id), lifecycle.Status.NEEDS_INFO, reason="asked")
        session.add(Question(idea_id=idea_id, text=text))


def test_the_submitter_answers_the_open_question_and_the_idea_returns_to_review(client) -> None:  # type: ignore[no-untyped-def]
    test_client, runtime = client
    created = test_client.post("/api/v1/ideas", json=BODY).json()
    token = created["status_url"].rsplit("/", 1)[1]
    ask(runtime, created["id"])
    view = test_client.get(f"/api/v1/status/{token}").json()
    assert view["status"] == "needs_info"
    assert view["question"]["text"] == "How many forms are there?"

    answered = test_client.post(f"/api/v1/status/{token}/answer", json={"answer": "  Twelve, in three offices.  "})
    assert answered.status_code == 200
    view = answered.json()
    assert view["status"] == "in_review"
    assert view["question"] is None
    assert [e["kind"] for e in view["history"]] == ["status", "status", "status", "answer", "status"]
    assert view["history"][3]["text"] == "Twelve, in three offices."
    with unit_of_work(runtime.session_factory) as session:
        question = session.scalars(select(Question)).one()
        assert (question.state, question.answer) == ("answered", "Twelve, in three offices.")

    # Nothing left to answer: a clear 409, nothing stored.
    again = test_client.post(f"/api/v1/status/{token}/answer", json={"answer": "And more"})
    assert again.status_code == 409
    assert "no open question" in again.json()["error"]
    with unit_of_work(runtime.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(IdeaMessage)) == 1


@pytest.mark.parametrize("body", [{"answer": ""}, {"answer": "   "}, {}, {"answer": "x", "extra": 1}])
def test_an_empty_or_malformed_answer_is_refused(client, body) -> None:  # type: ignore[no-untyped-def]
    test_client, runtime = client
    created = test_client.post("/api/v1/ideas", json=BODY).json()
    token = created["status_url"].rsplit("/", 1)[1]
    ask(runtime, created["id"])
    response = test_client.post(f"/api/v1/status/{token}/answer", json=body)
    assert response.status_code == 422
    assert test_client.get(f"/api/v1/status/{token}").json()["status"] == "needs_info"


def test_an_answer_to_an_unknown_status_link_is_a_404(client) -> None:  # type: ignore[no-untyped-def]
    test_client, _ = client
    response = test_client.post("/api/v1/status/not-a-token/answer", json={"answer": "hello"})
    assert response.status_code == 404


def test_requests_are_counted_by_route_template_and_status(client) -> None:  # type: ignore[no-untyped-def]
    test_client, _ = client

    def counted(route: str, status: str) -> float:
        for line in test_client.get("/metrics").text.splitlines():
            if line.startswith("ideahub_http_requests_total{") and f'route="{route}"' in line and f'"{status}"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = counted("/api/v1/status/{token}", "404"), counted("/api/v1/ideas", "202")
    test_client.get("/api/v1/status/no-such-token")
    test_client.post("/api/v1/ideas", json=BODY)
    after = counted("/api/v1/status/{token}", "404"), counted("/api/v1/ideas", "202")
    assert after == (before[0] + 1, before[1] + 1)


def test_the_reference_is_written_with_the_idea_and_grows_past_six_digits(stack) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL writes the reference in the insert itself; it must read as `reference_for` makes it."""
    settings = stack.settings()
    runtime = Runtime(settings)
    try:
        with unit_of_work(runtime.session_factory) as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SELECT setval(pg_get_serial_sequence('ideas', 'id'), 999998)"))
            else:  # SQLite gives the next rowid
                session.execute(
                    insert(Idea).values(
                        id=999_998, status="withdrawn", title="t", problem="p", proposal="i", anonymous=False,
                        status_token=f"tok-{stack.prefix}", channel="api", correlation_id=uuid.uuid4(),
                        created_at=utcnow(), updated_at=utcnow(), version=1,
                    )
                )  # fmt: skip
        created = []
        for _ in range(2):
            with unit_of_work(runtime.session_factory) as session:
                created.append(
                    submit_idea(session, Submission(**BODY), channel="api", departments=settings.departments)
                )
        with unit_of_work(runtime.session_factory) as session:
            stored = [session.scalar(select(Idea.reference).where(Idea.id == c.id)) for c in created]
    finally:
        runtime.close()
    year = utcnow().year
    assert [c.id for c in created] == [999_999, 1_000_000]
    assert [c.reference for c in created] == stored == [f"IH-{year}-999999", f"IH-{year}-1000000"]
    assert stored == [reference_for(c.id, year) for c in created]
