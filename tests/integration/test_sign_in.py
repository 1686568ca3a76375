"""Staff sign-in by emailed link, end to end: the page, the outbox, notify's real email, the link, the session.

The email is the one notify writes (its .eml folder), read back and followed as a person would.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import html
import json
import logging
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from infra import people
from infra.app import create_app
from infra.composition import Runtime
from infra.signin import use_link
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.notify.handlers import handle_event, notifier_for
from services.review.screening import screen_idea
from shared.clock import utcnow
from shared.config import Settings, load_settings
from shared.contracts.events import IdeaReceivedV1
from shared.db.models import Notification, OutboxMessage, Person, ReviewTask, SignInLink, StaffSession
from shared.db.uow import unit_of_work
from shared.signing import sign_in_token
from shared.web.deps import SESSION_COOKIE, hash_token

SUBJECT = "Your link to sign in to Ideahub"
REFUSED = "This link has been used or has expired"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"(https?://\S+/sign-in/[A-Za-z0-9_.-]+)")
_SIGNED_IN_AS = re.compile(r'id="signed-in-as-name"><span class="govuk-visually-hidden">Signed in as </span>([^<]+)<')
SIGN_IN_FIRST = "/sign-in?next=%2Fstaff"  # where a browser that is not signed in is sent from /staff


def signed_in_as(page: httpx.Response) -> str | None:
    """The name in the page's header, if it shows a signed-in person."""
    assert page.status_code == 200, page.status_code
    found = _SIGNED_IN_AS.search(page.text)
    return found[1] if found else None


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, page.text
    return found[1]


@dataclass
class Site:
    settings: Settings
    runtime: Runtime
    app: FastAPI
    clients: list[TestClient] = field(default_factory=list)
    seen: set[Path] = field(default_factory=set)

    def browser(self) -> TestClient:
        """A new browser: its own cookies. An https public address gets an https test client."""
        base = "https://testserver" if self.settings.public_url.startswith("https") else "http://testserver"
        client = TestClient(self.app, base_url=base, follow_redirects=False)
        self.clients.append(client)
        return client

    def person(self, role: str = "reviewer", *, name: str = "Rhona Reviewer") -> str:
        address = f"{role}-{uuid.uuid4().hex[:8]}@example.gov.uk"
        people.add(self.settings, email=address, name=name, role=role)
        return address

    def ask(self, client: TestClient, address: str) -> httpx.Response:
        form = client.get("/sign-in")
        assert form.status_code == 200
        return client.post("/sign-in", data={"csrf_token": csrf_of(form), "email": address})

    def notify(self) -> None:
        """Hand every event in the outbox to notify, as its worker would (it ignores those it has handled)."""
        notifier = notifier_for(self.settings, self.runtime.session_factory)
        with unit_of_work(self.runtime.session_factory) as session:
            payloads = session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id)).all()
        for payload in payloads:
            handle_event(notifier, json.loads(payload))

    def new_mail_to(self, address: str) -> list[email.message.EmailMessage]:
        found = []
        for path in sorted(self.settings.mail_dir.glob("*.eml")):
            if path in self.seen:
                continue
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address in str(message["To"]):
                self.seen.add(path)
                found.append(message)
        return found  # type: ignore[return-value]

    def emailed_link(self, address: str) -> str:
        """The path of the one new sign-in link emailed to `address`."""
        self.notify()
        (message,) = self.new_mail_to(address)
        assert message["Subject"] == SUBJECT
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        url = _LINK.search(text)
        assert url, text
        assert url[1].startswith(self.settings.public_url.rstrip("/") + "/sign-in/")
        assert f'href="{url[1]}"' in html
        return urlsplit(url[1]).path

    def sign_in(self, client: TestClient, path: str) -> httpx.Response:
        page = client.get(path)
        assert page.status_code == 200, page.text
        return client.post(path, data={"csrf_token": csrf_of(page)})

    def signed_in(self, client: TestClient, address: str) -> str:
        """Sign in through the whole flow; the session cookie's value."""
        assert self.ask(client, address).status_code == 200
        assert self.sign_in(client, self.emailed_link(address)).status_code == 303
        return str(client.cookies[SESSION_COOKIE])

    def links(self, address: str | None = None) -> list[SignInLink]:
        with unit_of_work(self.runtime.session_factory) as session:
            rows = list(session.scalars(select(SignInLink).order_by(SignInLink.created_at)))
            session.expunge_all()
        return rows

    def execute(self, statement: object) -> None:
        with unit_of_work(self.runtime.session_factory) as session:
            session.execute(statement)  # type: ignore[call-overload]

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.runtime.close()


