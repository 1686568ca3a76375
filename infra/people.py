"""Adding staff, their API tokens, and taking every way in away again (`ideahub users ...`, the demo data, tests)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Update, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.config import Settings
from shared.db.engine import make_engine, make_session_factory
from shared.db.models import ApiToken, Person, SignInLink, StaffSession
from shared.db.states import claim
from shared.db.uow import unit_of_work
from shared.principal import ROLES
from shared.web.deps import hash_token, new_token


class PeopleError(Exception):
    pass


def _email(value: str) -> str:
    if not re.fullmatch(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+", value):
        raise ValueError("enter an email address like name@example.gov.uk")
    return value.lower()


class NewPerson(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    email: Annotated[str, AfterValidator(_email)] = Field(max_length=320)
    name: str = Field(min_length=1, max_length=200)
    role: str
    department: str | None = None
    themes: str | None = None
    interests: str | None = None
    capacity: int = Field(default=3, ge=0)


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    """One unit of work on an engine of its own, disposed of afterwards (these are one-off commands)."""
    engine = make_engine(settings.effective_database_url, pool_size=1)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def checked(**fields: Any) -> NewPerson:
    """A new person's details, checked; PeopleError says what is wrong with each field."""
    try:
        person = NewPerson(**fields)
    except ValidationError as exc:
        raise PeopleError(
            "; ".join(f"{e['loc'][0]}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
        ) from None
    if person.role not in ROLES:
        raise PeopleError(f"role must be one of {', '.join(ROLES)}")
    return person


def create(session: Session, person: NewPerson) -> int:
    """Store a new person (the caller commits); PeopleError if the address is taken."""
    if session.scalar(select(Person.id).where(Person.email == person.email)) is not None:
        raise PeopleError(f"{person.email} is already registered")
    row = Person(**person.model_dump())
    session.add(row)
    session.flush()
    return row.id


def add(settings: Settings, **fields: Any) -> int:
    person = checked(**fields)
    try:
        with _session(settings) as session:
            return create(session, person)
    except IntegrityError:  # registered by someone else at the same moment
        raise PeopleError(f"{person.email} is already registered") from None


def new_api_token(settings: Settings, email: str) -> str:
    token = new_token()
    with _session(settings) as session:
        person_id = session.scalar(select(Person.id).where(Person.email == email.strip().lower()))
        if person_id is None:
            raise PeopleError(f"nobody is registered as {email}")
        session.add(ApiToken(person_id=person_id, token_hash=hash_token(token)))
    return token


@dataclass(frozen=True)
class Revoked:
    tokens: int
    sessions: int
    links: int  # emailed sign-in links not yet used, which would otherwise start a new session


def revoke(settings: Settings, email: str) -> Revoked:
    """Revoke every API token and browser session of a person, and void their unused sign-in links.

    Each takes effect on the next request: the token and session checks read these rows every time.
    """
    with _session(settings) as session:
        person_id = session.scalar(select(Person.id).where(Person.email == email.strip().lower()))
        if person_id is None:
            raise PeopleError(f"nobody is registered as {email}")
        return revoke_person(session, person_id, now=utcnow())


def revoke_person(session: Session, person_id: int, *, now: datetime) -> Revoked:
    """`revoke` in the caller's unit of work."""

    def count(statement: Update) -> int:
        return claim(session, statement)

    return Revoked(
        tokens=count(
            update(ApiToken)
            .where(ApiToken.person_id == person_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        ),
        sessions=count(
            update(StaffSession)
            .where(StaffSession.person_id == person_id, StaffSession.revoked_at.is_(None))
            .values(revoked_at=now)
        ),
        links=count(
            update(SignInLink)
            .where(SignInLink.person_id == person_id, SignInLink.used_at.is_(None), SignInLink.expires_at > now)
            .values(expires_at=now)
        ),
    )
