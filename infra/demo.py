"""`ideahub up --demo`: sample staff and ideas. Loading again adds nothing: a member of staff is added when
their email is not registered, an idea when its demo source key has made none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from infra import people
from infra.composition import Runtime
from services.intake.handlers import Source, fingerprint_of, submit_idea
from services.intake.schemas import Submission
from shared.config import Settings
from shared.db.models import Person
from shared.db.uow import unit_of_work

PEOPLE: list[dict[str, Any]] = [
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

WHAT_THEY_DO = {
    "reviewer": "scores ideas, asks submitters questions",
    "sponsor": "answers offers of ideas, runs incubations",
    "admin": "watches the pipeline, manages staff",
}


@dataclass(frozen=True)
class Account:
    name: str
    email: str
    role: str

    @property
    def can(self) -> str:
        return WHAT_THEY_DO.get(self.role, "")


def load_demo(settings: Settings) -> list[Account]:
    """Add the demo staff and ideas not there yet; the demo staff as registered, in the order above."""
    emails = [str(person["email"]) for person in PEOPLE]
    runtime = Runtime(settings, pool_size=1)
    try:
        with unit_of_work(runtime.session_factory) as session:
            registered = set(session.scalars(select(Person.email).where(Person.email.in_(emails))))
        for person in PEOPLE:
            if person["email"] not in registered:
                people.add(settings, **person)
        with unit_of_work(runtime.session_factory) as session:
            for number, idea in enumerate(IDEAS, start=1):
                if idea.department and idea.department not in settings.departments:  # IDEAHUB_DEPARTMENTS names others
                    idea = idea.model_copy(update={"department": None})
                source = Source(key=f"demo:{number}", fingerprint=fingerprint_of(idea))
                submit_idea(session, idea, channel="web", departments=settings.departments, source=source)
            rows = session.execute(select(Person.name, Person.email, Person.role).where(Person.email.in_(emails)))
            accounts = {row.email: Account(row.name, row.email, row.role) for row in rows}
    finally:
        runtime.close()
    return [accounts[email] for email in emails if email in accounts]