def site_for(settings: Settings) -> Site:
    runtime = Runtime(settings)
    return Site(settings, runtime, create_app(settings, runtime))


@pytest.fixture
def site(sqlite_settings: Settings) -> Iterator[Site]:
    made = site_for(sqlite_settings)
    yield made
    made.close()


def session_cookie_header(response: httpx.Response) -> str:
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{SESSION_COOKIE}=")]
    return header


# --- the whole flow -------------------------------------------------------------------------------------------------


def test_the_emailed_link_signs_in_once_and_opening_it_does_not_use_it(stack) -> None:  # type: ignore[no-untyped-def]
    """On every database: ask, get the email, open the link twice, sign in, and the link is spent."""
    site = site_for(stack.settings())
    try:
        address = site.person("reviewer", name="Rhona Reviewer")
        browser = site.browser()
        asked = site.ask(browser, address.upper())  # addresses are matched whatever their case
        assert asked.status_code == 200
        assert "Check your email" in asked.text
        path = site.emailed_link(address)

        for _ in range(2):  # a mail scanner, then the person: opening the link changes nothing
            opened = browser.get(path)
            assert opened.status_code == 200
            assert ">Sign in</button>" in opened.text
        (link,) = [row for row in site.links() if row.used_at is None and path.split("/")[-1].startswith(row.id.hex)]

        assert signed_in_as(opened) is None
        signed_in = browser.post(path, data={"csrf_token": csrf_of(opened)})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/staff"
        home = browser.get("/staff")
        assert (home.status_code, home.headers["location"]) == (303, "/reviews")  # a reviewer's work
        assert signed_in_as(browser.get("/reviews")) == "Rhona Reviewer"
        assert browser.get("/api/v1/reviews/tasks").json() == []  # the API knows the browser too

        again = browser.post(path, data={"csrf_token": csrf_of(opened)})
        assert again.status_code == 400
        assert REFUSED in again.text
        elsewhere = site.browser()
        assert elsewhere.get(path).status_code == 400
        later = elsewhere.post(path, data={"csrf_token": csrf_of(elsewhere.get("/sign-in"))})
        assert later.status_code == 400
        assert SESSION_COOKIE not in elsewhere.cookies

        cookie = str(browser.cookies[SESSION_COOKIE])
        with unit_of_work(site.runtime.session_factory) as session:
            (stored,) = session.scalars(
                select(StaffSession.token_hash).where(StaffSession.person_id == link.person_id)
            ).all()
            used_at = session.scalar(select(SignInLink.used_at).where(SignInLink.id == link.id))
        assert stored == hashlib.sha256(cookie.encode()).hexdigest()  # only the hash is kept
        assert cookie not in stored
        assert used_at is not None
    finally:
        site.close()


