"""Staff sign-in by emailed link, the signed-in browser's session, and sign-out.

1. `/sign-in` asks for a work email. If an active member of staff has it, a `sign_in_links`
   row is stored and `staff.sign_in_requested.v1` emitted in the same transaction; notify
   emails the signed link. Whoever asks sees the same "Check your email" page, so the page
   never tells whether an address belongs to anyone.
2. The link (`/sign-in/LINK_ID.EXPIRES.SIGNATURE`) opens a page with a button: mail scanners
   fetch links, so a GET changes nothing. The button's POST marks the link used with a
   conditional UPDATE (a second use, or the loser of a race, is refused), starts a session
   and sets the `ideahub_session` cookie, whose value the database keeps only as a SHA-256.
3. `shared.web.deps` recognises that cookie on every staff route; `/sign-out` revokes it.

A signed-out visitor to a staff page is sent to `/sign-in?next=PAGE` (`shared.web.pages`). The
form carries `next`, the link's row keeps it, and the button's POST ends there rather than on
`/staff`. Only a path on this site is kept (`local_path`), so a link cannot send anyone elsewhere.

The link's secret never reaches a log: it is not logged here, the request metrics record
route templates only, and the access log is off.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.bus import outbox
from shared.clock import utcnow
from shared.config import Settings
from shared.contracts.events import SignInRequestedV1
from shared.db.models import Person, SignInLink, StaffSession
from shared.db.states import claim
from shared.logging import get_logger
from shared.principal import ROLES, Principal
from shared.signing import BadSignature, sign_in_link_id
from shared.web import pages
from shared.web.deps import SESSION_COOKIE, hash_token, require, settings_of, uow, within_rate_limit

log = get_logger("ideahub.signin")

ROLE_NAMES = {"reviewer": "Reviewer", "sponsor": "Sponsor", "admin": "Administrator"}
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
HOME = "/staff"  # where a person lands after signing in when they asked for no page
WORK_PAGES = {"reviewer": "/reviews", "sponsor": "/offers"}  # where /staff sends those whose work has its own page
NEXT_MAX = 500  # sign_in_links.next_path


def local_path(value: str | None) -> str | None:
    """`value` if it is a path on this site to return to after signing in; None for anything else.

    A path starts with one "/". "//host" and "/\\host" are read by browsers as another site, and
    browsers drop tabs and line breaks from an address, so "/<TAB>/host" is one too: only printable
    ASCII without a backslash is kept, which also keeps a line break out of the Location header.
    """
    if not value or len(value) > NEXT_MAX or not value.isascii() or not value.isprintable():
        return None
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    return value


# Service functions: they take a session and never commit.


def request_link(
    session: Session, *, email: str, minutes: int, now: datetime, next_path: str | None = None
) -> uuid.UUID | None:
    """Store a link for the active person with this email and emit the event notify sends it from."""
    person_id = session.scalar(select(Person.id).where(Person.email == email, Person.active.is_(True)))
    if person_id is None:
        return None
    link = SignInLink(
        id=uuid.uuid4(),
        person_id=person_id,
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
        next_path=local_path(next_path),
    )
    session.add(link)
    session.flush()
    outbox.emit(
        session,
        SignInRequestedV1(
            link_id=link.id, person_id=person_id, expires_at=link.expires_at, correlation_id=uuid.uuid4()
        ),
    )
    return link.id


def link_usable(session: Session, link_id: uuid.UUID, *, now: datetime) -> bool:
    """Whether the link would sign someone in now; reads only."""
    found = session.scalar(
        select(SignInLink.id)
        .join(Person, Person.id == SignInLink.person_id)
        .where(
            SignInLink.id == link_id,
            SignInLink.used_at.is_(None),
            SignInLink.expires_at > now,
            Person.active.is_(True),
        )
    )
    return found is not None


def use_link(session: Session, link_id: uuid.UUID, *, hours: int, now: datetime) -> str | None:
    """Spend the link and start a session: the new session's cookie value, or None if the link cannot be used.

    The UPDATE's condition is the lock: of two requests with one link, only one finds it unused.
    """
    person_id = session.execute(
        update(SignInLink)
        .where(SignInLink.id == link_id, SignInLink.used_at.is_(None), SignInLink.expires_at > now)
        .values(used_at=now)
        .returning(SignInLink.person_id)
    ).scalar()
    if person_id is None or not session.scalar(select(Person.active).where(Person.id == person_id)):
        return None
    cookie = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=hash_token(cookie), person_id=person_id, created_at=now, expires_at=now + timedelta(hours=hours)
        )
    )
    return cookie


def destination(session: Session, link_id: uuid.UUID) -> str:
    """Where the person a link signed in goes next: the page they asked for, else their home page."""
    return local_path(session.scalar(select(SignInLink.next_path).where(SignInLink.id == link_id))) or HOME


def end_session(session: Session, cookie: str, *, now: datetime) -> bool:
    """Revoke the session a cookie names; False if there was none to revoke."""
    sessions = StaffSession.__table__
    revoke = (
        sessions.update()
        .where(sessions.c.token_hash == hash_token(cookie), sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return claim(session, revoke) == 1


# Pages


PAGES = pages.Pages("infra", site_name="Ideahub staff", home_url="/staff", private=True, navigation=True)
_page = PAGES.render
router = PAGES.router()


Staff = Annotated[Principal, Depends(require(*ROLES))]


def _secure(settings: Settings) -> bool:
    return settings.public_url.lower().startswith("https://")


def _email_error(email: str) -> str | None:
    if not email:
        return "Enter your email address"
    if len(email) > 320 or not _EMAIL.match(email):
        return "Enter an email address in the correct format, like name@example.gov.uk"
    return None


def _form(
    request: Request,
    *,
    email: str = "",
    error: str | None = None,
    signed_out: bool = False,
    next_path: str | None = None,
) -> Response:
    context = {
        "email": email,
        "errors": {"email": error} if error else {},
        "signed_out": signed_out,
        "next_path": local_path(next_path),
    }
    return _page(request, "sign_in.html", context, status_code=422 if error else 200)


@router.get("/sign-in")
def sign_in_page(
    request: Request, done: str | None = None, next_path: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    return _form(request, signed_out=done == "signed-out", next_path=next_path)


@router.post("/sign-in", dependencies=[Depends(within_rate_limit)])
def ask_for_link(request: Request, form: pages.PostedForm) -> Response:
    settings = settings_of(request)
    email = form.get("email", "").strip().lower()
    next_path = local_path(form.get("next"))
    error = _email_error(email)
    if error:
        return _form(request, email=email, error=error, next_path=next_path)
    # One address cannot be sent a flood of links; over the limit, the answer is the same and no email goes.
    if request.app.state.sign_in_limiter.take(email) is None:
        with uow(request) as session:
            link_id = request_link(
                session, email=email, minutes=settings.sign_in_link_minutes, now=utcnow(), next_path=next_path
            )
        log.info("staff.sign_in_asked", known=link_id is not None)
    else:
        log.warning("staff.sign_in_limited")
    return _page(request, "check_email.html", {"email": email, "minutes": settings.sign_in_link_minutes})


def _refused(request: Request, reason: str) -> Response:
    log.info("staff.sign_in_refused", reason=reason)
    minutes = settings_of(request).sign_in_link_minutes
    return _page(request, "refused.html", {"minutes": minutes}, status_code=400)


@dataclass(frozen=True)
class _Link:
    id: uuid.UUID | None
    reason: str


def _read_link(settings: Settings, signed: str) -> _Link:
    try:
        return _Link(sign_in_link_id(settings.resolved_secret_key(), signed, now=utcnow()), "")
    except BadSignature as exc:
        return _Link(None, type(exc).__name__)


@router.get("/sign-in/{signed}")
def confirm_sign_in(request: Request, signed: str) -> Response:
    link = _read_link(settings_of(request), signed)
    if link.id is None:
        return _refused(request, link.reason)
    with uow(request) as session:
        usable = link_usable(session, link.id, now=utcnow())
    if not usable:
        return _refused(request, "used, expired or unknown")
    return _page(request, "confirm.html", {"action": f"/sign-in/{signed}"})


@router.post("/sign-in/{signed}", dependencies=[Depends(within_rate_limit)])
def sign_in(request: Request, signed: str, _form: pages.PostedForm) -> Response:
    settings = settings_of(request)
    link = _read_link(settings, signed)
    if link.id is None:
        return _refused(request, link.reason)
    now = utcnow()
    with uow(request) as session:
        cookie = use_link(session, link.id, hours=settings.session_hours, now=now)
        previous = request.cookies.get(SESSION_COOKIE)
        if cookie is not None and previous:
            end_session(session, previous, now=now)  # this browser's earlier session, whoever's it was
        going_to = destination(session, link.id) if cookie is not None else HOME
    if cookie is None:
        return _refused(request, "used, expired or unknown")
    log.info("staff.signed_in", link_id=str(link.id))
    response = RedirectResponse(going_to, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
        path="/",
    )
    return response


@router.get("/staff")
def staff_home(request: Request, person: Staff) -> Response:
    """A reviewer's work is their review tasks, a sponsor's their offers; administrators are told what they can do."""
    if person.role in WORK_PAGES:
        return RedirectResponse(WORK_PAGES[person.role], status_code=303)
    context = {"person": person, "role_name": ROLE_NAMES.get(person.role, person.role)}
    return _page(request, "staff.html", context)


@router.post("/sign-out")
def sign_out(request: Request, _form: pages.PostedForm) -> Response:
    """Ends this browser's session; with none, there is nothing to end and the answer is the same."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with uow(request) as session:
            ended = end_session(session, cookie, now=utcnow())
        log.info("staff.signed_out", ended=ended)
    response = RedirectResponse("/sign-in?done=signed-out", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=_secure(settings_of(request)), httponly=True, samesite="lax"
    )
    return response
