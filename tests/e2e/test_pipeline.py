"""Ideas driven through every stage over the HTTP API, with the relay and workers as real processes."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from infra import people
from infra.app import create_app
from shared.config import Settings
from shared.db.models import WorkerHeartbeat
from shared.db.uow import unit_of_work
from tests.conftest import Stack
from tests.helpers import deliveries, idea_status, mails_about, start_component, wait_for

pytestmark = pytest.mark.e2e

STAFF = {
    "rev1": dict(email="e2e.rev1@example.gov.uk", name="Rhona Reviewer", role="reviewer", department="Health"),
    "rev2": dict(email="e2e.rev2@example.gov.uk", name="Ravi Reviewer", role="reviewer", department="Housing"),
    "spo1": dict(
        email="e2e.spo1@example.gov.uk",
        name="Sofia Sponsor",
        role="sponsor",
        department="Health",
        interests="clinic appointments patients reminders",
        capacity=2,
    ),
    "spo2": dict(
        email="e2e.spo2@example.gov.uk",
        name="Sean Sponsor",
        role="sponsor",
        department="Transport",
        interests="buses roads parking",
        capacity=2,
    ),
    "admin": dict(email="e2e.admin@example.gov.uk", name="Alex Admin", role="admin"),
}
SUBMITTER = "nadia.nurse@example.gov.uk"
# The subject of each message to the submitter (after the idea's reference).
SUBJECTS = {
    "submitter/received": "We have your idea",
    "submitter/in_review": "Reviewers are looking at your idea",
    "submitter/matching": "Reviewers have recommended your idea",
    "submitter/rejected": "Your idea will not be taken forward",
    "submitter/incubating": "Your idea has a sponsor",
    "submitter/implemented": "Your idea has been put into practice",
    "submitter/withdrawn": "Your idea has been withdrawn",
}
# Both reviewers are given every idea: each is told once.
REVIEWERS_TOLD = [(STAFF[r]["email"], "reviewer/review_assigned") for r in ("rev1", "rev2")]


@dataclass
class System:
    client: TestClient
    settings: Settings
    factory: sessionmaker[Session]
    tokens: dict[str, str]
    logs: Path

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def start(stack: Stack, name: str, *args: str) -> subprocess.Popen[bytes]:
    return start_component(stack.data_dir, name, stack.env, *args)


@pytest.fixture(scope="module")
def system(stack: Stack) -> Iterator[System]:
    settings = stack.settings()
    tokens = {}
    for key, person in STAFF.items():
        people.add(settings, **person)
        tokens[key] = people.new_api_token(settings, person["email"])  # type: ignore[arg-type]
    processes = [start(stack, "relay", "relay"), start(stack, "worker", "worker", "--threads", "4")]
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            yield System(client, settings, app.state.session_factory, tokens, stack.data_dir)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        codes = [p.wait(timeout=60) for p in processes]
        app.state.runtime.close()
    assert codes == [0, 0], f"relay and worker should stop cleanly on SIGTERM, got {codes}"


def submit(system: System, **fields: object) -> tuple[str, str]:
    body = {
        "title": "Text reminders for clinic appointments",
        "problem": "Patients miss clinic appointments.",
        "idea": "Send patients a text reminder two days before.",
        "department": "Health",
        "name": "Nadia Nurse",
        "email": SUBMITTER,
        **fields,
    }
    answer = system.client.post("/api/v1/ideas", json=body)
    assert answer.status_code == 202, answer.text
    data = answer.json()
    assert data["status"] == "received"
    assert data["reference"].startswith("IH-")
    return data["reference"], data["status_url"].rsplit("/", 1)[1]


def reach(system: System, reference: str, status: str) -> None:
    wait_for(lambda: idea_status(system.factory, reference) == status, what=f"{reference} to be {status}")


def review_all(system: System, reference: str, recommendation: str, score: int, comment: str) -> None:
    for reviewer in ("rev1", "rev2"):
        tasks = system.client.get("/api/v1/reviews/tasks", headers=system.auth(reviewer)).json()
        (task,) = [t for t in tasks if t["idea_reference"] == reference]
        answer = system.client.post(
            f"/api/v1/reviews/tasks/{task['id']}",
            headers=system.auth(reviewer),
            json={
                "scores": {"impact": score, "feasibility": score, "cost": score, "evidence": score},
                "recommendation": recommendation,
                "comment": f"{comment} ({reviewer})",
            },
        )
        assert answer.status_code == 202, answer.text


def to_submitter(system: System, reference: str) -> list[tuple[str, str, str]]:
    """(template, subject, state) of each notification to the submitter."""
    return [(t, subject, state) for to, t, subject, state in deliveries(system.factory, reference) if to == SUBMITTER]


def to_staff(system: System, reference: str) -> list[tuple[str, str]]:
    """(recipient, template) of each notification to anyone else, sorted."""
    return sorted((to, t) for to, t, _, _ in deliveries(system.factory, reference) if to != SUBMITTER)


def expected_for_submitter(reference: str, *templates: str) -> list[tuple[str, str, str]]:
    return sorted((t, f"[{reference}] {SUBJECTS[t]}", "sent") for t in templates)


def offer_for(system: System, reference: str) -> tuple[str, dict[str, object]]:
    def find() -> tuple[str, dict[str, object]] | None:
        for sponsor in ("spo1", "spo2"):
            for offer in system.client.get("/api/v1/offers", headers=system.auth(sponsor)).json():
                if offer["idea_reference"] == reference:
                    return sponsor, offer
        return None

    return wait_for(find, what=f"an offer for {reference}")


def test_an_idea_goes_from_submission_to_implemented_and_the_submitter_hears_of_each_step_once(
    system: System,
) -> None:
    reference, token = submit(system)
    reach(system, reference, "in_review")
    review_all(system, reference, "accept", 4, "Worth trying")
    reach(system, reference, "matching")

    first_sponsor, first = offer_for(system, reference)
    assert first_sponsor == "spo1", "the sponsor whose interests and department fit should be asked first"
    assert any("clinic" in reason for reason in first["reasons"])  # type: ignore[attr-defined]
    declined = system.client.post(
        f"/api/v1/offers/{first['id']}/decline", headers=system.auth("spo1"), json={"reason": "No budget this year"}
    )
    assert declined.status_code == 200, declined.text
    second_sponsor, second = wait_for(
        lambda: (found := offer_for(system, reference))[0] == "spo2" and found, what="the offer to pass on"
    )
    accepted = system.client.post(f"/api/v1/offers/{second['id']}/accept", headers=system.auth("spo2"))
    assert accepted.status_code == 200, accepted.text
    reach(system, reference, "incubating")

    plan = {"milestones": [{"title": "Pilot in one clinic", "due_on": "2027-03-01"}], "budget": 5000}
    answer = wait_for(
        lambda: (
            (
                r := system.client.post(f"/api/v1/ideas/{reference}/milestones", headers=system.auth("spo2"), json=plan)
            ).status_code
            != 409
            and r
        ),
        what="the incubation record",
    )
    assert answer.status_code == 201, answer.text
    progress = system.client.post(
        f"/api/v1/ideas/{reference}/updates",
        headers=system.auth("spo2"),
        json={"state": "on_track", "note": "Going well"},
    )
    assert progress.status_code == 201, progress.text
    outcome = system.client.post(
        f"/api/v1/ideas/{reference}/outcome",
        headers=system.auth("spo2"),
        json={
            "result": "implemented",
            "summary": "Missed appointments fell by a third",
            "benefits": "Clinics see more patients.",
            "hours_saved_a_year": 120,
        },
    )
    assert outcome.status_code == 200, outcome.text
    assert idea_status(system.factory, reference) == "implemented"

    expected = expected_for_submitter(
        reference,
        "submitter/received",
        "submitter/in_review",
        "submitter/matching",
        "submitter/incubating",
        "submitter/implemented",
    )
    # Each reviewer of their task, each sponsor of the offer made to them.
    staff = sorted(
        REVIEWERS_TOLD + [(STAFF[s]["email"], "sponsor/offer_made") for s in (first_sponsor, second_sponsor)]
    )
    wait_for(lambda: len(deliveries(system.factory, reference)) >= len(expected) + len(staff), what="every email")
    sent = deliveries(system.factory, reference)
    assert [state for _, _, _, state in sent] == ["sent"] * (len(expected) + len(staff))
    # Exactly these, once each. Two emails about one idea may be sent in either order: the stage's
    # threads take them in parallel, and mail is not ordered in transit either.
    assert sorted(to_submitter(system, reference)) == expected
    assert to_staff(system, reference) == staff
    mails = mails_about(system.settings.mail_dir, reference)
    assert sorted(str(m["Subject"]) for m in mails) == sorted(subject for _, _, subject, _ in sent)
    assert len({m["Message-ID"] for m in mails}) == len(sent)
    for mail in mails:
        text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
        if mail["To"].addresses[0].addr_spec == SUBMITTER:
            assert token in text
        else:  # staff never learn who sent the idea, nor get the submitter's secret status link
            for secret in (token, "Nadia Nurse", SUBMITTER):
                assert secret not in text
                assert secret not in html

    history = system.client.get(f"/api/v1/status/{token}").json()
    assert [h["status"] for h in history["history"]] == [
        "received",
        "in_review",
        "matching",
        "incubating",
        "implemented",
    ]
    refused = system.client.post(f"/api/v1/status/{token}/withdraw")
    assert refused.status_code == 409
    assert idea_status(system.factory, reference) == "implemented"

    # One correlation id follows the idea through every stage's log lines.
    lines = [json.loads(line) for line in (system.logs / "worker.log").read_text().splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("idea_reference") == reference]
    assert {line["consumer"] for line in mine} >= {
        "review.screen_idea",
        "review.decide",
        "matching.start_matching",
        "matching.offer_declined",
        "incubation.start_incubation",
        "notify",
    }
    assert len({line["correlation_id"] for line in mine}) == 1
    assert all(line["event_id"] for line in mine)


def test_a_rejected_idea_tells_the_submitter_the_reasons_but_not_the_reviewers(system: System) -> None:
    reference, token = submit(system, title="Repaint every bus", idea="Paint all buses gold.", department="Transport")
    reach(system, reference, "in_review")
    review_all(system, reference, "reject", 2, "Costly with little benefit")
    reach(system, reference, "rejected")

    expected = expected_for_submitter(reference, "submitter/received", "submitter/in_review", "submitter/rejected")
    wait_for(
        lambda: len(deliveries(system.factory, reference)) >= len(expected) + len(REVIEWERS_TOLD),
        what="three emails to the submitter and one to each reviewer",
    )
    assert sorted(to_submitter(system, reference)) == expected
    assert to_staff(system, reference) == sorted(REVIEWERS_TOLD)
    (rejection,) = [
        m
        for m in mails_about(system.settings.mail_dir, reference)
        if str(m["Subject"]) == f"[{reference}] {SUBJECTS['submitter/rejected']}"
    ]
    text = rejection.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Costly with little benefit (rev1)" in text
    assert "Costly with little benefit (rev2)" in text
    for person in ("rev1", "rev2"):
        assert STAFF[person]["name"] not in text
        assert STAFF[person]["email"] not in text
    assert system.client.post(f"/api/v1/status/{token}/withdraw").status_code == 409


def test_a_submitter_can_withdraw_an_idea_under_review(system: System) -> None:
    reference, token = submit(system, title="Withdraw me")
    reach(system, reference, "in_review")
    answer = system.client.post(f"/api/v1/status/{token}/withdraw", json={"reason": "Solved another way"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "withdrawn"
    expected = expected_for_submitter(reference, "submitter/received", "submitter/in_review", "submitter/withdrawn")
    wait_for(
        lambda: len(deliveries(system.factory, reference)) >= len(expected) + len(REVIEWERS_TOLD),
        what="three emails to the submitter and one to each reviewer",
    )
    assert sorted(to_submitter(system, reference)) == expected
    assert to_staff(system, reference) == sorted(REVIEWERS_TOLD)


def test_the_administrator_sees_the_pipeline_and_nobody_else_does(system: System) -> None:
    assert system.client.get("/api/v1/admin/pipeline").status_code == 401
    assert system.client.get("/api/v1/admin/pipeline", headers=system.auth("rev1")).status_code == 403
    answer = system.client.get("/api/v1/admin/pipeline", headers=system.auth("admin"))
    assert answer.status_code == 200
    view = answer.json()
    assert set(view["ideas_by_status"]) >= {"received", "in_review", "implemented", "rejected"}
    # The stages' dramatiq queues, and notify's own queue on the topic exchange.
    assert set(view["queue_depths"]) == {
        f"{system.settings.queue_prefix}{q}" for q in ("review", "matching", "incubation", "notify.events")
    }
    assert view["failed_messages"] == []


def test_the_worker_and_the_relay_report_a_heartbeat_with_what_they_handled(system: System) -> None:
    submit(system, title="Heartbeats")

    def beats() -> dict[str, WorkerHeartbeat]:
        with unit_of_work(system.factory) as session:
            found = {row.role: row for row in session.scalars(select(WorkerHeartbeat))}
            session.expunge_all()
        return found

    found = wait_for(
        lambda: (b := beats()) and {"worker", "relay"} <= set(b) and all(r.handled for r in b.values()) and b,
        timeout=60,
        what="a heartbeat with work done from the worker and the relay",
    )
    worker = found["worker"]
    assert set(worker.stages.split(",")) >= {"review", "matching", "incubation", "notify"}
    assert worker.consumers["review.screen_idea"]["handled"] >= 1
    assert worker.consumers["notify"]["handled"] >= 1
    assert found["relay"].consumers["relay"]["handled"] >= 1
    assert all(row.stopped_at is None for row in found.values())