def test_concurrent_uses_of_one_link_start_one_session(stack) -> None:  # type: ignore[no-untyped-def]
    """The conditional UPDATE decides: of several requests racing with one link, exactly one signs in."""
    settings = stack.settings()
    site = site_for(settings)
    try:
        person_id = people.add(settings, email=f"race-{uuid.uuid4().hex[:8]}@example.gov.uk", name="R", role="admin")
        link_id = uuid.uuid4()
        now = utcnow()
        with unit_of_work(site.runtime.session_factory) as session:
            session.add(SignInLink(id=link_id, person_id=person_id, expires_at=now + timedelta(minutes=5)))
        start = threading.Barrier(6)
        cookies: list[str | None] = []

        def use() -> None:
            start.wait()
            with unit_of_work(site.runtime.session_factory) as session:
                cookies.append(use_link(session, link_id, hours=1, now=utcnow()))

        threads = [threading.Thread(target=use) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(cookies) == 6
        assert len([c for c in cookies if c]) == 1
        with unit_of_work(site.runtime.session_factory) as session:
            sessions = session.scalar(
                select(func.count()).select_from(StaffSession).where(StaffSession.person_id == person_id)
            )
        assert sessions == 1
    finally:
        site.close()


# --- back to the page asked for -------------------------------------------------------------------------------------


def review_task_for(site: Site, address: str) -> int:
    """A screened idea's review task, given to the only reviewer there is: the one with this address."""
    with unit_of_work(site.runtime.session_factory) as session:
        created = submit_idea(
            session,
            Submission(title="Quieter wards at night", problem="P", idea="I", email="nadia@example.gov.uk"),
            channel="api",
            departments=site.settings.departments,
        )
    with unit_of_work(site.runtime.session_factory) as session:
        payload = session.scalar(
            select(OutboxMessage.payload).where(
                OutboxMessage.idea_id == created.id, OutboxMessage.event_type == "idea.received.v1"
            )
        )
    assert payload is not None
    with unit_of_work(site.runtime.session_factory) as session:
        screen_idea(session, IdeaReceivedV1.model_validate_json(payload), settings=site.settings)
    with unit_of_work(site.runtime.session_factory) as session:
        task_id = session.scalar(
            select(ReviewTask.id)
            .join(Person, Person.id == ReviewTask.reviewer_id)
            .where(ReviewTask.idea_id == created.id, Person.email == address)
        )
    assert task_id is not None
    site.notify()
    site.new_mail_to(address)  # "You have a new idea to review": read, so that the next email is the link
    return task_id


def test_a_signed_out_visitor_to_a_staff_page_signs_in_and_lands_on_it(site: Site) -> None:
    address = site.person("reviewer", name="Rhona Reviewer")
    wanted = f"/reviews/tasks/{review_task_for(site, address)}?from=email"
    browser = site.browser()

    sent = browser.get(wanted)
    assert sent.status_code == 303
    to = urlsplit(sent.headers["location"])
    assert (to.path, parse_qs(to.query)) == ("/sign-in", {"next": [wanted]})
    form = browser.get(sent.headers["location"])
    assert f'<input type="hidden" name="next" value="{html.escape(wanted)}">' in form.text
    asked = browser.post("/sign-in", data={"csrf_token": csrf_of(form), "email": address, "next": wanted})
    assert asked.status_code == 200
    (link,) = site.links()
    assert link.next_path == wanted

    signed_in = site.sign_in(browser, site.emailed_link(address))
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, wanted)
    page = browser.get(wanted)
    assert page.status_code == 200
    assert "Quieter wards at night" in page.text


@pytest.mark.parametrize(
    "hostile", ["//evil.example", "https://evil.example", "/\\evil.example", "/\t/evil.example", "javascript:alert(1)"]
)
def test_a_next_page_on_another_site_is_ignored_and_sign_in_ends_on_staff(site: Site, hostile: str) -> None:
    address = site.person("sponsor")
    browser = site.browser()
    form = browser.get("/sign-in", params={"next": hostile})
    assert 'name="next"' not in form.text
    asked = browser.post("/sign-in", data={"csrf_token": csrf_of(form), "email": address, "next": hostile})
    assert asked.status_code == 200
    (link,) = site.links()
    assert link.next_path is None
    signed_in = site.sign_in(browser, site.emailed_link(address))
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/staff")


def test_a_stored_next_page_is_checked_again_when_the_link_is_used(site: Site) -> None:
    """Whatever put it in the database, a link does not send its person to another site."""
    address = site.person("admin")
    browser = site.browser()
    site.ask(browser, address)
    path = site.emailed_link(address)
    site.execute(update(SignInLink).values(next_path="//evil.example/staff"))
    signed_in = site.sign_in(browser, path)
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/staff")


# --- what is refused ------------------------------------------------------------------------------------------------


