"""Event contracts: within a major version, an event may only gain optional fields.

The frozen copies in shared/contracts/schemas/ are what consumers were built against. A field that is
removed, retyped or newly required breaks them: publish a new `V<n+1>` model beside the old one instead.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts.events import EVENT_TYPES, Submitter, parse_event
from shared.contracts.freeze import SCHEMAS

ANNOTATIONS = frozenset({"title", "description", "default", "examples"})


def shape(schema: Any) -> Any:
    """A property's schema without its annotations: what a consumer relies on."""
    if isinstance(schema, dict):
        return {key: shape(value) for key, value in schema.items() if key not in ANNOTATIONS}
    if isinstance(schema, list):
        return [shape(item) for item in schema]
    return schema


def breaking_changes(frozen: dict[str, Any], current: dict[str, Any], where: str = "") -> list[str]:
    """What in `current` breaks a consumer built against `frozen`; an empty list means compatible."""
    problems = []
    frozen_properties = frozen.get("properties", {})
    current_properties = current.get("properties", {})
    frozen_required = set(frozen.get("required", []))
    current_required = set(current.get("required", []))
    for name, frozen_property in sorted(frozen_properties.items()):
        if name not in current_properties:
            problems.append(f"{where}{name}: removed")
        elif shape(frozen_property) != shape(current_properties[name]):
            problems.append(
                f"{where}{name}: type changed from {json.dumps(shape(frozen_property), sort_keys=True)} "
                f"to {json.dumps(shape(current_properties[name]), sort_keys=True)}"
            )
        elif name in current_required and name not in frozen_required:
            problems.append(f"{where}{name}: was optional, is now required")
    for name in sorted(current_required - set(frozen_properties)):
        problems.append(f"{where}{name}: new required property")
    current_definitions = current.get("$defs", {})
    for name, frozen_definition in sorted(frozen.get("$defs", {}).items()):
        if name not in current_definitions:
            problems.append(f"$defs/{name}: removed")
        else:
            problems += breaking_changes(frozen_definition, current_definitions[name], f"{where}$defs/{name}.")
    return problems


