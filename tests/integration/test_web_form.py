"""The idea form and the submitter's status page, through the real app on a real SQLite database."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infra.app import create_app
from infra.composition import Runtime
from shared import lifecycle
from shared.clock import utcnow
from shared.config import Settings, load_settings
from shared.db.models import Idea, IdeaMessage, Question
from shared.db.uow import unit_of_work
from shared.web import pages
from shared.web.csrf import COOKIE
from tests.conftest import unavailable

VALID = {
    "title": "Shorter benefit forms",
    "problem": "The form is 40 pages long.",
    "idea": "Ask only what we do not already know.",
    "benefit": "Half an hour saved per claim.",
    "department": "Benefits",
    "theme": "Paperwork",
    "name": "Sam Smith",
    "email": "sam@example.gov.uk",
}
SCRIPT = "<script>alert('owned')</script>"


class _Hidden(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("type") == "hidden" and found.get("name"):
            self.fields[str(found["name"])] = found.get("value") or ""


def hidden_fields(html: str) -> dict[str, str]:
    parser = _Hidden()
    parser.feed(html)
    return parser.fields


@dataclass
class Web:
    settings: Settings
    runtime: Runtime
    client: TestClient

    def form(self) -> dict[str, str]:
        """The hidden fields of a freshly shown form (its CSRF token and submission id)."""
        page = self.client.get("/ideas/new")
        assert page.status_code == 200
        return hidden_fields(page.text)

    def post(self, hidden: dict[str, str], **fields: str) -> httpx.Response:
        return self.client.post("/ideas/new", data=hidden | fields, follow_redirects=False)

    def send(self, **fields: str) -> str:
        """Send a valid idea; returns its status token."""
        answer = self.post(self.form(), **(VALID | fields))
        assert answer.status_code == 303, answer.text
        return answer.headers["location"].rsplit("/", 1)[1]

    def csrf(self, path: str) -> dict[str, str]:
        return {"csrf_token": hidden_fields(self.client.get(path).text)["csrf_token"]}

    def ideas(self) -> list[Idea]:
        with unit_of_work(self.runtime.session_factory) as session:
            rows = list(session.scalars(select(Idea).order_by(Idea.id)))
            session.expunge_all()
        return rows

    def idea(self, token: str) -> Idea:
        return next(idea for idea in self.ideas() if idea.status_token == token)

    def move(self, token: str, *targets: lifecycle.Status) -> None:
        for target in targets:
            with unit_of_work(self.runtime.session_factory) as session:
                state = lifecycle.load(session, self.idea(token).id)
                lifecycle.transition(session, state, target, reason=f"Moved to {target} by the test", actor="test")


def _web(settings: Settings) -> Iterator[Web]:
    runtime = Runtime(settings)
    with TestClient(create_app(settings, runtime)) as client:
        yield Web(settings, runtime, client)
    runtime.close()


@pytest.fixture
def web(sqlite_settings: Settings) -> Iterator[Web]:
    yield from _web(sqlite_settings)


def summary_links(html: str) -> dict[str, str]:
    return dict(re.findall(r'<li><a href="#([\w-]+)">([^<]*)</a></li>', html))


def field_error(html: str, field: str) -> str | None:
    match = re.search(rf'<p id="{field}-error" class="govuk-error-message">(.*?)</p>', html, re.S)
    return re.sub(r"<[^>]+>", "", match[1]).replace("Error:", "").strip() if match else None


def test_the_form_labels_every_field_and_lists_the_departments(web: Web) -> None:
    page = web.client.get("/ideas/new")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="en"' in html
    assert html.count("<h1") == 1
    assert '<a href="#main-content" class="govuk-skip-link"' in html
    assert 'id="main-content"' in html
    for field in ("title", "problem", "idea", "benefit", "department", "theme", "name", "email", "anonymous"):
        assert re.search(rf'<label class="govuk-label[^"]*" for="{field}">', html), field
        assert f'id="{field}"' in html, field
    assert re.search(r'id="title"[^>]*aria-describedby="title-hint"', html)
    for department in web.settings.departments:
        assert f'<option value="{department}">{department}</option>' in html
    hidden = hidden_fields(html)
    assert len(hidden["submission_id"]) >= 16
    assert hidden["csrf_token"]
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie
    # Each form shown gets its own submission id: two forms, two ideas.
    assert web.form()["submission_id"] != hidden["submission_id"]


def test_the_govuk_frontend_assets_are_served_where_its_stylesheet_looks_for_them(web: Web) -> None:
    if not (pages.DEFAULT_ASSETS / "govuk-frontend.min.css").is_file():
        unavailable("govuk-frontend is not installed: run `npm ci` in the repository root")
    html = web.client.get("/ideas/new").text
    assert '<link rel="stylesheet" href="/assets/govuk-frontend.min.css">' in html
    assert "import { initAll } from '/assets/govuk-frontend.min.js'; initAll()" in html
    css = web.client.get("/assets/govuk-frontend.min.css")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]
    for url in set(re.findall(r"url\((/assets/[^)]+)\)", css.text)):
        assert web.client.get(url).status_code == 200, url
    assert web.client.get("/assets/govuk-frontend.min.js").status_code == 200
    assert web.client.get("/assets/index.scss").status_code == 404  # the package's sources are not served
    assert web.client.get("/assets/../../package.json").status_code == 404


INVALID = [
    ({"title": ""}, "title", "Enter a title"),
    ({"title": "x" * 201}, "title", "Title must be 200 characters or fewer"),
    ({"problem": "   "}, "problem", "Describe the problem"),
    ({"idea": ""}, "idea", "Describe your idea"),
    ({"benefit": "x" * 10_001}, "benefit", "The difference it would make must be 10,000 characters or fewer"),
    ({"department": ""}, "department", "Select your department"),
    ({"department": "Ministry of Magic"}, "department", "Select your department from the list"),
    ({"theme": "a\nb"}, "theme", "Theme must be on one line"),
    ({"name": "x" * 201}, "name", "Your name must be 200 characters or fewer"),
    ({"email": ""}, "email", "Enter your email address"),
    ({"email": "sam at example"}, "email", "Enter an email address in the correct format, like name@example.gov.uk"),
]


@pytest.mark.parametrize(("change", "field", "message"), INVALID, ids=[f"{c[1]}:{c[2]}" for c in INVALID])
def test_each_invalid_field_is_named_in_the_summary_and_at_the_field_and_nothing_typed_is_lost(
    web: Web, change: dict[str, str], field: str, message: str
) -> None:
    typed = VALID | change | {"anonymous": "yes"}
    answer = web.post(web.form(), **typed)
    assert answer.status_code == 422
    html = answer.text
    assert 'class="govuk-error-summary"' in html
    assert summary_links(html) == {field: message}
    assert field_error(html, field) == message
    assert re.search(rf'govuk-form-group--error">\s*<label[^>]*for="{field}"', html)
    assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error"', html)
    assert re.search(r"<title>Error: ", html)
    for name in ("title", "theme", "name", "email"):
        assert f'id="{name}" name="{name}" type="{"email" if name == "email" else "text"}" value="' in html
        if len(typed[name]) < 300 and "\n" not in typed[name]:
            assert f'value="{typed[name]}"' in html, name
    for name in ("problem", "idea", "benefit"):
        assert f"\n{typed[name]}</textarea>" in html, name
    if change.get("department") != "Ministry of Magic":
        assert f'<option value="Benefits"{" selected" if typed["department"] else ""}>' in html
    assert re.search(r'id="anonymous"[^>]* checked', html)
    assert web.ideas() == []


def test_all_the_errors_at_once_are_listed_in_page_order(web: Web) -> None:
    answer = web.post(web.form(), title="", problem="", idea="", department="", email="nope")
    assert list(summary_links(answer.text)) == ["title", "problem", "idea", "department", "email"]
    assert web.ideas() == []


def test_a_valid_form_makes_one_idea_and_shows_its_reference_and_status_link(web: Web) -> None:
    hidden = web.form()
    answer = web.post(hidden, **VALID, anonymous="yes")
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("/ideas/confirmation/")

    [idea] = web.ideas()
    assert (idea.title, idea.department, idea.channel, idea.anonymous) == (VALID["title"], "Benefits", "web", True)
    assert idea.status == "received"
    assert str(idea.source_key).startswith("web:")
    assert hidden["submission_id"] not in idea.source_key  # only a digest of it is kept

    page = web.client.get(location)
    assert page.status_code == 200
    assert 'class="govuk-panel govuk-panel--confirmation"' in page.text
    assert f"<strong>{idea.reference}</strong>" in page.text
    assert re.fullmatch(r"IH-\d{4}-\d{6}", idea.reference or "")
    assert f'href="/status/{idea.status_token}"' in page.text
    assert f"http://localhost:8000/status/{idea.status_token}" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.text.count("<h1") == 1


def test_the_same_form_sent_twice_makes_one_idea(web: Web) -> None:
    hidden = web.form()
    first = web.post(hidden, **VALID)
    second = web.post(hidden, **VALID)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(web.ideas()) == 1

    # Back, edit, send again: the same form cannot become a second idea silently; a fresh form id is offered.
    edited = web.post(hidden, **(VALID | {"title": "Something else"}))
    assert edited.status_code == 409
    assert "You have already sent an idea from this form" in edited.text
    assert 'value="Something else"' in edited.text
    fresh = hidden_fields(edited.text)["submission_id"]
    assert fresh != hidden["submission_id"]
    assert len(web.ideas()) == 1
    again = web.post(hidden | {"submission_id": fresh}, **(VALID | {"title": "Something else"}))
    assert again.status_code == 303
    assert [idea.title for idea in web.ideas()] == [VALID["title"], "Something else"]


def test_a_missing_or_forged_csrf_token_gets_the_expired_page_and_stores_nothing(web: Web) -> None:
    hidden = web.form()
    forged = [
        {"submission_id": hidden["submission_id"]},
        hidden | {"csrf_token": ""},
        hidden | {"csrf_token": secrets.token_hex(32)},
        hidden | {"csrf_token": hidden["csrf_token"][:-1] + ("0" if hidden["csrf_token"][-1] != "0" else "1")},
    ]
    for fields in forged:
        answer = web.post(fields, **VALID)
        assert answer.status_code == 400
        assert "Your form has expired" in answer.text
        assert "Go back, reload the page and try again" in answer.text
    # A token made for another browser's cookie does not fit this one.
    web.client.cookies.set(COOKIE, secrets.token_urlsafe(32))
    assert web.post(hidden, **VALID).status_code == 400
    # ... nor does any token when the browser sends no cookie at all (another site's form).
    web.client.cookies.clear()
    assert web.post(hidden, **VALID).status_code == 400
    # And a form without its submission id is not ours either.
    assert web.post({"csrf_token": web.form()["csrf_token"]}, **VALID).status_code == 400
    assert web.ideas() == []


def test_the_cookie_is_secure_when_the_service_is_on_https(sqlite_settings: Settings) -> None:
    settings = sqlite_settings.model_copy(update={"public_url": "https://ideas.example.gov.uk"})
    for web in _web(settings):
        assert "Secure" in web.client.get("/ideas/new").headers["set-cookie"]


def test_script_in_any_field_is_shown_as_text_on_every_page(web: Web) -> None:
    hidden = web.form()
    rejected = web.post(hidden, **{name: SCRIPT for name in VALID})
    assert rejected.status_code == 422
    token = web.send(**{name: SCRIPT for name in ("title", "problem", "idea", "benefit", "theme", "name")})
    with unit_of_work(web.runtime.session_factory) as session:
        session.execute(
            IdeaMessage.__table__.insert().values(
                idea_id=web.idea(token).id, kind="note", channel="web", body=SCRIPT, at=utcnow()
            )
        )
    pages_seen = [
        rejected,
        web.client.get(f"/ideas/confirmation/{token}"),
        web.client.get(f"/status/{token}"),
        web.client.get(f"/status/{token}/withdraw"),
    ]
    for page in pages_seen:
        assert page.status_code in (200, 422)
        assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in pages_seen[0].text
    assert pages_seen[2].text.count("&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;") >= 2  # title and note


def test_the_status_page_shows_the_status_in_words_and_the_history(web: Web) -> None:
    token = web.send()
    page = web.client.get(f"/status/{token}")
    assert page.status_code == 200
    reference = web.idea(token).reference
    assert reference in page.text
    assert "We have your idea and are checking it." in page.text
    web.move(token, lifecycle.Status.IN_REVIEW)

    page = web.client.get(f"/status/{token}").text
    assert '<strong class="govuk-tag" id="status">In review</strong>' in page
    history = page.split('id="history"', 1)[1].split("</ol>", 1)[0]
    # Newest first: the review, then the arrival.
    assert history.index("Senior staff are reviewing your idea.") < history.index("We have your idea")
    assert "Moved to in_review by the test" in history
    assert re.search(r"\d{1,2} \w+ \d{4} at \d{1,2}:\d{2}(am|pm)", history)
    assert f'href="/status/{token}/stop-updates"' in page
    assert f'href="/status/{token}/withdraw"' in page
    assert "Question for you" not in page
    assert 'name="answer"' not in page


def _ask(web: Web, token: str, text: str) -> None:
    web.move(token, lifecycle.Status.IN_REVIEW, lifecycle.Status.NEEDS_INFO)
    with unit_of_work(web.runtime.session_factory) as session:
        session.add(Question(idea_id=web.idea(token).id, text=text))


def test_the_submitter_answers_an_open_question_and_the_idea_goes_back_to_review(web: Web) -> None:
    token = web.send()
    _ask(web, token, "How many claims a week?")
    page = web.client.get(f"/status/{token}")
    assert "How many claims a week?" in page.text
    assert 'name="answer"' in page.text

    empty = web.client.post(f"/status/{token}/answer", data=web.csrf(f"/status/{token}") | {"answer": "  "})
    assert empty.status_code == 422
    assert summary_links(empty.text) == {"answer": "Enter your answer"}
    assert field_error(empty.text, "answer") == "Enter your answer"
    assert "<title>Error: " in empty.text
    assert web.idea(token).status == "needs_info"

    too_long = "x" * 10_001
    long = web.client.post(f"/status/{token}/answer", data=web.csrf(f"/status/{token}") | {"answer": too_long})
    assert long.status_code == 422
    assert f"\n{too_long}</textarea>" in long.text  # kept for the submitter to shorten

    forged = web.client.post(f"/status/{token}/answer", data={"answer": "About 300", "csrf_token": "x"})
    assert forged.status_code == 400
    assert web.idea(token).status == "needs_info"

    answer = web.client.post(
        f"/status/{token}/answer",
        data=web.csrf(f"/status/{token}") | {"answer": "About 300"},
        follow_redirects=False,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, f"/status/{token}?done=answered")
    assert web.idea(token).status == "in_review"
    with unit_of_work(web.runtime.session_factory) as session:
        question = session.scalars(select(Question)).one()
        assert (question.state, question.answer) == ("answered", "About 300")
        message = session.scalars(select(IdeaMessage)).one()
        assert (message.kind, message.channel) == ("answer", "web")
    page = web.client.get(answer.headers["location"]).text
    assert "Thank you: we have your answer" in page
    assert "You answered the question" in page
    assert "About 300" in page
    assert 'name="answer"' not in page

    # The page was open in another tab: its form is posted after the question was answered.
    again = web.client.post(f"/status/{token}/answer", data=web.csrf("/ideas/new") | {"answer": "More"})
    assert again.status_code == 409
    assert "There is no question to answer now" in again.text


def test_withdrawing_asks_first_then_withdraws(web: Web) -> None:
    token = web.send()
    confirm = web.client.get(f"/status/{token}/withdraw")
    assert confirm.status_code == 200
    assert "Are you sure you want to withdraw your idea?" in confirm.text
    assert web.idea(token).status == "received"

    forged = web.client.post(f"/status/{token}/withdraw", data={"csrf_token": "nope"})
    assert forged.status_code == 400
    assert web.idea(token).status == "received"

    too_long = web.client.post(f"/status/{token}/withdraw", data=hidden_fields(confirm.text) | {"reason": "x" * 2001})
    assert too_long.status_code == 422
    assert summary_links(too_long.text) == {"reason": "Your reason must be 2,000 characters or fewer"}
    assert web.idea(token).status == "received"

    done = web.client.post(
        f"/status/{token}/withdraw",
        data=hidden_fields(confirm.text) | {"reason": "Done it myself"},
        follow_redirects=False,
    )
    assert (done.status_code, done.headers["location"]) == (303, f"/status/{token}?done=withdrawn")
    assert web.idea(token).status == "withdrawn"
    page = web.client.get(done.headers["location"]).text
    assert "You have withdrawn your idea" in page
    assert "Done it myself" in page
    assert f'href="/status/{token}/withdraw"' not in page


def test_a_final_idea_offers_no_withdrawal_and_refuses_one(web: Web) -> None:
    token = web.send()
    csrf = web.csrf(f"/status/{token}/withdraw")  # the page was open when the decision came
    web.move(token, lifecycle.Status.IN_REVIEW, lifecycle.Status.REJECTED)
    page = web.client.get(f"/status/{token}").text
    assert "Not taken forward" in page
    assert "Withdraw your idea" not in page
    assert f"/status/{token}/withdraw" not in page

    confirm = web.client.get(f"/status/{token}/withdraw", follow_redirects=False)
    assert (confirm.status_code, confirm.headers["location"]) == (303, f"/status/{token}")
    refused = web.client.post(f"/status/{token}/withdraw", data=csrf)
    assert refused.status_code == 409
    assert "can no longer be withdrawn" in refused.text
    assert web.idea(token).status == "rejected"


def test_an_unknown_or_malformed_token_gets_the_same_404_page_and_nothing_else(web: Web) -> None:
    token = web.send()
    reference = web.idea(token).reference or ""
    csrf = web.csrf("/ideas/new")
    answers = [
        web.client.get("/status/" + "A" * 32),
        web.client.get("/status/x"),
        web.client.get("/status/%3Cscript%3E"),
        web.client.get("/status/" + token[:-1]),
        web.client.get("/status/" + token + "x" * 100),
        web.client.get(f"/status/{token[:-1]}/withdraw"),
        web.client.get("/status/a/b/c"),
        web.client.get("/status/"),
        web.client.get("/ideas/confirmation/" + "A" * 32),
        web.client.post("/status/" + "A" * 32 + "/answer", data=csrf | {"answer": "hello"}),
        web.client.post("/status/" + "A" * 32 + "/withdraw", data=csrf),
    ]
    bodies = set()
    for answer in answers:
        assert answer.status_code == 404, answer.request.url
        assert "Page not found" in answer.text
        assert reference not in answer.text
        assert VALID["title"] not in answer.text
        assert "Traceback" not in answer.text
        bodies.add(answer.text)
    assert len(bodies) == 1
    assert web.idea(token).status == "received"


def test_too_many_posts_from_one_client_get_a_429_page(sqlite_settings: Settings) -> None:
    settings = load_settings(data_dir=sqlite_settings.data_dir, queue_prefix="unit.", api_rate_limit="2/minute")
    for web in _web(settings):
        hidden = web.form()
        assert [web.post(hidden, **VALID).status_code for _ in range(2)] == [303, 303]
        refused = web.post(hidden, **VALID)
        assert refused.status_code == 429
        assert "Too many requests" in refused.text
        assert refused.headers["retry-after"]
        assert len(web.ideas()) == 1


def test_without_the_assets_the_pages_still_work_plainly_styled(tmp_path: Path, sqlite_settings: Settings) -> None:
    settings = load_settings(data_dir=sqlite_settings.data_dir, queue_prefix="unit.", assets_dir=tmp_path / "none")
    for web in _web(settings):
        page = web.client.get("/ideas/new")
        assert page.status_code == 200
        assert "govuk-frontend.min.css" not in page.text
        assert "govuk-frontend.min.js" not in page.text
        assert 'class="govuk-skip-link"' in page.text
        assert web.client.get("/assets/govuk-frontend.min.css").status_code == 404
        token = web.send()
        assert web.client.get(f"/status/{token}").status_code == 200


def test_the_front_door_leads_to_the_form(sqlite_settings) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from infra.app import create_app

    with TestClient(create_app(sqlite_settings)) as client:
        response = client.get("/", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/ideas/new"
