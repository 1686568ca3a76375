"""Subscriptions name events by class and filter on typed fields, so that a typo fails at import, not in production."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.composition import all_subscriptions
from shared.config import load_settings
from shared.contracts.events import EVENT_TYPES, IdeaStatusChangedV1, OfferAnsweredV1, OfferMadeV1
from shared.worker.declare import Deadline, StageActor, Subscription, routes

ACTOR = StageActor(fn=lambda *a: None, actor_name="test.actor", queue="test")


def test_every_route_of_every_service_is_for_an_event_type_that_exists() -> None:
    subscriptions = all_subscriptions()
    assert subscriptions
    for route in routes(subscriptions, load_settings()):
        assert route.event_type in EVENT_TYPES, route


def test_a_filter_on_a_field_the_event_does_not_have_fails_when_declared() -> None:
    with pytest.raises(ValueError, match="has no field 'to_stauts'"):
        Subscription(IdeaStatusChangedV1, ACTOR, where={"to_stauts": "matching"})


def test_a_filter_on_a_status_that_does_not_exist_fails_when_declared() -> None:
    with pytest.raises(ValueError, match="'matchng' is not an idea status"):
        Subscription(IdeaStatusChangedV1, ACTOR, where={"to_status": "matchng"})


def test_a_filter_on_a_value_the_field_can_never_hold_fails_when_declared() -> None:
    with pytest.raises(ValueError, match="answer can never be 'acepted'"):
        Subscription(OfferAnsweredV1, ACTOR, where={"answer": ("declined", "acepted")})


def test_a_deadline_must_name_a_datetime_field_of_the_event() -> None:
    with pytest.raises(ValueError, match="no datetime field 'reasons'"):
        Subscription(OfferMadeV1, ACTOR, at=Deadline("reasons"))
    with pytest.raises(ValueError, match="no datetime field 'due'"):
        Subscription(OfferMadeV1, ACTOR, at=Deadline("due"))


def test_a_filter_lets_through_only_payloads_holding_one_of_its_values() -> None:
    subscription = Subscription(
        IdeaStatusChangedV1,
        ACTOR,
        where={"from_status": ("in_review", "needs_info"), "to_status": "withdrawn"},
    )
    assert subscription.matches({"from_status": "needs_info", "to_status": "withdrawn"})
    assert not subscription.matches({"from_status": "matching", "to_status": "withdrawn"})
    assert not subscription.matches({"from_status": "in_review", "to_status": "rejected"})
    assert not subscription.matches({})


def test_a_route_without_a_filter_takes_every_event_of_its_type() -> None:
    (route,) = routes([Subscription(OfferAnsweredV1, ACTOR)], load_settings())
    assert route.when is None
    (filtered,) = routes([Subscription(OfferAnsweredV1, ACTOR, where={"answer": "accepted"})], load_settings())
    assert filtered.when is not None
    assert filtered.when({"answer": "accepted"})
    assert not filtered.when({"answer": "declined"})


def test_a_reminder_deadline_counts_back_from_the_event_field_in_the_settings_units() -> None:
    settings = load_settings(offer_reminder="45s")
    due = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    reminder = Deadline("due_at", before=lambda s: s.offer_reminder)
    assert reminder.time({"due_at": due.isoformat()}, settings) == due - timedelta(seconds=45)
    assert Deadline("due_at").time({"due_at": due.isoformat()}, settings) == due