def test_an_unknown_or_inactive_address_gets_the_same_page_and_no_email(site: Site) -> None:
    known = site.person("sponsor")
    inactive = site.person("admin")
    site.execute(update(Person).where(Person.email == inactive).values(active=False))
    nobody = "nobody@example.gov.uk"
    browser = site.browser()
    answers = {address: site.ask(browser, address) for address in (known, nobody, inactive)}
    assert {a.status_code for a in answers.values()} == {200}
    pages = {answers[address].text.replace(address, "ADDRESS") for address in answers}
    assert len(pages) == 1, "the page must not tell whether an address is registered"
    assert "Check your email" in pages.pop()

    site.notify()
    assert len(site.new_mail_to(known)) == 1
    assert site.new_mail_to(nobody) == []
    assert site.new_mail_to(inactive) == []
    assert len(site.links()) == 1


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter your email address"),
        ("   ", "Enter your email address"),
        ("rhona", "Enter an email address in the correct format, like name@example.gov.uk"),
        ("a@b.c" + "x" * 400, "Enter an email address in the correct format, like name@example.gov.uk"),
    ],
)
def test_a_mistyped_address_is_asked_for_again_and_nothing_is_stored(site: Site, typed: str, message: str) -> None:
    answer = site.ask(site.browser(), typed)
    assert answer.status_code == 422
    assert message in answer.text
    assert "govuk-error-summary" in answer.text
    assert site.links() == []


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(site: Site) -> None:
    address = site.person()
    browser = site.browser()
    browser.get("/sign-in")
    refused = browser.post("/sign-in", data={"email": address, "csrf_token": "made-up"})
    assert refused.status_code == 400
    assert "Your form has expired" in refused.text
    assert site.links() == []

    assert site.ask(browser, address).status_code == 200
    path = site.emailed_link(address)
    assert browser.post(path, data={}).status_code == 400
    assert [link.used_at for link in site.links()] == [None]
    assert SESSION_COOKIE not in browser.cookies


