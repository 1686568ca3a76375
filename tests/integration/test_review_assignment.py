"""Screening assigns reviewers by department, then by open load, never the submitter (SQLite)."""

from __future__ import annotations

from sqlalchemy import select

from infra import people
from infra.composition import Runtime
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.review import handlers, screening
from services.review.assignment import LOAD_CAP
from services.review.schemas import ReviewIn
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import IdeaReceivedV1
from shared.db.models import OutboxMessage, Person, ReviewTask
from shared.db.uow import unit_of_work
from shared.principal import Principal
from tests.helpers import load_by


def screened(settings: Settings, runtime: Runtime, **fields: object) -> int:
    """Submit an idea and run screening on its idea.received event, as the review worker would."""
    body = {"title": "T", "problem": "P", "idea": "I", "email": "sub@example.gov.uk", **fields}
    with unit_of_work(runtime.session_factory) as session:
        created = submit_idea(session, Submission(**body), channel="api", departments=settings.departments)
        payload = session.scalar(
            select(OutboxMessage.payload).where(
                OutboxMessage.idea_id == created.id, OutboxMessage.event_type == "idea.received.v1"
            )
        )
    with unit_of_work(runtime.session_factory) as session:
        screening.screen_idea(session, IdeaReceivedV1.model_validate_json(payload), settings=settings)  # type: ignore[arg-type]
    return created.id


def loads(runtime: Runtime) -> dict[str, int]:
    with unit_of_work(runtime.session_factory) as session:
        return dict(session.execute(load_by(Person.email)).all())  # type: ignore[arg-type]


def reviewers_of(runtime: Runtime, idea_id: int) -> set[str]:
    with unit_of_work(runtime.session_factory) as session:
        return set(
            session.scalars(
                select(Person.email)
                .join(ReviewTask, ReviewTask.reviewer_id == Person.id)
                .where(ReviewTask.idea_id == idea_id)
            )
        )


def test_reviewers_are_spread_by_open_load_and_prefer_the_ideas_department(sqlite_settings: Settings) -> None:
    runtime = Runtime(sqlite_settings)
    for name, department in (("a", "Health"), ("b", "Housing"), ("c", "Transport")):
        people.add(
            sqlite_settings, email=f"{name}@example.gov.uk", name=name.upper(), role="reviewer", department=department
        )

    for _ in range(3):
        screened(sqlite_settings, runtime)
    assert loads(runtime) == {"a@example.gov.uk": 2, "b@example.gov.uk": 2, "c@example.gov.uk": 2}

    # The Health reviewer is chosen for a Health idea although no less loaded than the others.
    health = screened(sqlite_settings, runtime, department="Health")
    assert "a@example.gov.uk" in reviewers_of(runtime, health)


def test_the_submitter_never_reviews_their_own_idea(sqlite_settings: Settings) -> None:
    runtime = Runtime(sqlite_settings)
    for name in ("own", "other1", "other2"):
        people.add(sqlite_settings, email=f"{name}@example.gov.uk", name=name, role="reviewer", department="Health")
    idea = screened(sqlite_settings, runtime, email="OWN@example.gov.uk", department="Health")
    assert reviewers_of(runtime, idea) == {"other1@example.gov.uk", "other2@example.gov.uk"}


def test_posting_a_review_takes_the_task_off_the_reviewers_load(sqlite_settings: Settings) -> None:
    runtime = Runtime(sqlite_settings)
    ids = {
        name: people.add(sqlite_settings, email=f"{name}@example.gov.uk", name=name, role="reviewer")
        for name in ("r1", "r2")
    }
    idea = screened(sqlite_settings, runtime)
    with unit_of_work(runtime.session_factory) as session:
        task_id = session.scalar(
            select(ReviewTask.id).where(ReviewTask.idea_id == idea, ReviewTask.reviewer_id == ids["r1"])
        )
        handlers.submit_review(
            session,
            task_id,  # type: ignore[arg-type]
            ReviewIn.model_validate(
                {
                    "scores": {"impact": 3, "feasibility": 3, "cost": 3, "evidence": 3},
                    "recommendation": "accept",
                    "comment": "Fine",
                }
            ),
            reviewer=Principal(ids["r1"], "r1@example.gov.uk", "r1", "reviewer"),
            settings=sqlite_settings,
        )
    assert loads(runtime) == {"r1@example.gov.uk": 0, "r2@example.gov.uk": 1}


def test_reviewers_past_the_load_cap_are_equally_busy_and_take_turns(sqlite_settings: Settings) -> None:
    """Choosing counts each reviewer's waiting tasks up to LOAD_CAP only, so its cost stays flat.

    Past the cap the reviewers are equally busy, and the one given a task longest ago goes next.
    """
    settings = sqlite_settings.model_copy(update={"reviewers_per_idea": 1})
    runtime = Runtime(settings)
    ids = {
        name: people.add(settings, email=f"{name}@example.gov.uk", name=name, role="reviewer")
        for name in ("r1", "r2", "r3")
    }
    # r1, then r2, then r3 were given their tasks, all past the cap; r3 has the fewest.
    waiting = {"r1": 60, "r2": 70, "r3": 55}
    assert LOAD_CAP < min(waiting.values())
    with unit_of_work(runtime.session_factory) as session:
        ideas = [
            submit_idea(
                session,
                Submission(title=f"Old {n}", problem="P", idea="I", email="sub@example.gov.uk"),
                channel="api",
                departments=settings.departments,
            ).id
            for n in range(max(waiting.values()))
        ]
        now = utcnow()
        for name, count in waiting.items():
            session.execute(
                ReviewTask.__table__.insert(),
                [
                    {"idea_id": idea, "reviewer_id": ids[name], "state": "open", "assigned_at": now, "due_at": now}
                    for idea in ideas[:count]
                ],
            )
    chosen = [reviewers_of(runtime, screened(settings, runtime)) for _ in range(4)]
    assert chosen == [{"r1@example.gov.uk"}, {"r2@example.gov.uk"}, {"r3@example.gov.uk"}, {"r1@example.gov.uk"}]
