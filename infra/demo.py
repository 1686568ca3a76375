"""`ideahub up --demo`: sample staff and ideas, loaded once (a second run adds nothing)."""

from __future__ import annotations

from sqlalchemy import func, select

from infra import people
from infra.composition import Runtime
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from shared.config import Settings
from shared.db.models import Idea, Person
from shared.db.uow import unit_of_work

PEOPLE = [
    dict(email="rita.reviewer@example.gov.uk", name="Rita Reviewer", role="reviewer", department="Health"),
    dict(email="raj.reviewer@example.gov.uk", name="Raj Reviewer", role="reviewer", department="Housing"),
    dict(
        email="sam.sponsor@example.gov.uk",
        name="Sam Sponsor",
        role="sponsor",
        department="Health",
        interests="patients waiting times clinics appointments digital forms",
        capacity=3,
    ),
    dict(email="ada.admin@example.gov.uk", name="Ada Admin", role="admin"),
]

IDEAS = [
    Submission(
        title="Text reminders for clinic appointments",
        problem="One in ten patients miss appointments.",
        idea="Send a text message two days before each appointment.",
        department="Health",
        name="Nina Nurse",
        email="nina.nurse@example.gov.uk",
    ),
    Submission(
        title="Shared repairs calendar",
        problem="Tenants wait in all day for repairs.",
        idea="Let tenants pick a two-hour slot online.",
        department="Housing",
        email="tom.tenancy@example.gov.uk",
        anonymous=True,
    ),
]


def load_demo(settings: Settings) -> None:
    factory = Runtime(settings).session_factory
    with unit_of_work(factory) as session:
        if session.scalar(select(func.count()).select_from(Person)):
            return
    for person in PEOPLE:
        people.add(settings, **person)
    with unit_of_work(factory) as session:
        if not session.scalar(select(func.count()).select_from(Idea)):
            for idea in IDEAS:
                submit_idea(session, idea, channel="web", departments=settings.departments)