def test_an_expired_link_is_refused(site: Site) -> None:
    address = site.person()
    browser = site.browser()
    site.ask(browser, address)
    path = site.emailed_link(address)
    site.execute(update(SignInLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    opened = browser.get(path)
    assert opened.status_code == 400
    assert REFUSED in opened.text
    used = browser.post(path, data={"csrf_token": csrf_of(browser.get("/sign-in"))})
    assert used.status_code == 400
    assert REFUSED in used.text
    assert SESSION_COOKIE not in browser.cookies

    # A link whose signed expiry has passed is refused before its row is even read.
    (link,) = site.links()
    site.execute(update(SignInLink).values(expires_at=utcnow() + timedelta(minutes=10)))
    late = sign_in_token(site.settings.resolved_secret_key(), link.id, utcnow() - timedelta(seconds=1))
    assert browser.get(f"/sign-in/{late}").status_code == 400
    assert browser.post(f"/sign-in/{late}", data={"csrf_token": csrf_of(browser.get("/sign-in"))}).status_code == 400
    assert [row.used_at for row in site.links()] == [None]


def test_a_tampered_or_unknown_link_is_refused_and_spends_nothing(site: Site) -> None:
    address = site.person()
    browser = site.browser()
    site.ask(browser, address)
    path = site.emailed_link(address)
    link_hex, expires, signature = path.rsplit("/", 1)[1].split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    secret = site.settings.resolved_secret_key()
    forged = [
        f"{link_hex}.{expires}.{flipped}",  # the signature changed
        f"{link_hex}.{int(expires) + 86400}.{signature}",  # a longer life written in
        f"{uuid.uuid4().hex}.{expires}.{signature}",  # another row named
        f"{link_hex}.{expires}",  # no signature
        f"{link_hex}.{expires}.{signature}.x",
        "not-a-link",
        sign_in_token(secret, uuid.uuid4(), utcnow() + timedelta(minutes=5)),  # ours, but for no row
        sign_in_token("another installation's key", uuid.UUID(link_hex), utcnow() + timedelta(minutes=5)),
    ]
    token = csrf_of(browser.get("/sign-in"))
    for value in forged:
        opened = browser.get(f"/sign-in/{value}")
        assert (opened.status_code, REFUSED in opened.text) == (400, True), value
        used = browser.post(f"/sign-in/{value}", data={"csrf_token": token})
        assert (used.status_code, REFUSED in used.text) == (400, True), value
    assert SESSION_COOKIE not in browser.cookies
    assert site.sign_in(browser, path).status_code == 303  # the real link was not spent by any of that


def test_an_address_asking_too_often_gets_the_same_page_and_no_more_links(tmp_path: Path) -> None:
    from shared.db.migrate import upgrade

    settings = load_settings(data_dir=tmp_path, queue_prefix="unit.", sign_in_rate_limit="2/hour")
    upgrade(settings.effective_database_url)
    site = site_for(settings)
    try:
        address = site.person()
        browser = site.browser()
        answers = [site.ask(browser, address) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert answers[2].text == answers[0].text
        site.notify()
        assert len(site.new_mail_to(address)) == 2
        assert len(site.links()) == 2
    finally:
        site.close()


# --- the session ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("public_url", "secure"), [("http://localhost:8000", False), ("https://ideas.example.gov.uk", True)]
)
def test_the_session_cookie_is_httponly_samesite_lax_and_secure_when_the_site_is_https(
    tmp_path: Path, public_url: str, secure: bool
) -> None:
    from shared.db.migrate import upgrade

    settings = load_settings(data_dir=tmp_path, queue_prefix="unit.", public_url=public_url)
    upgrade(settings.effective_database_url)
    site = site_for(settings)
    try:
        address = site.person()
        browser = site.browser()
        site.ask(browser, address)
        signed_in = site.sign_in(browser, site.emailed_link(address))
        assert signed_in.status_code == 303
        flags = {part.strip().lower() for part in session_cookie_header(signed_in).split(";")[1:]}
        assert {"httponly", "samesite=lax", "path=/", f"max-age={8 * 3600}"} <= flags
        assert ("secure" in flags) is secure
        assert browser.get("/reviews").status_code == 200
    finally:
        site.close()


def test_a_session_ends_when_it_expires_and_when_its_browser_signs_out(site: Site) -> None:
    address = site.person("sponsor", name="Sofia Sponsor")
    browser = site.browser()
    cookie = site.signed_in(browser, address)
    assert signed_in_as(browser.get("/offers")) == "Sofia Sponsor"

    site.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == hash_token(cookie))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    expired = browser.get("/staff")
    assert (expired.status_code, expired.headers["location"]) == (303, SIGN_IN_FIRST)
    assert signed_in_as(browser.get("/sign-in")) is None
    assert browser.get("/api/v1/offers").status_code == 401

    cookie = site.signed_in(browser, address)
    home = browser.get("/offers")
    assert home.status_code == 200
    copy = site.browser()  # the cookie, copied by someone before the sign-out
    copy.cookies.set(SESSION_COOKIE, cookie)
    assert copy.get("/api/v1/offers").status_code == 200
    signed_out = browser.post("/sign-out", data={"csrf_token": csrf_of(home)})
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/sign-in?done=signed-out"
    assert "max-age=0" in session_cookie_header(signed_out).lower()
    assert SESSION_COOKIE not in browser.cookies
    assert "You have signed out" in browser.get(signed_out.headers["location"]).text
    with unit_of_work(site.runtime.session_factory) as session:
        revoked_at = session.scalar(
            select(StaffSession.revoked_at).where(StaffSession.token_hash == hash_token(cookie))
        )
    assert revoked_at is not None
    assert copy.get("/staff").headers["location"] == SIGN_IN_FIRST
    assert copy.get("/api/v1/offers").status_code == 401


def test_signing_in_again_in_a_browser_ends_its_earlier_session(site: Site) -> None:
    first, second = site.person("reviewer", name="Rhona Reviewer"), site.person("admin", name="Alex Admin")
    browser = site.browser()
    earlier = site.signed_in(browser, first)
    copy = site.browser()
    copy.cookies.set(SESSION_COOKIE, earlier)
    assert signed_in_as(copy.get("/reviews")) == "Rhona Reviewer"
    site.signed_in(browser, second)
    assert signed_in_as(browser.get("/staff")) == "Alex Admin"
    assert copy.get("/reviews").headers["location"] == "/sign-in?next=%2Freviews"


def test_revoking_a_person_ends_their_tokens_sessions_and_unused_links_at_once(site: Site) -> None:
    address, other = site.person("admin", name="Alex Admin"), site.person("admin", name="Ada Admin")
    bearer = {"Authorization": f"Bearer {people.new_api_token(site.settings, address)}"}
    other_bearer = {"Authorization": f"Bearer {people.new_api_token(site.settings, other)}"}
    browser = site.browser()
    site.signed_in(browser, address)
    pending_browser = site.browser()
    site.ask(pending_browser, address)
    pending = site.emailed_link(address)
    script = site.browser()
    assert script.get("/api/v1/admin/notifications", headers=bearer).status_code == 200
    assert browser.get("/staff").status_code == 200

    assert people.revoke(site.settings, f" {address.upper()} ") == people.Revoked(tokens=1, sessions=1, links=1)

    refused = script.get("/api/v1/admin/notifications", headers=bearer)
    assert refused.status_code == 401
    assert refused.json() == {"error": "that token is not valid"}
    assert browser.get("/staff").headers["location"] == SIGN_IN_FIRST
    assert browser.get("/api/v1/admin/notifications").status_code == 401
    assert pending_browser.get(pending).status_code == 400
    assert script.get("/api/v1/admin/notifications", headers=other_bearer).status_code == 200  # nobody else's
    assert people.revoke(site.settings, address) == people.Revoked(tokens=0, sessions=0, links=0)
    with pytest.raises(people.PeopleError, match="nobody is registered as nobody@example.gov.uk"):
        people.revoke(site.settings, "nobody@example.gov.uk")


@pytest.mark.processes
def test_ideahub_users_revoke_says_what_it_revoked_and_refuses_an_unknown_address(site: Site) -> None:
    address = site.person("reviewer")
    bearer = {"Authorization": f"Bearer {people.new_api_token(site.settings, address)}"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")}
    env["IDEAHUB_DATA_DIR"] = str(site.settings.data_dir)

    def ideahub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "infra.cli", *args], env=env, capture_output=True, text=True, timeout=60
        )

    done = ideahub("users", "revoke", address)
    assert done.returncode == 0, done.stderr
    assert f"Revoked 1 API token(s) and 0 session(s) of {address}" in done.stdout
    assert site.browser().get("/api/v1/reviews/tasks", headers=bearer).status_code == 401
    unknown = ideahub("users", "revoke", "nobody@example.gov.uk")
    assert (unknown.returncode, unknown.stderr.strip()) == (2, "nobody is registered as nobody@example.gov.uk")


