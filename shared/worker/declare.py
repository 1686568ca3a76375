"""How a service declares its stage work: actors, and the events (and when) that reach each.

A service writes `@stage_actor(queue="review")` over a handler `fn(session, event, ctx)` and lists
in its `subscriptions.py` which events reach it, by their class:

    Subscription(IdeaStatusChangedV1, actors.start_matching, where={"to_status": "matching"})
    Subscription(OfferMadeV1, actors.remind_sponsor, at=Deadline("due_at", before=lambda s: s.offer_reminder))

A subscription is checked when it is made, so that a typo fails at import: `where` names fields of
the event and values they can take (an idea status must be one of `shared.lifecycle.Status`), and
`at` names a datetime field. The composition root registers the actors with the broker
(`shared.worker.stage.register`) and gives the relay their routes (`routes`); nothing here is bound
to a broker at import time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from shared.bus.relay import Route
from shared.config import Duration, Settings
from shared.contracts.events import EventBase
from shared.lifecycle import Status
from shared.workdays import before

# The most events the relay puts in one message for a batched actor.
BATCH = 50


@dataclass(frozen=True)
class StageContext:
    """What every handler may use besides its session: the settings (and through them, the clock)."""

    settings: Settings


Handler = Callable[[Session, Any, StageContext], None]


@dataclass(frozen=True)
class StageActor:
    fn: Handler
    actor_name: str
    queue: str
    # True for a handler `fn(session, events, ctx)` of a list of events, which costs less for each when
    # it takes several: deliveries that arrive together are then handled together (GroupCommit).
    batched: bool = False


def stage_actor(*, queue: str, name: str | None = None, batched: bool = False) -> Callable[[Handler], StageActor]:
    def wrap(fn: Handler) -> StageActor:
        return StageActor(fn=fn, actor_name=name or f"{queue}.{fn.__name__}", queue=queue, batched=batched)

    return wrap


def event_type(event: type[EventBase]) -> str:
    """The routing key of an event class: its `type` (`idea.received.v1`)."""
    default = event.model_fields["type"].default
    if not isinstance(default, str):
        raise TypeError(f"{event.__name__} has no fixed type: only concrete event classes can be subscribed to")
    return default


# Fields whose values are idea statuses: a subscription's filter on them must name real ones.
_STATUS_FIELDS = frozenset({"from_status", "to_status"})


@dataclass(frozen=True)
class Deadline:
    """A delayed message: the actor runs at the time in the event's `field`, or `before` that (a reminder)."""

    field: str
    before: Callable[[Settings], Duration] | None = None

    def time(self, payload: Mapping[str, Any], settings: Settings) -> datetime:
        due = datetime.fromisoformat(payload[self.field])
        return before(due, self.before(settings)) if self.before is not None else due


@dataclass(frozen=True)
class Subscription:
    """Events of class `event` (those whose fields hold one of the values in `where`) go to `actor`.

    With `at`, the actor runs no earlier than that time (a reminder before a deadline, an escalation
    at it). A time more than `deadline_message_horizon_seconds` away is left to the service's sweep.
    """

    event: type[EventBase]
    actor: StageActor
    where: Mapping[str, str | Collection[str]] = field(default_factory=dict)
    at: Deadline | None = None

    def __post_init__(self) -> None:
        fields = self.event.model_fields
        name = f"{self.actor.actor_name} on {self.event.__name__}"
        for key in self.where:
            if key not in fields:
                raise ValueError(f"{name}: {self.event.__name__} has no field {key!r}")
            adapter: TypeAdapter[Any] = TypeAdapter(fields[key].annotation or Any)
            for value in self.allowed(key):
                try:
                    adapter.validate_python(value)
                except ValidationError as exc:
                    raise ValueError(f"{name}: {key} can never be {value!r}") from exc
                if key in _STATUS_FIELDS and value not in Status.__members__.values():
                    raise ValueError(f"{name}: {value!r} is not an idea status")
        if self.at is not None:
            due = fields.get(self.at.field)
            if due is None or due.annotation is not datetime:
                raise ValueError(f"{name}: {self.event.__name__} has no datetime field {self.at.field!r}")

    @property
    def event_type(self) -> str:
        return event_type(self.event)

    def allowed(self, key: str) -> frozenset[str]:
        wanted = self.where[key]
        return frozenset([wanted] if isinstance(wanted, str) else wanted)

    def matches(self, payload: Mapping[str, Any]) -> bool:
        """Whether an event's payload (as the relay reads it from the outbox) is one this actor wants."""
        return all(payload.get(key) in self.allowed(key) for key in self.where)


def routes(subscriptions: list[Subscription], settings: Settings) -> list[Route]:
    """The relay's routes for these subscriptions."""
    horizon_ms = int(timedelta(seconds=settings.deadline_message_horizon_seconds) / timedelta(milliseconds=1))
    return [
        Route(
            s.event_type,
            settings.queue(s.actor.queue),
            s.actor.actor_name,
            s.matches if s.where else None,
            functools.partial(s.at.time, settings=settings) if s.at is not None else None,
            horizon_ms if s.at is not None else None,
            BATCH if s.actor.batched else None,
        )
        for s in subscriptions
    ]
