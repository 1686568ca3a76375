"""FastAPI dependencies shared by the services' routers.

The app factory puts `settings` and `session_factory` on `app.state`; routes open
their unit of work with `uow(request)` so that the commit happens before the
response is sent.

Who is asking is decided here and nowhere else: a bearer token (`ideahub users token`)
or a signed-in browser's session cookie, of a person who is still active. Every staff
route and page depends on `require(*roles)`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import ApiToken, Person, StaffSession
from shared.db.uow import unit_of_work
from shared.principal import Principal
from shared.web.csrf import FIELD as CSRF_FIELD
from shared.web.csrf import Csrf

SESSION_COOKIE = "ideahub_session"
CSRF_HEADER = "X-CSRF-Token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "ih_" + secrets.token_urlsafe(32)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@contextmanager
def uow(request: Request) -> Iterator[Session]:
    with unit_of_work(request.app.state.session_factory) as session:
        yield session


_bearer = HTTPBearer(auto_error=False, description="A token from `ideahub users token EMAIL`")


def token_principal(session: Session, token: str) -> Principal | None:
    """The active person an unrevoked API token belongs to."""
    row = session.execute(
        select(Person.id, Person.email, Person.name, Person.role)
        .join(ApiToken, ApiToken.person_id == Person.id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None), Person.active.is_(True))
    ).one_or_none()
    return Principal(row.id, row.email, row.name, row.role) if row else None


def session_principal(session: Session, cookie: str) -> Principal | None:
    """The active person a browser's session cookie signs in: unexpired and unrevoked."""
    row = session.execute(
        select(Person.id, Person.email, Person.name, Person.role)
        .join(StaffSession, StaffSession.person_id == Person.id)
        .where(
            StaffSession.token_hash == hash_token(cookie),
            StaffSession.revoked_at.is_(None),
            StaffSession.expires_at > utcnow(),
            Person.active.is_(True),
        )
    ).one_or_none()
    return Principal(row.id, row.email, row.name, row.role) if row else None


async def _csrf_submitted(request: Request) -> str | None:
    """The CSRF token sent with an unsafe request from a browser with a session: header, else form field.

    Read here, before the route, because only here is it known that the cookie is what signs
    the request in; a form body is parsed once and kept, so the route reads the same form.
    """
    if request.method not in _UNSAFE or SESSION_COOKIE not in request.cookies or "authorization" in request.headers:
        return None
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header
    if request.headers.get("content-type", "").startswith(_FORMS):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    csrf_submitted: Annotated[str | None, Depends(_csrf_submitted)],
) -> Principal:
    # A bearer token, when sent, decides alone: a script never falls back on a browser's cookie.
    if credentials is not None and credentials.credentials:
        with unit_of_work(request.app.state.session_factory) as session:
            principal = token_principal(session, credentials.credentials)
        if principal is None:
            raise HTTPException(401, "that token is not valid", {"WWW-Authenticate": "Bearer"})
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise HTTPException(401, "sign in: send 'Authorization: Bearer TOKEN'", {"WWW-Authenticate": "Bearer"})
    with unit_of_work(request.app.state.session_factory) as session:
        principal = session_principal(session, cookie)
    if principal is None:
        raise HTTPException(401, "your session has ended: sign in again", {"WWW-Authenticate": "Bearer"})
    # The browser sends the cookie with requests another site makes it send; only our pages know the token.
    if request.method in _UNSAFE and not Csrf(settings_of(request)).valid(request, csrf_submitted):
        raise HTTPException(403, f"a signed-in browser must send the {CSRF_HEADER} header or the form's csrf_token")
    request.state.principal = principal  # the page's header shows who is signed in without asking again
    return principal


def require(*roles: str) -> Callable[..., Principal]:
    """A dependency that lets in only the given roles (401 without a valid token or session, 403 for another role)."""

    def check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(403, f"this needs the role {' or '.join(roles)}")
        return principal

    return check


def client_key(request: Request) -> str:
    """Who is asking, for rate limits: the client's address.

    Not the bearer token: the public routes do not check it, so a client could send a new made-up
    token with each request and never reach its limit. Behind a reverse proxy, run uvicorn with
    `--forwarded-allow-ips` so that the address is the real client's.
    """
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
