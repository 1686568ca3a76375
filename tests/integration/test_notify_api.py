"""Notify through the HTTP API and the CLI: preferences, the delivery log, the failed list and resending."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from infra import people
from infra.app import create_app
from infra.composition import Runtime
from services.notify.handlers import handle_event, handle_events, notifier_for
from shared.config import Settings
from shared.db.models import FailedMessage, Notification, OutboxMessage
from shared.db.uow import unit_of_work


@dataclass
class Api:
    settings: Settings
    runtime: Runtime
    client: TestClient
    admin: dict[str, str]
    reviewer: dict[str, str]

    def submit(self, **fields: object) -> dict[str, object]:
        body = {
            "title": "Shorter forms",
            "problem": "Forms are long.",
            "idea": "Cut them.",
            "email": "sam@example.gov.uk",
        }
        response = self.client.post("/api/v1/ideas", json=body | fields)
        assert response.status_code == 202, response.text
        return response.json()  # type: ignore[no-any-return]

    def notify(self) -> None:
        """Hand every event in the outbox to notify, as its worker would."""
        notifier = notifier_for(self.settings, self.runtime.session_factory)
        with unit_of_work(self.runtime.session_factory) as session:
            payloads = session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id)).all()
        for payload in payloads:
            handle_event(notifier, json.loads(payload))

    def rows(self, template: str | None = None) -> list[Notification]:
        with unit_of_work(self.runtime.session_factory) as session:
            query = select(Notification).order_by(Notification.id)
            if template:
                query = query.where(Notification.template == template)
            rows = list(session.scalars(query))
            session.expunge_all()
        return rows


def bearer(settings: Settings, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {people.new_api_token(settings, email)}"}


@pytest.fixture
def api(sqlite_settings: Settings) -> Iterator[Api]:
    settings = sqlite_settings
    people.add(settings, email="ada@example.gov.uk", name="Ada Admin", role="admin")
    people.add(settings, email="rex@example.gov.uk", name="Rex Reviewer", role="reviewer")
    runtime = Runtime(settings)
    with TestClient(create_app(settings, runtime)) as client:
        yield Api(
            settings,
            runtime,
            client,
            bearer(settings, "ada@example.gov.uk"),
            bearer(settings, "rex@example.gov.uk"),
        )
    runtime.close()


def token_of(created: dict[str, object]) -> str:
    return str(created["status_url"]).rsplit("/", 1)[1]


def test_a_submitter_stops_optional_mail_and_still_gets_what_needs_an_answer(api: Api) -> None:
    created = api.submit()
    token = token_of(created)
    assert api.client.get(f"/api/v1/status/{token}/preferences").json() == {"optional_mail": True}

    page = api.client.get(f"/status/{token}/stop-updates")
    assert page.status_code == 200
    assert "Stop updates" in page.text
    done = api.client.post(f"/status/{token}/stop-updates")
    assert "Updates stopped" in done.text
    assert api.client.get(f"/api/v1/status/{token}/preferences").json() == {"optional_mail": False}

    api.client.post(f"/api/v1/status/{token}/withdraw", json={"reason": "Done it myself"})
    api.notify()
    states = {row.template: row.state for row in api.rows()}
    assert states["submitter/received"] == "sent"  # the acknowledgement is not optional
    assert states["submitter/withdrawn"] == "skipped"
    written = [p.read_text() for p in api.settings.mail_dir.glob("*.eml")]
    assert len(written) == 1
    assert "We have your idea" in written[0]

    back_on = api.client.put(f"/api/v1/status/{token}/preferences", json={"optional_mail": True})
    assert back_on.json() == {"optional_mail": True}


def test_optional_mail_offers_one_click_unsubscribe_and_it_works(api: Api) -> None:
    created = api.submit()
    token = token_of(created)
    api.client.post(f"/api/v1/status/{token}/withdraw", json={})
    api.notify()
    import email
    import email.policy

    messages = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in api.settings.mail_dir.glob("*.eml")
    ]
    withdrawn = next(m for m in messages if "withdrawn" in str(m["Subject"]).lower())
    target = str(withdrawn["List-Unsubscribe"]).strip("<>")
    assert withdrawn["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert target.endswith(f"/api/v1/status/{token}/stop-updates")
    received = next(m for m in messages if "We have your idea" in str(m["Subject"]))
    assert received["List-Unsubscribe"] is None  # not optional, so nothing to stop

    path = target.split("localhost:8000", 1)[1]
    answer = api.client.post(path, content="List-Unsubscribe=One-Click")
    assert answer.json() == {"optional_mail": False}


def test_preferences_refuse_bad_input_and_unknown_tokens_without_changing_anything(api: Api) -> None:
    token = token_of(api.submit())
    for bad in ({"optional_mail": "perhaps"}, {"optional_mail": True, "extra": 1}, {}):
        answer = api.client.put(f"/api/v1/status/{token}/preferences", json=bad)
        assert answer.status_code == 422, bad
    assert api.client.get(f"/api/v1/status/{token}/preferences").json() == {"optional_mail": True}
    for path in ("/api/v1/status/nope/preferences", "/status/nope/stop-updates"):
        answer = api.client.get(path)
        assert answer.status_code == 404
        assert "Traceback" not in answer.text
    assert api.client.post("/api/v1/status/nope/stop-updates").status_code == 404


def test_the_delivery_log_hides_an_anonymous_submitter_from_everyone_but_administrators(api: Api) -> None:
    anonymous = api.submit(name="Secret Sam", anonymous=True)
    named = api.submit(name="Open Olu", email="olu@example.gov.uk")
    api.notify()

    reference = anonymous["reference"]
    as_admin = api.client.get(f"/api/v1/ideas/{reference}/notifications", headers=api.admin).json()
    as_reviewer = api.client.get(f"/api/v1/ideas/{reference}/notifications", headers=api.reviewer).json()
    assert [row["recipient"] for row in as_admin if row["audience"] == "submitter"] == ["sam@example.gov.uk"]
    submitter_rows = [row for row in as_reviewer if row["audience"] == "submitter"]
    assert submitter_rows
    assert all(row["recipient"] == "the submitter (anonymous)" for row in submitter_rows)
    assert "sam@example.gov.uk" not in json.dumps(as_reviewer)
    assert {row["state"] for row in as_admin} == {"sent"}
    assert [row["template"] for row in as_admin] == ["submitter/received"]

    named_log = api.client.get(f"/api/v1/ideas/{named['reference']}/notifications", headers=api.reviewer).json()
    assert "olu@example.gov.uk" in {row["recipient"] for row in named_log}

    assert api.client.get(f"/api/v1/ideas/{reference}/notifications").status_code == 401
    assert api.client.get("/api/v1/ideas/IH-2026-999999/notifications", headers=api.admin).status_code == 404


def test_an_administrator_lists_failed_notifications_and_resends_one(api: Api) -> None:
    api.submit()
    api.notify()
    received = api.rows("submitter/received")[0]
    with unit_of_work(api.runtime.session_factory) as session:  # as the worker leaves it after the last attempt
        session.execute(
            update(Notification)
            .where(Notification.id == received.id)
            .values(state="failed", attempts=8, error="550 mailbox unavailable")
        )

    listed = api.client.get("/api/v1/admin/notifications", headers=api.admin)
    assert listed.status_code == 200
    assert [(row["id"], row["state"], row["error"]) for row in listed.json()] == [
        (received.id, "failed", "550 mailbox unavailable")
    ]
    assert api.client.get("/api/v1/admin/pipeline", headers=api.admin).json()["failed_notifications"] == 1
    assert api.client.get("/api/v1/admin/notifications", headers=api.reviewer).status_code == 403
    assert api.client.post(f"/api/v1/admin/notifications/{received.id}/resend", headers=api.reviewer).status_code == 403

    resent = api.client.post(f"/api/v1/admin/notifications/{received.id}/resend", headers=api.admin)
    assert (resent.status_code, resent.json()) == (202, {"id": received.id, "state": "pending"})
    row = api.rows("submitter/received")[0]
    assert (row.state, row.attempts) == ("pending", 0)

    again = api.client.post(f"/api/v1/admin/notifications/{received.id}/resend", headers=api.admin)
    assert again.status_code == 409
    assert "only failed or unconfirmed" in again.json()["error"]
    missing = api.client.post("/api/v1/admin/notifications/999999/resend", headers=api.admin)
    assert missing.status_code == 404

    notifier = notifier_for(api.settings, api.runtime.session_factory)
    assert notifier.sweep() == 1
    assert api.rows("submitter/received")[0].state == "sent"
    assert api.client.get("/api/v1/admin/notifications", headers=api.admin).json() == []


def test_failed_notifications_are_listed_oldest_first_a_page_at_a_time_and_by_state(api: Api) -> None:
    for n in range(3):
        api.submit(email=f"sam{n}@example.gov.uk")
    api.notify()
    received = [row.id for row in api.rows("submitter/received")]
    with unit_of_work(api.runtime.session_factory) as session:  # more than one page, of both states
        session.execute(update(Notification).where(Notification.id.in_(received[:2])).values(state="failed"))
        session.execute(update(Notification).where(Notification.id == received[2]).values(state="unconfirmed"))

    first = api.client.get("/api/v1/admin/notifications", params={"per_page": 2}, headers=api.admin)
    assert [row["id"] for row in first.json()] == received[:2]
    assert first.headers["link"] == '</api/v1/admin/notifications?per_page=2&page=2>; rel="next"'
    second = api.client.get("/api/v1/admin/notifications", params={"per_page": 2, "page": 2}, headers=api.admin)
    assert [row["id"] for row in second.json()] == received[2:]
    assert "link" not in second.headers
    unconfirmed = api.client.get("/api/v1/admin/notifications", params={"state": "unconfirmed"}, headers=api.admin)
    assert [row["id"] for row in unconfirmed.json()] == received[2:]
    refused = api.client.get("/api/v1/admin/notifications", params={"state": "sent"}, headers=api.admin)
    assert refused.status_code == 422


def ideahub(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")}
    env |= {"IDEAHUB_DATA_DIR": str(settings.data_dir), "COLUMNS": "250"}  # a wide table, one row a line
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.processes
def test_the_cli_lists_resends_and_logs_notifications(api: Api, tmp_path: Path) -> None:
    created = api.submit()
    api.notify()
    received = api.rows("submitter/received")[0]

    assert ideahub(api.settings, "notifications", "failed").stdout.strip() == "No failed notifications."
    with unit_of_work(api.runtime.session_factory) as session:
        session.execute(
            update(Notification).where(Notification.id == received.id).values(state="unconfirmed", error="in doubt")
        )
    listed = ideahub(api.settings, "notifications", "failed")
    assert listed.returncode == 0
    assert "unconfirmed" in listed.stdout
    assert str(created["reference"]) in listed.stdout

    resent = ideahub(api.settings, "notifications", "resend", str(received.id))
    assert resent.returncode == 0, resent.stderr
    assert f"Notification {received.id} will be sent again" in resent.stdout
    refused = ideahub(api.settings, "notifications", "resend", str(received.id))
    assert refused.returncode == 2
    assert "only failed or unconfirmed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert ideahub(api.settings, "notifications", "resend", "424242").returncode == 2

    log = ideahub(api.settings, "notifications", "log", str(created["reference"]).lower())
    assert log.returncode == 0
    assert "submitter/received" in log.stdout
    assert "sam@example.gov.uk" in log.stdout
    unknown = ideahub(api.settings, "notifications", "log", "IH-2026-999999")
    assert unknown.returncode == 2
    assert "there is no idea IH-2026-999999" in unknown.stderr


def with_broken_template(settings: Settings, folder: Path, name: str) -> Settings:
    """Settings whose override folder replaces `name` with a template that names an unknown variable."""
    path = folder / "templates" / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{% block subject %}Broken{% endblock %}{{ no_such_variable }}")
    return settings.model_copy(update={"templates_dir": folder / "templates"})


def test_a_broken_override_template_is_recorded_for_administrators_and_handled_once(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    settings = with_broken_template(sqlite_settings, tmp_path, "submitter/received")
    runtime = Runtime(settings)
    with TestClient(create_app(settings, runtime)) as client:
        body = {"title": "Broken", "problem": "P", "idea": "I", "email": "b@example.gov.uk"}
        assert client.post("/api/v1/ideas", json=body).status_code == 202
    api = Api(settings, runtime, client, {}, {})
    api.notify()
    api.notify()  # delivered again: recorded as handled, so nothing new
    with unit_of_work(runtime.session_factory) as session:
        failures = session.execute(select(FailedMessage.consumer, FailedMessage.error)).all()
        alerts = session.scalars(
            select(OutboxMessage.event_type).where(OutboxMessage.event_type == "message.failed.v1")
        )
        alert_count = len(list(alerts))
    assert [(consumer, "no_such_variable" in error) for consumer, error in failures] == [("notify", True)]
    assert alert_count == 1
    assert api.rows() == []
    runtime.close()


def test_a_batch_with_one_event_that_cannot_be_rendered_still_delivers_the_others(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    settings = with_broken_template(sqlite_settings, tmp_path, "submitter/withdrawn")
    runtime = Runtime(settings)
    with TestClient(create_app(settings, runtime)) as client:
        api = Api(settings, runtime, client, {}, {})
        first, second = api.submit(), api.submit(email="kim@example.gov.uk")
        client.post(f"/api/v1/status/{token_of(first)}/withdraw", json={})
    with unit_of_work(runtime.session_factory) as session:
        payloads = [json.loads(p) for p in session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id))]
    assert [p["type"] for p in payloads] == ["idea.received.v1", "idea.received.v1", "idea.status_changed.v1"]

    notifier = notifier_for(settings, runtime.session_factory)
    handle_events(notifier, payloads)  # as the consumer hands over what it gathered
    handle_events(notifier, payloads)  # and again, as after a redelivery

    assert [(row.template, row.state) for row in api.rows()] == [
        ("submitter/received", "sent"),
        ("submitter/received", "sent"),
    ]
    assert {row.recipient for row in api.rows()} == {"sam@example.gov.uk", "kim@example.gov.uk"}
    assert second["reference"] != first["reference"]
    with unit_of_work(runtime.session_factory) as session:
        failures = session.scalars(select(FailedMessage.error)).all()
    assert len(failures) == 1
    assert "no_such_variable" in failures[0]
    runtime.close()
