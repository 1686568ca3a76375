"""Stage actors on a dramatiq broker: each handler wrapped in the exactly-once core, and failures kept.

`register` declares each service's `StageActor` (see `shared.worker.declare`) on the broker: a
delivery goes through `shared.bus.exactly_once.handle_once`, which owns the transaction and the
"handled" record; a batched actor's deliveries go through a `GroupCommit`. After dramatiq's last
retry, `RecordFinalFailures` keeps the message for administrators.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Mapping
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware
from sqlalchemy.orm import Session, sessionmaker

from shared.bus.exactly_once import Consumer, Delivery, handle_once, record_failure
from shared.contracts.events import Event
from shared.logging import get_logger
from shared.worker.declare import StageActor, StageContext
from shared.worker.group_commit import GroupCommit, payloads_of

log = get_logger("ideahub.worker")


def consumer_of(stage: StageActor, ctx: StageContext) -> Consumer[None]:
    """The exactly-once consumer that runs a stage actor's handler: with the list for a batched one, else the event."""

    def handle(session: Session, events: list[Event]) -> None:
        if stage.batched:
            stage.fn(session, events, ctx)
        else:
            for event in events:  # one, unless the same message was delivered twice at once
                stage.fn(session, event, ctx)

    return Consumer(stage.actor_name, handle)


def run_handler(
    stage: StageActor, session_factory: sessionmaker[Session], ctx: StageContext, payload: Mapping[str, Any]
) -> None:
    """Handle one delivery of an event: at most one effect per (consumer, event), whatever is redelivered."""
    delivery = Delivery(payload)
    handle_once(consumer_of(stage, ctx), session_factory, [delivery])
    delivery.outcome()


class RecordFinalFailures(Middleware):
    """After the last retry, put the message where administrators can see it."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        if exception is None or not getattr(message, "failed", False):
            return
        error = "".join(traceback.format_exception(exception))
        for payload in payloads_of(message.args[0] if message.args else {}):
            try:
                record_failure(self.session_factory, message.actor_name, payload, error)
            except Exception:  # the database is the likely cause; the broker's dead-letter queue still has it
                log.exception("message.failure_not_recorded", actor=message.actor_name)


def register(
    broker: dramatiq.Broker, stages: list[StageActor], session_factory: sessionmaker[Session], ctx: StageContext
) -> list[dramatiq.Actor[Any, Any]]:
    """Declare each stage actor on `broker`, wrapped in the exactly-once core."""
    broker.add_middleware(RecordFinalFailures(session_factory))
    actors = []
    for stage in stages:
        run: Any = (
            GroupCommit(consumer_of(stage, ctx), session_factory)
            if stage.batched
            else functools.partial(run_handler, stage, session_factory, ctx)
        )
        actors.append(
            dramatiq.Actor(
                run,
                broker=broker,
                actor_name=stage.actor_name,
                queue_name=ctx.settings.queue(stage.queue),
                priority=0,
                options={},
            )
        )
    return actors
