"""FastAPI dependencies shared by the services' routers.

The app factory puts `settings` and `session_factory` on `app.state`; routes open
their unit of work with `uow(request)` so that the commit happens before the
response is sent.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db.models import ApiToken, Person
from shared.db.uow import unit_of_work

ROLES = ("reviewer", "sponsor", "admin")


@dataclass(frozen=True)
class Principal:
    id: int
    email: str
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "ih_" + secrets.token_urlsafe(32)


def settings_of(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


@contextmanager
def uow(request: Request) -> Iterator[Session]:
    with unit_of_work(request.app.state.session_factory) as session:
        yield session


_bearer = HTTPBearer(auto_error=False, description="A token from `ideahub users token EMAIL`")


def _principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, "sign in: send 'Authorization: Bearer TOKEN'", {"WWW-Authenticate": "Bearer"})
    with unit_of_work(request.app.state.session_factory) as session:
        row = session.execute(
            select(Person.id, Person.email, Person.name, Person.role)
            .join(ApiToken, ApiToken.person_id == Person.id)
            .where(
                ApiToken.token_hash == hash_token(credentials.credentials),
                ApiToken.revoked_at.is_(None),
                Person.active.is_(True),
            )
        ).one_or_none()
    if row is None:
        raise HTTPException(401, "that token is not valid", {"WWW-Authenticate": "Bearer"})
    return Principal(row.id, row.email, row.name, row.role)


def require(*roles: str) -> Callable[..., Principal]:
    """A dependency that lets in only the given roles (401 without a valid token, 403 for another role)."""

    def check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(403, f"this needs the role {' or '.join(roles)}")
        return principal

    return check


def client_key(request: Request) -> str:
    """Who is asking, for rate limits: the bearer token when there is one, else the client's address."""
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer ") and len(authorization) > 7:
        return "token:" + hash_token(authorization[7:].strip())
    return "addr:" + (request.client.host if request.client else "unknown")


def within_rate_limit(request: Request) -> None:
    """A dependency that answers 429, with Retry-After, to a client over `IDEAHUB_API_RATE_LIMIT`."""
    limiter = request.app.state.rate_limiter
    wait = limiter.take(client_key(request))
    if wait is not None:
        raise HTTPException(
            429,
            f"too many requests: the limit is {limiter.rate}; try again in {limiter.retry_after(wait)} s",
            {"Retry-After": limiter.retry_after(wait)},
        )
