"""Who is told what: `services/notify/rules.py` against a real SQLite database.

The expected audience of each event is written out here from the table in docs/notifications.md, not derived from the
rules, so that a change to whom an event reaches shows up as a failing test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from infra.composition import Runtime
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.notify.handlers import set_optional_mail
from services.notify.rules import REQUIRED_STATUSES, SUBMITTER_STATUSES, Intent, Rules, topic_matches, webhook_document
from shared.config import Settings, load_settings
from shared.contracts import events as ev
from shared.db.models import Idea, Offer, Person
from shared.db.uow import unit_of_work
from shared.signing import sign_in_link_id

TITLE = "Text reminders for clinic appointments"
SUBMITTER_NAME = "Nadia Nurse"
SUBMITTER_EMAIL = "nadia.nurse@example.gov.uk"
DUE = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
WEBHOOK = "https://hooks.example.org/ideahub"
REFUSED_SENDER = "someone@example.org"

# key: (name, email, role, active)
STAFF = {
    "reviewer": ("Rhona Reviewer", "rhona@example.gov.uk", "reviewer", True),
    "replacement": ("Ravi Reviewer", "ravi@example.gov.uk", "reviewer", True),
    "retired_reviewer": ("Rita Retired", "rita@example.gov.uk", "reviewer", False),
    "sponsor": ("Sofia Sponsor", "sofia@example.gov.uk", "sponsor", True),
    "other_sponsor": ("Sean Sponsor", "sean@example.gov.uk", "sponsor", True),
    "admin": ("Alex Admin", "alex@example.gov.uk", "admin", True),
    "second_admin": ("Ada Admin", "ada@example.gov.uk", "admin", True),
    "former_admin": ("Fred Former", "fred@example.gov.uk", "admin", False),
}
# Every active administrator, in the order they were added.
ADMINS = [STAFF["admin"][1], STAFF["second_admin"][1]]

# The statuses the submitter hears of, and the one among them they cannot turn off.
EXPECTED_SUBMITTER_STATUSES = {
    "in_review",
    "needs_info",
    "matching",
    "rejected",
    "duplicate",
    "incubating",
    "unmatched",
    "implemented",
    "closed",
    "withdrawn",
}


@dataclass
class World:
    settings: Settings
    factory: Any
    idea_id: int
    reference: str
    token: str
    correlation_id: uuid.UUID
    people: dict[str, int]

    def event(self, model: type[ev.EventBase], **fields: Any) -> ev.EventBase:
        return model(idea_id=self.idea_id, idea_reference=self.reference, correlation_id=self.correlation_id, **fields)

    def intents(self, event: ev.EventBase, settings: Settings | None = None) -> list[Intent]:
        with unit_of_work(self.factory) as session:
            return Rules(session, settings or self.settings).for_event(event)

    def email(self, key: str) -> str:
        return STAFF[key][1]


@pytest.fixture
def world(sqlite_settings: Settings) -> Iterator[World]:
    runtime = Runtime(sqlite_settings)
    with unit_of_work(runtime.session_factory) as session:
        created = submit_idea(
            session,
            Submission(
                title=TITLE,
                problem="Patients miss appointments.",
                idea="Text them two days before.",
                department="Health",
                theme="Digital",
                name=SUBMITTER_NAME,
                email=SUBMITTER_EMAIL,
            ),
            channel="api",
            departments=sqlite_settings.departments,
        )
        correlation_id = session.scalar(select(Idea.correlation_id).where(Idea.id == created.id))
        people = {}
        for key, (name, email, role, active) in STAFF.items():
            person = Person(name=name, email=email, role=role, active=active)
            session.add(person)
            session.flush()
            people[key] = person.id
        # The sponsor who accepted is named to the submitter; one who declined is not.
        for sponsor, state in (("other_sponsor", "declined"), ("sponsor", "accepted")):
            session.add(
                Offer(
                    idea_id=created.id,
                    sponsor_id=people[sponsor],
                    rank=1,
                    score=1.0,
                    reasons=[],
                    state=state,
                    due_at=DUE,
                )
            )
    assert correlation_id is not None
    yield World(
        sqlite_settings,
        runtime.session_factory,
        created.id,
        created.reference,
        created.status_token,
        correlation_id,
        people,
    )
    runtime.close()


def with_webhook(world: World, *events: str) -> Settings:
    """The same database, with a webhook for the given routing patterns (`#` when none are given)."""
    return load_settings(
        data_dir=world.settings.data_dir,
        queue_prefix=world.settings.queue_prefix,
        webhook_url=WEBHOOK,
        webhook_secret="s3cret",
        webhook_events=list(events or ("#",)),
    )


def status_changed(world: World, to_status: str, **fields: Any) -> ev.EventBase:
    return world.event(ev.IdeaStatusChangedV1, from_status="in_review", to_status=to_status, **fields)


def who(intents: list[Intent]) -> list[tuple[str, str, str]]:
    return [(i.audience, i.template, i.recipient) for i in intents]


# One sample of every event type, about the world's idea.
def samples(world: World) -> dict[str, ev.EventBase]:
    p = world.people
    return {
        "idea.received.v1": world.event(
            ev.IdeaReceivedV1,
            title=TITLE,
            department="Health",
            submitter=ev.Submitter(name=SUBMITTER_NAME, email=SUBMITTER_EMAIL),
        ),
        "idea.status_changed.v1": status_changed(world, "unmatched", reason="No sponsor had room"),
        "review.assigned.v1": world.event(ev.ReviewAssignedV1, task_id=3, reviewer_id=p["reviewer"], due_at=DUE),
        "review.submitted.v1": world.event(
            ev.ReviewSubmittedV1, task_id=3, reviewer_id=p["reviewer"], recommendation="accept", overall=4.0
        ),
        "offer.made.v1": world.event(
            ev.OfferMadeV1, offer_id=5, sponsor_id=p["sponsor"], rank=1, due_at=DUE, reasons=["Same department"]
        ),
        "offer.answered.v1": world.event(ev.OfferAnsweredV1, offer_id=5, sponsor_id=p["sponsor"], answer="accepted"),
        "incubation.started.v1": world.event(ev.IncubationStartedV1, sponsor_id=p["sponsor"]),
        "milestone.reached.v1": world.event(ev.MilestoneReachedV1, milestone_id=9, title="Pilot in one clinic"),
        "review.reminder.v1": world.event(ev.ReviewReminderV1, task_id=3, reviewer_id=p["reviewer"], due_at=DUE),
        "review.escalated.v1": world.event(
            ev.ReviewEscalatedV1, task_id=3, reviewer_id=p["reviewer"], replacement_id=p["replacement"]
        ),
        "offer.reminder.v1": world.event(ev.OfferReminderV1, offer_id=5, sponsor_id=p["sponsor"], due_at=DUE),
        "milestone.scheduled.v1": world.event(
            ev.MilestoneScheduledV1, milestone_id=9, sponsor_id=p["sponsor"], title="Pilot", due_at=DUE, overdue_at=DUE
        ),
        "milestone.reminder.v1": world.event(
            ev.MilestoneReminderV1, milestone_id=9, sponsor_id=p["sponsor"], title="Pilot in one clinic", due_at=DUE
        ),
        "milestone.overdue.v1": world.event(
            ev.MilestoneOverdueV1, milestone_id=9, sponsor_id=p["sponsor"], title="Pilot in one clinic", due_at=DUE
        ),
        "admin.action_taken.v1": world.event(
            ev.AdminActionV1, action="review_reassigned", by_id=p["admin"], by_name="Ada Admin", reason="On leave"
        ),
        "case_study.published.v1": world.event(
            ev.CaseStudyPublishedV1, case_study_id=4, slug="text-reminders-ih-2026-000123", title=TITLE
        ),
        "question.asked.v1": world.event(ev.QuestionAskedV1, question_id=7, task_id=3, due_at=DUE),
        "question.reminder.v1": world.event(
            ev.QuestionReminderV1, question_id=7, question="How many clinics would take part?", due_at=DUE
        ),
        "review.resumed.v1": world.event(
            ev.ReviewResumedV1,
            task_id=3,
            reviewer_id=p["reviewer"],
            due_at=DUE,
            question="How many clinics would take part?",
            answer="Forty clinics.",
        ),
        "notification.failed.v1": world.event(
            ev.NotificationFailedV1,
            notification_id=40,
            channel="email",
            template="submitter/received",
            state="failed",
            error="550 mailbox unavailable",
        ),
        "message.failed.v1": world.event(
            ev.MessageFailedV1, failed_message_id=2, consumer="review.screen_idea", error="IllegalTransition"
        ),
        # About no idea: someone's email that could not be taken in.
        "mail.refused.v1": ev.MailRefusedV1(
            to=REFUSED_SENDER,
            subject="My idea about clinics",
            reason="we could not find any text in your email",
            in_reply_to="<abc.123@mail.example.org>",
            correlation_id=uuid.uuid4(),
        ),
        # About no idea: a member of staff asked for a link to sign in.
        "staff.sign_in_requested.v1": sign_in_requested(p["admin"]),
    }


def sign_in_requested(person_id: int) -> ev.SignInRequestedV1:
    return ev.SignInRequestedV1(
        link_id=uuid.uuid4(),
        person_id=person_id,
        occurred_at=DUE - timedelta(minutes=15),
        expires_at=DUE,
        correlation_id=uuid.uuid4(),
    )


def test_there_is_a_sample_of_every_event_type(world: World) -> None:
    assert sorted(samples(world)) == sorted(ev.EVENT_TYPES)


# --- the submitter ------------------------------------------------------------------------------------------------


def test_a_received_idea_is_acknowledged_to_its_submitter_whatever_their_preference(world: World) -> None:
    (intent,) = world.intents(samples(world)["idea.received.v1"])
    assert (intent.audience, intent.template, intent.recipient, intent.channel) == (
        "submitter",
        "submitter/received",
        SUBMITTER_EMAIL,
        "email",
    )
    assert intent.recipient_name == SUBMITTER_NAME
    assert intent.context["title"] == TITLE
    assert intent.context["attachments_refused"] == []
    assert intent.context["status_url"] == f"{world.settings.public_url.rstrip('/')}/status/{world.token}"
    assert intent.context["stop_url"] == f"{intent.context['status_url']}/stop-updates"
    assert intent.context["optional"] is False
    assert intent.skip is False


def test_the_acknowledgement_names_the_attachments_that_were_not_kept(world: World) -> None:
    refused = ["virus.exe (this type of file is not accepted)", "scan.pdf (it is larger than 5 MB)"]
    event = world.event(
        ev.IdeaReceivedV1,
        title=TITLE,
        channel="email",
        submitter=ev.Submitter(name=SUBMITTER_NAME, email=SUBMITTER_EMAIL),
        attachments_refused=refused,
    )
    (intent,) = world.intents(event)
    assert intent.context["attachments_refused"] == refused


def test_a_refused_email_is_answered_once_to_its_sender_with_the_reason(world: World) -> None:
    (intent,) = world.intents(samples(world)["mail.refused.v1"])
    assert (intent.audience, intent.template, intent.recipient, intent.channel) == (
        "sender",
        "sender/not_accepted",
        REFUSED_SENDER,
        "email",
    )
    assert intent.recipient_name is None
    assert intent.context == {"title": "My idea about clinics", "reason": "we could not find any text in your email"}
    assert intent.skip is False


def test_a_webhook_is_not_given_the_address_of_someone_whose_email_was_refused(world: World) -> None:
    event = samples(world)["mail.refused.v1"]
    (hook,) = [i for i in world.intents(event, with_webhook(world)) if i.channel == "webhook"]
    assert REFUSED_SENDER not in hook.context["document"]
    assert json.loads(hook.context["document"])["event"]["reason"] == "we could not find any text in your email"


def test_a_sign_in_link_is_emailed_to_the_person_who_asked_signed_here_with_its_expiry_in_words(
    world: World,
) -> None:
    event = samples(world)["staff.sign_in_requested.v1"]
    (intent,) = world.intents(event)
    assert (intent.audience, intent.template, intent.recipient, intent.channel) == (
        "staff",
        "staff/sign_in",
        world.email("admin"),
        "email",
    )
    assert intent.recipient_name == STAFF["admin"][0]
    assert intent.skip is False
    prefix = f"{world.settings.public_url.rstrip('/')}/sign-in/"
    url = intent.context["sign_in_url"]
    assert url.startswith(prefix)
    secret = world.settings.resolved_secret_key()
    assert sign_in_link_id(secret, url.removeprefix(prefix), now=DUE - timedelta(minutes=1)) == event.link_id
    assert intent.context["expires_at"] == "Friday 4 December 2026 at 17:00"
    assert intent.context["minutes"] == 15


def test_no_sign_in_link_goes_to_someone_made_inactive_since_asking(world: World) -> None:
    assert world.intents(sign_in_requested(world.people["former_admin"])) == []


def test_the_submitter_hears_of_these_statuses_and_cannot_turn_off_needs_info() -> None:
    assert SUBMITTER_STATUSES == EXPECTED_SUBMITTER_STATUSES
    assert REQUIRED_STATUSES == {"needs_info"}


@pytest.mark.parametrize("status", sorted(EXPECTED_SUBMITTER_STATUSES))
def test_each_status_goes_to_the_submitter_with_its_own_template(world: World, status: str) -> None:
    intents = world.intents(status_changed(world, status))
    submitter = [i for i in intents if i.audience == "submitter"]
    assert who(submitter) == [("submitter", f"submitter/{status}", SUBMITTER_EMAIL)]
    assert submitter[0].context["optional"] is (status != "needs_info")
    assert submitter[0].skip is False  # nobody has turned anything off yet
    others = [i for i in intents if i.audience != "submitter"]
    if status == "unmatched":
        assert who(others) == [("admin", "admin/idea_unmatched", email) for email in ADMINS]
    else:
        assert others == []


def test_a_status_the_submitter_is_not_told_of_reaches_nobody(world: World) -> None:
    assert world.intents(world.event(ev.IdeaStatusChangedV1, from_status="received", to_status="received")) == []


@pytest.mark.parametrize(
    ("status", "fields", "expected"),
    [
        ("needs_info", {"reason": "How many clinics?"}, {"question": "How many clinics?"}),
        (
            "matching",
            {"reasons": ["Cheap to try.", "Good evidence."]},
            {"reasons": ["Cheap to try.", "Good evidence."]},
        ),
        ("rejected", {"reasons": ["Costly."]}, {"reasons": ["Costly."]}),
        ("duplicate", {"reason": "Same as IH-2026-000001"}, {"reason": "Same as IH-2026-000001"}),
        ("incubating", {}, {"sponsor_name": "Sofia Sponsor"}),
        ("implemented", {"reason": "Missed appointments fell"}, {"summary": "Missed appointments fell"}),
        ("closed", {"reason": "Budget cut"}, {"summary": "Budget cut"}),
        ("withdrawn", {"reason": "Solved another way"}, {"reason": "Solved another way"}),
    ],
)
def test_a_status_message_carries_what_the_submitter_needs_to_know(
    world: World, status: str, fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    (intent,) = world.intents(status_changed(world, status, **fields))
    assert {key: intent.context[key] for key in expected} == expected


def test_an_unmatched_idea_tells_every_active_administrator_and_no_former_one(world: World) -> None:
    intents = world.intents(samples(world)["idea.status_changed.v1"])
    admins = [i for i in intents if i.audience == "admin"]
    assert [(i.recipient, i.recipient_name) for i in admins] == [
        (STAFF["admin"][1], STAFF["admin"][0]),
        (STAFF["second_admin"][1], STAFF["second_admin"][0]),
    ]
    for intent in admins:
        assert intent.context["reason"] == "No sponsor had room"
        assert intent.context["idea_url"].endswith(f"/admin/ideas/{world.reference}/matching")
        assert intent.skip is False


def test_a_milestone_goes_to_the_submitter(world: World) -> None:
    (intent,) = world.intents(samples(world)["milestone.reached.v1"])
    assert who([intent]) == [("submitter", "submitter/milestone_reached", SUBMITTER_EMAIL)]
    assert intent.context["milestone_title"] == "Pilot in one clinic"


def test_optional_mail_is_skipped_once_the_submitter_turns_it_off_but_needs_info_is_not(world: World) -> None:
    with unit_of_work(world.factory) as session:
        set_optional_mail(session, world.token, False)

    (in_review,) = world.intents(status_changed(world, "in_review"))
    assert in_review.skip is True
    (milestone,) = world.intents(samples(world)["milestone.reached.v1"])
    assert milestone.skip is True
    (needs_info,) = world.intents(status_changed(world, "needs_info", reason="How many clinics?"))
    assert needs_info.skip is False
    (received,) = world.intents(samples(world)["idea.received.v1"])
    assert received.skip is False

    with unit_of_work(world.factory) as session:
        set_optional_mail(session, world.token, True)
    (in_review,) = world.intents(status_changed(world, "in_review"))
    assert in_review.skip is False


def test_an_idea_without_a_submitter_email_tells_the_submitter_nothing(world: World) -> None:
    with unit_of_work(world.factory) as session:
        session.get(Idea, world.idea_id).submitter_email = None  # type: ignore[union-attr]
    assert world.intents(status_changed(world, "in_review")) == []


# --- staff --------------------------------------------------------------------------------------------------------


def test_a_review_task_goes_to_its_reviewer_with_a_link_and_the_deadline(world: World) -> None:
    (intent,) = world.intents(samples(world)["review.assigned.v1"])
    assert who([intent]) == [("reviewer", "reviewer/review_assigned", world.email("reviewer"))]
    assert intent.recipient_name == "Rhona Reviewer"
    assert intent.context["task_url"].endswith("/reviews/tasks/3")
    # As people read it, in UK time (the same as UTC in December).
    assert intent.context["due_at"].startswith("Friday 4 December 2026 at 17:00")
    assert (intent.context["title"], intent.context["department"], intent.context["theme"]) == (
        TITLE,
        "Health",
        "Digital",
    )
    assert intent.skip is False


def test_a_review_reminder_goes_to_its_reviewer(world: World) -> None:
    assert who(world.intents(samples(world)["review.reminder.v1"])) == [
        ("reviewer", "reviewer/review_reminder", world.email("reviewer"))
    ]


def test_a_task_for_a_reviewer_who_has_left_tells_nobody(world: World) -> None:
    event = world.event(ev.ReviewAssignedV1, task_id=4, reviewer_id=world.people["retired_reviewer"], due_at=DUE)
    assert world.intents(event) == []


def test_an_escalated_review_tells_the_late_reviewer_and_every_administrator(world: World) -> None:
    intents = world.intents(samples(world)["review.escalated.v1"])
    assert who(intents) == [("reviewer", "reviewer/review_reassigned", world.email("reviewer"))] + [
        ("admin", "admin/review_escalated", email) for email in ADMINS
    ]
    for admin in intents[1:]:
        assert admin.context["late_reviewer_name"] == "Rhona Reviewer"
        assert admin.context["replacement_name"] == "Ravi Reviewer"


def test_a_question_reminder_goes_to_the_submitter_whatever_their_preference(world: World) -> None:
    (intent,) = world.intents(samples(world)["question.reminder.v1"])
    assert (intent.audience, intent.template, intent.skip) == ("submitter", "submitter/question_reminder", False)
    assert intent.context["question"] == "How many clinics would take part?"


def test_a_resumed_review_tells_its_reviewer_the_question_and_the_answer(world: World) -> None:
    (intent,) = world.intents(samples(world)["review.resumed.v1"])
    assert (intent.template, intent.recipient) == ("reviewer/review_resumed", world.email("reviewer"))
    assert (intent.context["question"], intent.context["answer"]) == (
        "How many clinics would take part?",
        "Forty clinics.",
    )
    assert intent.context["task_url"].endswith("/reviews/tasks/3")


def test_a_declined_task_nobody_could_take_over_tells_administrators_and_not_the_reviewer(world: World) -> None:
    event = world.event(ev.ReviewEscalatedV1, task_id=3, reviewer_id=world.people["reviewer"], reason="declined")
    intents = world.intents(event)
    assert {i.audience for i in intents} == {"admin"}
    assert all(i.context["declined"] for i in intents)


def test_an_escalation_without_a_replacement_says_so_to_administrators(world: World) -> None:
    event = world.event(ev.ReviewEscalatedV1, task_id=3, reviewer_id=world.people["reviewer"])
    admins = [i for i in world.intents(event) if i.audience == "admin"]
    assert [i.context["replacement_name"] for i in admins] == [None, None]


def test_an_offer_goes_to_its_sponsor_with_the_reasons_they_were_chosen(world: World) -> None:
    (intent,) = world.intents(samples(world)["offer.made.v1"])
    assert who([intent]) == [("sponsor", "sponsor/offer_made", world.email("sponsor"))]
    assert intent.context["reasons"] == ["Same department"]
    assert intent.context["offer_url"].endswith("/offers/5")
    assert intent.context["due_at"]


def test_an_offer_reminder_goes_to_its_sponsor(world: World) -> None:
    assert who(world.intents(samples(world)["offer.reminder.v1"])) == [
        ("sponsor", "sponsor/offer_reminder", world.email("sponsor"))
    ]


def test_a_failed_notification_tells_every_administrator(world: World) -> None:
    intents = world.intents(samples(world)["notification.failed.v1"])
    assert who(intents) == [("admin", "admin/notification_failed", email) for email in ADMINS]
    context = intents[0].context
    assert (context["notification_id"], context["channel"], context["failed_template"], context["state"]) == (
        40,
        "email",
        "submitter/received",
        "failed",
    )
    assert context["error"] == "550 mailbox unavailable"


@pytest.mark.parametrize("template", ["admin/notification_failed", "admin/idea_unmatched", "admin/message_failed"])
def test_a_failed_notification_to_administrators_is_not_reported_to_them_which_could_loop(
    world: World, template: str
) -> None:
    event = world.event(
        ev.NotificationFailedV1, notification_id=41, channel="email", template=template, state="failed", error="550"
    )
    assert world.intents(event) == []


def test_a_stage_giving_up_on_a_message_tells_every_administrator(world: World) -> None:
    intents = world.intents(samples(world)["message.failed.v1"])
    assert who(intents) == [("admin", "admin/message_failed", email) for email in ADMINS]
    assert (intents[0].context["consumer"], intents[0].context["failed_message_id"]) == ("review.screen_idea", 2)


def test_a_milestone_reminder_goes_to_its_sponsor_with_the_incubation_s_page(world: World) -> None:
    (intent,) = world.intents(samples(world)["milestone.reminder.v1"])
    assert who([intent]) == [("sponsor", "sponsor/milestone_reminder", world.email("sponsor"))]
    assert intent.context["milestone_title"] == "Pilot in one clinic"
    assert intent.context["incubation_url"].endswith(f"/incubations/{world.reference}")
    assert intent.context["due_at"]


def test_an_overdue_milestone_tells_its_sponsor_and_every_administrator(world: World) -> None:
    intents = world.intents(samples(world)["milestone.overdue.v1"])
    assert who(intents) == [("sponsor", "sponsor/milestone_overdue", world.email("sponsor"))] + [
        ("admin", "admin/milestone_overdue", email) for email in ADMINS
    ]
    assert intents[-1].context["sponsor_name"] == STAFF["sponsor"][0]


def test_a_published_case_study_tells_its_submitter_where_it_is(world: World) -> None:
    (intent,) = world.intents(samples(world)["case_study.published.v1"])
    assert who([intent]) == [("submitter", "submitter/case_study_published", SUBMITTER_EMAIL)]
    assert intent.context["case_study_url"].endswith("/case-studies/text-reminders-ih-2026-000123")
    assert intent.context["anonymous"] is False


@pytest.mark.parametrize(
    "event_type",
    [
        "review.submitted.v1",
        "offer.answered.v1",
        "incubation.started.v1",
        "question.asked.v1",
        "milestone.scheduled.v1",
    ],
)
def test_events_nobody_needs_an_email_about_reach_nobody(world: World, event_type: str) -> None:
    assert world.intents(samples(world)[event_type]) == []


def test_the_rules_use_every_template_there_is_and_no_other(world: World) -> None:
    used = {i.template for event in samples(world).values() for i in world.intents(event)}
    used |= {f"submitter/{status}" for status in SUBMITTER_STATUSES}
    folder = Path(__file__).resolve().parents[2] / "services" / "notify" / "templates"
    on_disk = {
        str(path.relative_to(folder).with_suffix(""))
        for path in folder.glob("*/*.txt")
        if path.parent.name in {"submitter", "sender", "reviewer", "sponsor", "admin", "staff"}
    }
    assert used == on_disk


# --- anonymity ----------------------------------------------------------------------------------------------------


def test_no_staff_message_holds_the_submitter_s_name_email_or_status_link(world: World) -> None:
    secrets = (SUBMITTER_NAME, SUBMITTER_EMAIL, world.token)
    staff = [
        intent
        for event in samples(world).values()
        for intent in world.intents(event, with_webhook(world))
        if intent.audience not in ("submitter", "sender", "webhook")
    ]
    assert {i.audience for i in staff} == {"reviewer", "sponsor", "admin", "staff"}
    for intent in staff:
        flat = json.dumps(intent.context, default=str)
        for secret in secrets:
            assert secret not in flat, f"{intent.template} to {intent.recipient} holds {secret!r}"
        assert intent.recipient_name != SUBMITTER_NAME


# --- the webhook --------------------------------------------------------------------------------------------------


def test_without_a_webhook_no_event_goes_to_one(world: World) -> None:
    assert not [i for e in samples(world).values() for i in world.intents(e) if i.channel == "webhook"]


def test_a_webhook_hears_every_event_but_notifications_failing_and_staff_signing_in(world: World) -> None:
    settings = with_webhook(world)
    for event_type, event in samples(world).items():
        hooks = [i for i in world.intents(event, settings) if i.channel == "webhook"]
        if event_type.startswith("notification."):
            assert hooks == [], "a failing webhook would feed itself"
        elif event_type.startswith("staff."):
            assert hooks == [], "who signs in, and when, is not another system's business"
        else:
            assert [(i.audience, i.template, i.recipient) for i in hooks] == [("webhook", event_type, WEBHOOK)]
            assert hooks[0].context["document"] == webhook_document(event)


@pytest.mark.parametrize(
    ("patterns", "heard"),
    [
        (("idea.#",), {"idea.received.v1", "idea.status_changed.v1"}),
        (
            ("review.*.v1",),
            {
                "review.assigned.v1",
                "review.submitted.v1",
                "review.reminder.v1",
                "review.escalated.v1",
                "review.resumed.v1",
            },
        ),
        (
            ("offer.made.v1", "milestone.#"),
            {
                "offer.made.v1",
                "milestone.reached.v1",
                "milestone.scheduled.v1",
                "milestone.reminder.v1",
                "milestone.overdue.v1",
            },
        ),
        (("notification.#",), set()),
        (("staff.#",), set()),
        (("nothing.matches",), set()),
    ],
)
def test_a_webhook_hears_only_the_events_its_patterns_select(
    world: World, patterns: tuple[str, ...], heard: set[str]
) -> None:
    settings = with_webhook(world, *patterns)
    found = {
        event_type
        for event_type, event in samples(world).items()
        if any(i.channel == "webhook" for i in world.intents(event, settings))
    }
    assert found == heard


def test_the_webhook_document_is_the_event_without_its_submitter(world: World) -> None:
    event = samples(world)["idea.received.v1"]
    document = webhook_document(event)
    data = json.loads(document)
    assert data["type"] == "idea.received.v1"
    assert "submitter" not in data["event"]
    assert SUBMITTER_NAME not in document
    assert SUBMITTER_EMAIL not in document
    assert data["event"]["title"] == TITLE
    assert data["event"]["idea_reference"] == world.reference
    assert data["event"]["event_id"] == str(event.event_id)


# --- routing patterns ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "routing_key", "matches"),
    [
        ("#", "idea.received.v1", True),
        ("#", "notification.failed.v1", True),
        ("#", "idea", True),
        ("*", "idea", True),
        ("*", "idea.received", False),
        ("idea.received.v1", "idea.received.v1", True),
        ("idea.received.v1", "idea.received.v2", False),
        ("idea.received.v1", "idea.received", False),
        ("idea.received", "idea.received.v1", False),
        ("idea.#", "idea.received.v1", True),
        ("idea.#", "idea", True),
        ("idea.#", "ideax.a", False),
        ("idea.#", "review.assigned.v1", False),
        ("idea.*", "idea.received", True),
        ("idea.*", "idea.received.v1", False),
        ("idea.*", "idea", False),
        ("*.*.v1", "review.assigned.v1", True),
        ("*.*.v1", "review.assigned.v2", False),
        ("#.v1", "offer.made.v1", True),
        ("idea.#.v1", "idea.v1", True),
        ("idea.#.v1", "idea.status_changed.v1", True),
        ("idea.#.v1", "idea.status_changed.v2", False),
    ],
)
def test_topic_patterns_match_as_amqp_does(pattern: str, routing_key: str, matches: bool) -> None:
    assert topic_matches(pattern, routing_key) is matches
