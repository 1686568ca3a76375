"""What a browser meets around the pages of each stage: error pages, the footer's pages, the favicon, the
staff header, and the API documentation served without a CDN. Through the real app on SQLite.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from infra import api_docs, people
from infra.app import create_app
from infra.composition import Runtime
from infra.signin import use_link
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import SignInLink
from shared.db.uow import unit_of_work
from shared.signing import sign_in_token
from shared.web import pages
from shared.web.csrf import COOKIE as CSRF_COOKIE
from shared.web.deps import SESSION_COOKIE

# What Chromium and Firefox send when they open a page.
CHROME = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
    "application/signed-exchange;v=b3;q=0.7"
)
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
BROWSER = {"Accept": CHROME}
SECRET_DETAIL = "the-detail-only-the-log-may-see"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_NAV = re.compile(r'<nav aria-label="Menu" class="govuk-service-navigation__wrapper">(.*?)</nav>', re.S)


@dataclass
class Site:
    settings: Settings
    runtime: Runtime
    app: FastAPI
    ids: dict[str, int]

    def browser(self, role: str | None = None) -> TestClient:
        """A browser; signed in as the person with this role, if one is given."""
        client = TestClient(self.app, follow_redirects=False, raise_server_exceptions=False)
        client.headers["Accept"] = CHROME
        if role is not None:
            link_id = uuid.uuid4()
            with unit_of_work(self.runtime.session_factory) as session:
                session.add(
                    SignInLink(id=link_id, person_id=self.ids[role], expires_at=utcnow() + timedelta(minutes=5))
                )
            with unit_of_work(self.runtime.session_factory) as session:
                cookie = use_link(session, link_id, hours=1, now=utcnow())
            assert cookie is not None
            client.cookies.set(SESSION_COOKIE, cookie)
        return client


def _boom() -> None:
    raise RuntimeError(SECRET_DETAIL)


@pytest.fixture
def site(sqlite_settings: Settings) -> Iterator[Site]:
    ids = {
        role: people.add(sqlite_settings, email=f"{role}@example.gov.uk", name=f"{role.title()} Person", role=role)
        for role in ("reviewer", "sponsor", "admin")
    }
    runtime = Runtime(sqlite_settings)
    app = create_app(sqlite_settings, runtime)
    # Routes that fail inside, to see what a browser and a script are shown: one of the app's own, one page.
    app.add_api_route("/test-crash", _boom)
    app.add_api_route("/api/v1/test-crash", _boom)
    kit = pages.Pages("infra")
    crashing_pages = kit.router()
    crashing_pages.add_api_route("/test-page-crash", _boom)
    app.include_router(crashing_pages)
    try:
        yield Site(sqlite_settings, runtime, app, ids)
    finally:
        runtime.close()


def is_govuk_page(answer: httpx.Response) -> bool:
    return (
        answer.headers["content-type"].startswith("text/html")
        and '<html lang="en" class="govuk-template">' in answer.text
        and 'href="/accessibility"' in answer.text
    )


# --- error pages -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nothing/12", "/admin", "/ideas", "/reviews/tasks/5/nothing", "/assets/nothing.css"])
def test_an_unknown_address_opened_in_a_browser_is_the_govuk_page_not_found(site: Site, path: str) -> None:
    answer = site.browser().get(path)
    assert answer.status_code == 404
    assert is_govuk_page(answer)
    assert "<title>Page not found – Ideahub</title>" in answer.text


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "text/html, application/json"])
def test_a_script_asking_an_unknown_address_gets_json(site: Site, accept: str | None) -> None:
    client = TestClient(site.app, raise_server_exceptions=False)
    answer = client.get("/nothing/12", headers={"Accept": accept} if accept else {})
    assert answer.status_code == 404
    assert answer.json() == {"error": "Not Found"}


def test_under_api_even_a_browser_gets_json(site: Site) -> None:
    browser = site.browser()
    for path in ("/api/v1/nothing", "/api/v1/ideas/IH-2026-999999"):
        answer = browser.get(path)
        assert answer.status_code in (401, 404)
        assert "error" in answer.json()
    crashed = browser.get("/api/v1/test-crash")
    assert crashed.status_code == 500
    assert crashed.json() == {"error": "something went wrong on our side; it has been logged"}


def test_a_crash_shows_a_browser_the_govuk_problem_page_and_never_the_exception(site: Site) -> None:
    for path in ("/test-crash", "/test-page-crash"):
        answer = site.browser().get(path)
        assert answer.status_code == 500
        assert is_govuk_page(answer)
        assert "Sorry, there is a problem with the service" in answer.text
        assert SECRET_DETAIL not in answer.text
        assert "RuntimeError" not in answer.text
        assert "Traceback" not in answer.text
    scripted = TestClient(site.app, raise_server_exceptions=False).get("/test-crash")
    assert scripted.json() == {"error": "something went wrong on our side; it has been logged"}


def test_a_wrong_method_is_a_page_for_a_browser_and_json_for_a_script(site: Site) -> None:
    answer = site.browser().get("/sign-out")  # a form's address, typed into the address bar
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert is_govuk_page(answer)
    assert "Page not found" in answer.text
    scripted = TestClient(site.app).get("/sign-out")
    assert (scripted.status_code, scripted.json()) == (405, {"error": "Method Not Allowed"})


def test_another_role_s_page_is_a_403_page_with_the_person_s_own_header(site: Site) -> None:
    answer = site.browser("sponsor").get("/reviews")
    assert answer.status_code == 403
    assert is_govuk_page(answer)
    assert "You cannot use this page" in answer.text
    assert "Your offers" in nav_of(answer)


@pytest.mark.parametrize(
    ("accept", "page"),
    [
        (CHROME, True),
        (FIREFOX, True),
        ("text/html", True),
        ("application/xhtml+xml", True),
        ("text/html;q=0.9, application/json;q=0.5", True),
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("application/json, text/html;q=0.9", False),
        ("text/html, application/json", False),
        ("text/html;q=0", False),
        ("text/html;q=nonsense, */*", False),
        ("text/html;q=nan", False),
    ],
)
def test_a_page_is_for_whoever_ranks_html_above_json(accept: str | None, page: bool) -> None:
    headers = [(b"accept", accept.encode())] if accept is not None else []
    request = Request({"type": "http", "method": "GET", "path": "/offers/1", "headers": headers, "query_string": b""})
    assert pages.wants_html(request) is page
    api = Request({"type": "http", "method": "GET", "path": "/api/v1/x", "headers": headers, "query_string": b""})
    assert pages.wants_html(api) is False


# --- the footer's pages and the favicon --------------------------------------------------------------------------


def test_every_kind_of_page_links_the_footer_pages(site: Site) -> None:
    public, reviewer = site.browser(), site.browser("reviewer")
    for client, path in ((public, "/ideas/new"), (public, "/sign-in"), (public, "/cookies"), (reviewer, "/reviews")):
        answer = client.get(path)
        assert answer.status_code == 200, path
        for link in ("/accessibility", "/privacy", "/cookies"):
            assert f'<a class="govuk-footer__link" href="{link}">' in answer.text, (path, link)


def test_the_cookies_page_lists_exactly_the_cookies_the_service_sets(site: Site) -> None:
    """Everything a person can do that sets a cookie: open the form, send an idea, sign in, sign out."""
    browser = site.browser()
    seen: set[str] = set()

    def note(answer: httpx.Response) -> httpx.Response:
        seen.update(header.split("=", 1)[0] for header in answer.headers.get_list("set-cookie"))
        return answer

    form = note(browser.get("/ideas/new"))
    token = _CSRF.search(form.text)
    assert token
    hidden = dict(re.findall(r'name="(submission_id)" value="([^"]+)"', form.text))
    idea = {"title": "T", "problem": "P", "idea": "I", "department": "Benefits", "email": "s@example.gov.uk"}
    assert note(browser.post("/ideas/new", data=idea | hidden | {"csrf_token": token[1]})).status_code == 303
    staff = site.browser()
    note(staff.get("/sign-in"))
    link_id = uuid.uuid4()
    with unit_of_work(site.runtime.session_factory) as session:
        session.add(SignInLink(id=link_id, person_id=site.ids["admin"], expires_at=utcnow() + timedelta(minutes=5)))
    signed = sign_in_token(site.settings.resolved_secret_key(), link_id, utcnow() + timedelta(minutes=5))
    confirm = note(staff.get(f"/sign-in/{signed}"))
    token = _CSRF.search(confirm.text)
    assert token
    assert note(staff.post(f"/sign-in/{signed}", data={"csrf_token": token[1]})).status_code == 303
    home = note(staff.get("/staff"))
    token = _CSRF.search(home.text)
    assert token
    assert note(staff.post("/sign-out", data={"csrf_token": token[1]})).status_code == 303

    page = browser.get("/cookies")
    listed = set(re.findall(r'<td class="govuk-table__cell"><code>([^<]+)</code></td>', page.text))
    assert listed == seen == {CSRF_COOKIE, SESSION_COOKIE}
    assert "We do not use analytics cookies" in page.text
    assert f"{site.settings.session_hours} hours after signing in" in page.text


def test_the_privacy_notice_says_who_sees_what_and_how_to_ask_for_it(site: Site) -> None:
    page = site.browser().get("/privacy")
    assert page.status_code == 200
    assert is_govuk_page(page)
    text = re.sub(r"\s+", " ", page.text)
    for words in (
        "your name, if you give it",
        "whether you asked to stay anonymous",
        "If you asked to stay anonymous, reviewers and sponsors never see your name or email address",
        "Only administrators can.",
        "never record names, email addresses, the text of ideas or secret links",
        "Personal data is kept until an administrator deletes it.",
        "ask for a copy of the personal data Ideahub holds about you",
        "Ask the administrators of Ideahub in your organisation.",
    ):
        assert words in text, words


def test_the_accessibility_statement_says_how_the_pages_were_tested_and_how_to_report_a_problem(site: Site) -> None:
    page = site.browser().get("/accessibility")
    assert page.status_code == 200
    assert is_govuk_page(page)
    text = re.sub(r"\s+", " ", page.text)
    assert f"applies to Ideahub at {site.settings.public_url}" in text
    assert "partially compliant with the Web Content Accessibility Guidelines version 2.2 AA standard" in text
    assert "checked with axe-core" in text
    assert "Reporting accessibility problems" in text
    assert f"a link to sign in works for {site.settings.sign_in_link_minutes} minutes" in text


def test_the_favicon_is_govuk_frontend_s_at_the_address_every_browser_asks(site: Site) -> None:
    browser = site.browser()
    icon = browser.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content == (pages.DEFAULT_ASSETS / "assets" / "images" / "favicon.ico").read_bytes()
    page = browser.get("/ideas/new").text
    linked = re.findall(r'<link rel="icon"[^>]* href="([^"]+)"', page)
    assert linked == ["/assets/images/favicon.ico", "/assets/images/favicon.svg"]
    for href in linked:
        assert browser.get(href).status_code == 200


# --- the staff header --------------------------------------------------------------------------------------------


def nav_of(answer: httpx.Response) -> str:
    found = _NAV.search(answer.text)
    assert found, "the page should have the staff navigation"
    return found[1]


def test_a_reviewer_s_header_lists_their_pages_marks_the_current_one_and_signs_out(site: Site) -> None:
    browser = site.browser("reviewer")
    listing = browser.get("/reviews")
    assert listing.status_code == 200
    assert re.search(r'href="/reviews" aria-current="page">\s*<strong[^>]*>Your reviews</strong>', nav_of(listing))
    assert "Your work" not in nav_of(listing)
    assert "Reviewer Person" in listing.text
    assert listing.headers["cache-control"] == "no-store"
    below = browser.get("/reviews/tasks/987654")  # a page under /reviews, even one that is not found
    assert 'href="/reviews" aria-current="true"' in nav_of(below)
    token = _CSRF.search(listing.text[listing.text.index('id="sign-out"') :])
    assert token
    out = browser.post("/sign-out", data={"csrf_token": token[1]})
    assert (out.status_code, out.headers["location"]) == (303, "/sign-in?done=signed-out")
    assert browser.get("/reviews").status_code == 303


def test_an_administrator_is_told_what_they_can_do_today(site: Site) -> None:
    page = site.browser("admin").get("/staff")
    assert page.status_code == 200
    assert 'href="/admin/ideas"' in nav_of(page)
    assert 'href="/incubations"' in nav_of(page)
    assert "on their way" not in page.text
    assert '<a class="govuk-link" href="/incubations">every incubation</a>' in page.text
    assert "For everything else there are no pages yet" in page.text
    assert '<a class="govuk-link" href="/admin/failures">failures</a>' in page.text
    assert '<a class="govuk-link" href="/admin/people">people</a>' in page.text
    assert '<a class="govuk-link" href="/docs">API documentation</a>' in page.text


def test_a_sponsor_s_work_is_their_offers(site: Site) -> None:
    answer = site.browser("sponsor").get("/staff")
    assert (answer.status_code, answer.headers["location"]) == (303, "/offers")


def test_a_reviewer_s_work_is_their_review_tasks(site: Site) -> None:
    answer = site.browser("reviewer").get("/staff")
    assert (answer.status_code, answer.headers["location"]) == (303, "/reviews")


def test_the_header_shows_who_is_signed_in_on_any_page_of_a_staff_area_and_nobody_otherwise(site: Site) -> None:
    signed_in, signed_out = site.browser("admin"), site.browser()
    assert "Overview" in nav_of(signed_in.get("/sign-in"))
    privacy = signed_in.get("/privacy")
    assert "Overview" in nav_of(privacy)
    assert "Admin Person" in privacy.text
    assert privacy.headers["cache-control"] == "no-store"  # it shows a name
    for path in ("/sign-in", "/privacy", "/ideas/new"):
        answer = signed_out.get(path)
        assert "govuk-service-navigation" not in answer.text, path
        assert "cache-control" not in answer.headers or path == "/sign-in", path
    # The idea form is the submitter's: no staff header there, whoever opens it.
    assert "govuk-service-navigation" not in signed_in.get("/ideas/new").text


# --- /docs -------------------------------------------------------------------------------------------------------


def test_the_api_documentation_loads_nothing_from_another_site(site: Site) -> None:
    browser = site.browser()
    docs = browser.get("/docs")
    assert docs.status_code == 200
    assert not re.search(r"https?://", docs.text), "/docs must not load anything from another site"
    referenced = re.findall(r'(?:src|href)="([^"]+)"', docs.text) + re.findall(r"url: '([^']+)'", docs.text)
    assert {"/assets/swagger-ui/swagger-ui-bundle.js", "/assets/swagger-ui/swagger-ui.css", "/openapi.json"} <= set(
        referenced
    )
    for address in referenced:
        assert browser.get(address).status_code == 200, address
    assert browser.get("/assets/swagger-ui/index.html").status_code == 404  # the package's demo is not served
    assert browser.get("/redoc").status_code == 404
    assert browser.get("/assets/govuk-frontend.min.css").status_code == 200  # GOV.UK Frontend is still at /assets


def test_without_swagger_ui_installed_the_documentation_page_says_how_to_install_it(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_docs, "FOLDER", tmp_path / "no-such-package")
    app = create_app(site.settings, site.runtime)
    answer = TestClient(app).get("/docs", headers=BROWSER)
    assert answer.status_code == 503
    assert is_govuk_page(answer)
    assert "<code>npm ci</code>" in answer.text
    assert 'href="/openapi.json"' in answer.text


def test_an_error_page_is_shown_even_when_who_is_signed_in_cannot_be_found_out(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = site.browser("admin")

    def database_away(*_args: object) -> None:
        raise ConnectionError("the database is away")

    monkeypatch.setattr(pages, "session_principal", database_away)
    answer = browser.get("/nothing/12")
    assert answer.status_code == 404
    assert is_govuk_page(answer)
    assert "govuk-service-navigation" not in answer.text