# --- CSRF for a signed-in browser -----------------------------------------------------------------------------------


def test_a_signed_in_browser_s_unsafe_request_needs_its_csrf_token_and_a_bearer_token_does_not(site: Site) -> None:
    address = site.person("admin", name="Alex Admin")
    browser = site.browser()
    site.signed_in(browser, address)
    token = csrf_of(browser.get("/staff"))
    resend = "/api/v1/admin/notifications/999999/resend"  # allowed shows as 404: there is no such notification

    assert browser.get("/api/v1/admin/notifications").status_code == 200  # reading needs no token
    refused = browser.post(resend)
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["error"]
    assert browser.post(resend, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert browser.post(resend, data={"csrf_token": "forged"}).status_code == 403
    other_browser = site.browser()
    someone_elses = csrf_of(other_browser.get("/sign-in"))  # valid, but for another browser's cookie
    assert browser.post(resend, headers={"X-CSRF-Token": someone_elses}).status_code == 403
    assert browser.post(resend, headers={"X-CSRF-Token": token}).status_code == 404
    assert browser.post(resend, data={"csrf_token": token}).status_code == 404

    bearer = {"Authorization": f"Bearer {people.new_api_token(site.settings, address)}"}
    assert site.browser().post(resend, headers=bearer).status_code == 404


# --- what is kept and logged ----------------------------------------------------------------------------------------


def test_the_link_and_the_session_never_reach_a_log(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    """Only the notifications table keeps the link, inside the email it sent: it works once, for minutes."""
    caplog.set_level(logging.DEBUG)
    address = site.person()
    browser = site.browser()
    with structlog.testing.capture_logs() as logs:
        site.ask(browser, address)
        path = site.emailed_link(address)
        assert site.sign_in(browser, path).status_code == 303
        again = browser.post(path, data={"csrf_token": csrf_of(browser.get("/sign-in"))})
        assert again.status_code == 400  # a second use, refused
    signature = path.rsplit(".", 1)[1]
    cookie = str(browser.cookies[SESSION_COOKIE])
    # structlog writes to capture_logs() unless an earlier test in this process configured it to go through
    # the standard library (shared.logging, with cached loggers): then caplog has the events.
    events = {entry["event"] for entry in logs} | {
        r.msg.get("event") for r in caplog.records if isinstance(r.msg, dict)
    }
    assert {"staff.sign_in_asked", "notify.recorded", "staff.signed_in", "staff.sign_in_refused"} <= events
    # The test's own HTTP client (httpx) logs the addresses it requests; the server side must not.
    lines = [repr(entry) for entry in logs] + [r.getMessage() for r in caplog.records if r.name != "httpx"]
    for line in lines:
        assert signature not in line
        assert cookie not in line
    with unit_of_work(site.runtime.session_factory) as session:
        kept = session.scalars(select(Notification.body).where(Notification.template == "staff/sign_in")).all()
    assert len(kept) == 1
