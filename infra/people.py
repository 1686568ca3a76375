"""Adding staff and their API tokens (`ideahub users ...`, the demo data, tests)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shared.config import Settings
from shared.db.models import ApiToken, Person
from shared.db.uow import unit_of_work
from shared.web.deps import ROLES, hash_token, new_token


class PeopleError(Exception):
    pass


class NewPerson(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)
    name: str = Field(min_length=1, max_length=200)
    role: str
    department: str | None = None
    themes: str | None = None
    interests: str | None = None
    capacity: int = Field(default=3, ge=0)


def _factory(settings: Settings):  # type: ignore[no-untyped-def]
    from infra.composition import Runtime

    return Runtime(settings).session_factory


def add(settings: Settings, **fields: object) -> int:
    try:
        person = NewPerson(**fields)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise PeopleError("; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from None
    if person.role not in ROLES:
        raise PeopleError(f"role must be one of {', '.join(ROLES)}")
    try:
        with unit_of_work(_factory(settings)) as session:
            row = Person(**person.model_dump() | {"email": person.email.lower()})
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        raise PeopleError(f"{person.email} is already registered") from None


def new_api_token(settings: Settings, email: str) -> str:
    token = new_token()
    with unit_of_work(_factory(settings)) as session:
        person_id = session.scalar(select(Person.id).where(Person.email == email.strip().lower()))
        if person_id is None:
            raise PeopleError(f"nobody is registered as {email}")
        session.add(ApiToken(person_id=person_id, token_hash=hash_token(token)))
    return token