def frozen_schema(event_type: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{event_type}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_type_has_a_frozen_schema(event_type):
    path = SCHEMAS / f"{event_type}.json"
    assert path.is_file(), (
        f"{event_type} has no frozen schema at {path}: run `python -m shared.contracts.freeze` and commit the file"
    )


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_an_event_changes_only_compatibly_from_its_frozen_schema(event_type):
    if not (SCHEMAS / f"{event_type}.json").is_file():
        pytest.fail(f"{event_type} has no frozen schema: run `python -m shared.contracts.freeze`")
    problems = breaking_changes(frozen_schema(event_type), EVENT_TYPES[event_type].model_json_schema())
    assert not problems, f"{event_type} changed incompatibly (publish a new major version instead):\n" + "\n".join(
        problems
    )


def test_every_frozen_schema_belongs_to_an_event_type():
    orphans = sorted({path.stem for path in SCHEMAS.glob("*.json")} - EVENT_TYPES.keys())
    assert not orphans, f"frozen schemas for events that no longer exist (consumers may still expect them): {orphans}"


# --- the checker itself -----------------------------------------------------------------------------------------

RECEIVED = "idea.received.v1"


def doctored(event_type: str = RECEIVED) -> dict[str, Any]:
    return copy.deepcopy(frozen_schema(event_type))


def test_the_checker_finds_nothing_between_a_schema_and_itself():
    assert breaking_changes(frozen_schema(RECEIVED), frozen_schema(RECEIVED)) == []


def test_the_checker_catches_a_removed_field():
    current = doctored()
    del current["properties"]["title"]
    current["required"].remove("title")
    assert breaking_changes(frozen_schema(RECEIVED), current) == ["title: removed"]


def test_the_checker_catches_a_changed_type():
    current = doctored()
    current["properties"]["idea_id"] = {"title": "Idea Id", "type": "string"}
    (problem,) = breaking_changes(frozen_schema(RECEIVED), current)
    assert problem.startswith("idea_id: type changed")


def test_the_checker_catches_an_optional_field_made_required():
    current = doctored()
    current["required"].append("department")
    assert breaking_changes(frozen_schema(RECEIVED), current) == ["department: was optional, is now required"]


def test_the_checker_catches_a_new_required_field():
    current = doctored()
    current["properties"]["urgency"] = {"title": "Urgency", "type": "integer"}
    current["required"].append("urgency")
    assert breaking_changes(frozen_schema(RECEIVED), current) == ["urgency: new required property"]


def test_the_checker_catches_a_field_removed_from_a_nested_model():
    current = doctored()
    del current["$defs"]["Submitter"]["properties"]["email"]
    assert breaking_changes(frozen_schema(RECEIVED), current) == ["$defs/Submitter.email: removed"]


def test_the_checker_allows_a_new_optional_field_and_new_wording():
    current = doctored()
    current["properties"]["urgency"] = {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
    current["properties"]["title"]["description"] = "What the submitter called the idea."
    assert breaking_changes(frozen_schema(RECEIVED), current) == []


# --- naming, immutability and round trips -----------------------------------------------------------------------

CORRELATION = uuid.UUID("0e2b7a4e-6f3c-4d4b-9d55-1b8f3c1f0a01")
DUE = datetime(2026, 12, 30, 9, 0, tzinfo=UTC)
ENVELOPE = {"idea_id": 7, "idea_reference": "IH-2026-0007", "correlation_id": CORRELATION}
SAMPLES: dict[str, dict[str, Any]] = {
    "idea.received.v1": {
        "title": "Numbered tickets",
        "department": "Health",
        "channel": "email",
        "submitter": Submitter(name="Jo Bloggs", email="jo@example.gov.uk"),
    },
    "idea.status_changed.v1": {
        "from_status": "in_review",
        "to_status": "matching",
        "reason": "mean score 3.5",
        "reasons": ["Cheap to try.", "Good evidence."],
        "actor": "review",
    },
    "review.assigned.v1": {"task_id": 3, "reviewer_id": 11, "due_at": DUE},
    "review.submitted.v1": {"task_id": 3, "reviewer_id": 11, "recommendation": "accept", "overall": 3.75},
    "offer.made.v1": {"offer_id": 5, "sponsor_id": 21, "rank": 1, "due_at": DUE, "reasons": ["same department"]},
    "offer.answered.v1": {"offer_id": 5, "sponsor_id": 21, "answer": "declined", "reason": "no budget"},
    "incubation.started.v1": {"sponsor_id": 21},
    "milestone.reached.v1": {"milestone_id": 9, "title": "Pilot in two offices"},
    "review.reminder.v1": {"task_id": 3, "reviewer_id": 11, "due_at": DUE},
    "review.escalated.v1": {"task_id": 3, "reviewer_id": 11, "replacement_id": 12},
    "offer.reminder.v1": {"offer_id": 5, "sponsor_id": 21, "due_at": DUE},
    "milestone.scheduled.v1": {
        "milestone_id": 9,
        "sponsor_id": 21,
        "title": "Pilot in two offices",
        "due_at": DUE,
        "overdue_at": DUE,
    },
    "milestone.reminder.v1": {"milestone_id": 9, "sponsor_id": 21, "title": "Pilot in two offices", "due_at": DUE},
    "milestone.overdue.v1": {"milestone_id": 9, "sponsor_id": 21, "title": "Pilot in two offices", "due_at": DUE},
    "admin.action_taken.v1": {
        "action": "review_reassigned",
        "by_id": 2,
        "by_name": "Ada Admin",
        "reason": "On leave",
        "detail": {"task_id": 3, "to": "Raj Reviewer"},
    },
    "case_study.published.v1": {"case_study_id": 4, "slug": "numbered-tickets-ih-2026-000123", "title": "Tickets"},
    "question.asked.v1": {"question_id": 7, "task_id": 3, "due_at": DUE},
    "question.reminder.v1": {"question_id": 7, "question": "How many clinics would take part?", "due_at": DUE},
    "review.resumed.v1": {
        "task_id": 3,
        "reviewer_id": 11,
        "due_at": DUE,
        "question": "How many clinics would take part?",
        "answer": "Forty.",
    },
    "notification.failed.v1": {
        "notification_id": 40,
        "channel": "email",
        "template": "submitter/received",
        "state": "failed",
        "error": "550 no such user",
    },
    "message.failed.v1": {"failed_message_id": 2, "consumer": "review.screen_idea", "error": "IllegalTransition"},
    "mail.refused.v1": {
        "to": "someone@example.gov.uk",
        "subject": "My idea",
        "reason": "the message had no text we could read",
        "in_reply_to": "<abc@mail.example>",
    },
    "staff.sign_in_requested.v1": {
        "link_id": "6f1c2a9e-1d2b-4c3d-9e8f-0a1b2c3d4e5f",
        "person_id": 4,
        "expires_at": "2026-11-23T07:45:00+00:00",
    },
}


def sample(event_type: str):
    return EVENT_TYPES[event_type](causation_id=uuid.uuid4(), **ENVELOPE, **SAMPLES[event_type])


def test_every_event_type_has_a_sample_here():
    assert sorted(SAMPLES) == sorted(EVENT_TYPES), "add a sample of the new event type to SAMPLES"


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_an_event_type_name_ends_with_the_major_version_of_its_model(event_type):
    model = EVENT_TYPES[event_type]
    name_version = re.fullmatch(r"[a-z_]+(?:\.[a-z_]+)+\.v(\d+)", event_type)
    class_version = re.fullmatch(r"[A-Z][A-Za-z]*V(\d+)", model.__name__)
    assert name_version, f"{event_type} should look like 'thing.happened.v1'"
    assert class_version, f"{model.__name__} should end with V<major>"
    assert name_version[1] == class_version[1], f"{event_type} is carried by {model.__name__}"


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_an_event_cannot_be_changed_once_made(event_type):
    event = sample(event_type)
    with pytest.raises(ValidationError, match="frozen"):
        event.idea_id = 8
    assert event.idea_id == 7


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_an_event_survives_a_round_trip_through_json(event_type):
    event = sample(event_type)
    parsed = parse_event(event.model_dump_json())
    assert type(parsed) is EVENT_TYPES[event_type]
    assert parsed == event
    assert parse_event(json.loads(event.model_dump_json())) == event


def test_an_event_of_an_unknown_type_is_refused():
    with pytest.raises(ValidationError):
        parse_event({"type": "idea.teleported.v1", **ENVELOPE})


def test_an_event_ignores_fields_it_does_not_know_so_consumers_survive_a_newer_producer():
    event = sample("incubation.started.v1")
    payload = json.loads(event.model_dump_json()) | {"budget": 1000}
    assert parse_event(payload) == event
