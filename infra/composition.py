"""Builds the pieces each process needs from the settings, once: engine, sessions, broker, actors, routes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import dramatiq
from kombu import Queue
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.incubation.subscriptions import SUBSCRIPTIONS as INCUBATION
from services.incubation.subscriptions import SWEEPS as INCUBATION_SWEEPS
from services.intake.subscriptions import SUBSCRIPTIONS as INTAKE
from services.matching.subscriptions import SUBSCRIPTIONS as MATCHING
from services.matching.subscriptions import SWEEPS as MATCHING_SWEEPS
from services.notify import worker as notify_worker
from services.notify.subscriptions import SUBSCRIPTIONS as NOTIFY
from services.notify.subscriptions import TOPIC as NOTIFY_TOPIC
from services.review.subscriptions import SUBSCRIPTIONS as REVIEW
from services.review.subscriptions import SWEEPS as REVIEW_SWEEPS
from shared.bus.consumer import TopicSubscription
from shared.bus.relay import OutboxCommits, Relay, Route
from shared.bus.topic import EventPublisher, subscriber_queue
from shared.config import Settings
from shared.db.engine import libpq_url, make_engine, make_session_factory
from shared.worker import declare, stage
from shared.worker.broker import make_broker
from shared.worker.sweep import Sweep

SUBSCRIPTIONS: dict[str, list[declare.Subscription]] = {
    "intake": INTAKE,
    "review": REVIEW,
    "matching": MATCHING,
    "incubation": INCUBATION,
    "notify": NOTIFY,
}
TopicRunner = Callable[[Settings, sessionmaker[Session], threading.Event], None]
# Stages that listen on the topic exchange rather than getting work from the relay: their queue, their runner.
TOPIC_STAGES: dict[str, tuple[TopicSubscription, Callable[..., None]]] = {
    "notify": (NOTIFY_TOPIC, notify_worker.run),
}
STAGES = [name for name, subs in SUBSCRIPTIONS.items() if subs] + list(TOPIC_STAGES)
# Periodic work of a stage (deadline sweeps), run in one thread of each of its worker processes.
SWEEPS: dict[str, list[Sweep]] = {
    "review": REVIEW_SWEEPS,
    "matching": MATCHING_SWEEPS,
    "incubation": INCUBATION_SWEEPS,
}


def sweeps_of(stages: list[str]) -> list[Sweep]:
    return [sweep for name in stages for sweep in SWEEPS.get(name, [])]


def all_subscriptions() -> list[declare.Subscription]:
    return [s for subs in SUBSCRIPTIONS.values() for s in subs]


def stage_actors(stages: list[str]) -> list[declare.StageActor]:
    seen: dict[str, declare.StageActor] = {}
    for name in stages:
        for subscription in SUBSCRIPTIONS[name]:
            seen.setdefault(subscription.actor.actor_name, subscription.actor)
    return list(seen.values())


def queue_names(settings: Settings, stages: list[str] | None = None) -> list[str]:
    return sorted({settings.queue(a.queue) for a in stage_actors(stages or STAGES)})


@dataclass
class Runtime:
    settings: Settings
    pool_size: int = 5

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.effective_database_url, pool_size=self.pool_size)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def broker(self) -> dramatiq.Broker:
        return make_broker(
            self.settings.effective_broker_url,
            namespace=self.settings.queue("dramatiq"),
            heartbeat_ms=self.settings.redis_heartbeat_ms,
        )

    def routes(self) -> list[Route]:
        return declare.routes(all_subscriptions(), self.settings)

    def register_stages(self, stages: list[str]) -> list[dramatiq.Actor[Any, Any]]:
        return stage.register(
            self.broker, stage_actors(stages), self.session_factory, declare.StageContext(self.settings)
        )

    def topic_queues(self) -> list[Queue]:
        """Every topic subscriber's queue, bound: declared by the relay before it publishes, so none misses an event."""
        return [
            subscriber_queue(self.settings.events_exchange, self.settings.queue(sub.queue), *sub.patterns)
            for sub, _ in TOPIC_STAGES.values()
        ]

    def relay(self) -> Relay:
        publisher = EventPublisher(
            self.settings.effective_broker_url, self.settings.events_exchange, subscribers=self.topic_queues()
        )
        url = self.settings.effective_database_url
        commits = OutboxCommits(libpq_url(url)) if self.engine.dialect.name == "postgresql" else None
        return Relay(
            self.session_factory,
            self.broker,
            self.routes(),
            publisher=publisher,
            batch=self.settings.relay_batch,
            commits=commits,
        )

    def close(self) -> None:
        if "broker" in self.__dict__:
            self.broker.close()
        if "engine" in self.__dict__:
            self.engine.dispose()
