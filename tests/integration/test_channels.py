"""Every channel makes the same idea record and the same acknowledgement email, through the same service code.

One idea is sent four ways (the API, the web form, an email, a CSV import); the stored records agree field
for field, and the acknowledgements (rendered by the notify worker's own handler from the outbox) agree
line for line once the reference and status link are taken out.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from email.message import EmailMessage
from html.parser import HTMLParser

from fastapi.testclient import TestClient
from sqlalchemy import select

from infra.app import create_app
from infra.composition import Runtime
from services.intake import importer, mail
from services.notify.handlers import handle_event, notifier_for
from shared.config import Settings
from shared.db.models import Idea, OutboxMessage
from shared.db.uow import unit_of_work

IDEA = {
    "title": "Text claimants when a letter is on its way",
    "problem": "Claimants ring us to ask whether we have written.",
    "idea": "Send a text message the day a letter is posted.",
    "benefit": "Fewer calls.",
    "department": "Benefits",
    "theme": "Letters",
    "name": "Sam Smith",
}
FIELDS = ("title", "problem", "proposal", "benefit", "department", "theme", "submitter_name", "anonymous", "status")


class _Hidden(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("type") == "hidden" and found.get("name"):
            self.fields[str(found["name"])] = found.get("value") or ""


def by_api(client: TestClient, address: str) -> None:
    response = client.post("/api/v1/ideas", json=IDEA | {"email": address})
    assert response.status_code == 202, response.text


def by_web_form(client: TestClient, address: str) -> None:
    hidden = _Hidden()
    hidden.feed(client.get("/ideas/new").text)
    response = client.post("/ideas/new", data=hidden.fields | IDEA | {"email": address}, follow_redirects=False)
    assert response.status_code == 303, response.text


def by_email(settings: Settings, runtime: Runtime, address: str) -> None:
    message = EmailMessage()
    message["From"] = f"{IDEA['name']} <{address}>"
    message["To"] = settings.intake_address
    message["Subject"] = IDEA["title"]
    message["Message-ID"] = "<channels-test@mail.example.gov.uk>"
    message.set_content(
        f"Problem: {IDEA['problem']}\n\nIdea: {IDEA['idea']}\n\nBenefit: {IDEA['benefit']}\n\n"
        f"Department: {IDEA['department']}\nTheme: {IDEA['theme']}\n"
    )
    outcome = mail.take_in(runtime.session_factory, message.as_bytes(), settings=settings, envelope_from=address)
    assert outcome.kind == "idea", outcome


def by_import(settings: Settings, runtime: Runtime, address: str) -> None:
    header = "title,problem,idea,benefit,department,theme,name,email,anonymous"
    row = ",".join(f'"{IDEA[k]}"' for k in ("title", "problem", "idea", "benefit", "department", "theme", "name"))
    table = importer.read_csv(f"{header}\n{row},{address},no\n".encode())
    factory = runtime.session_factory
    report = importer.import_ideas(table.rows, session_factory=factory, departments=settings.departments)
    assert (report.created, report.errors) == (1, [])


def acknowledgement(settings: Settings, reference: str) -> list[str]:
    """The acknowledgement's text, with what differs by idea (reference, status link, Message-ID) taken out."""
    (path,) = [p for p in settings.mail_dir.glob("*.eml") if reference in p.read_text()]
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    text = f"Subject: {message['Subject']}\nTo: {message['To']}\n{body}"
    text = text.replace(reference, "IH-REF")
    text = re.sub(r"/status/[A-Za-z0-9_-]+", "/status/TOKEN", text)
    return [line.rstrip() for line in text.splitlines()]


def test_every_channel_makes_the_same_record_and_the_same_acknowledgement(sqlite_settings: Settings) -> None:
    settings = sqlite_settings
    runtime = Runtime(settings)
    addresses = {
        "api": "sam.api@example.gov.uk",
        "web": "sam.web@example.gov.uk",
        "email": "sam.email@example.gov.uk",
        "import": "sam.import@example.gov.uk",
    }
    with TestClient(create_app(settings, runtime)) as client:
        by_api(client, addresses["api"])
        by_web_form(client, addresses["web"])
    by_email(settings, runtime, addresses["email"])
    by_import(settings, runtime, addresses["import"])

    notifier = notifier_for(settings, runtime.session_factory)
    with unit_of_work(runtime.session_factory) as session:
        ideas = {idea.channel: idea for idea in session.scalars(select(Idea))}
        payloads = session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id)).all()
        session.expunge_all()
    for payload in payloads:
        handle_event(notifier, json.loads(payload))
    runtime.close()

    assert sorted(ideas) == ["api", "email", "import", "web"]
    records = {channel: tuple(getattr(idea, f) for f in FIELDS) for channel, idea in ideas.items()}
    assert len(set(records.values())) == 1, records
    assert {channel: idea.submitter_email for channel, idea in ideas.items()} == addresses

    received = {
        channel: [
            line.replace(addresses[channel], "SUBMITTER") for line in acknowledgement(settings, str(idea.reference))
        ]
        for channel, idea in ideas.items()
    }
    assert received["api"] == received["web"] == received["email"] == received["import"]
    assert any("Text claimants when a letter is on its way" in line for line in received["api"])
    assert any("/status/TOKEN" in line for line in received["api"])
