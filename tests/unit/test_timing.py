"""Delayed routes (a deadline's message waits in the broker) and the periodic sweeps that back them up."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from shared.bus.relay import Route
from shared.config import load_settings
from shared.contracts.events import ReviewAssignedV1
from shared.worker.declare import Deadline, StageActor, Subscription, routes
from shared.worker.sweep import Sweep, run_sweeps

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_a_route_without_at_is_sent_at_once() -> None:
    assert Route("x.v1", "q", "a").delay_ms({"due_at": "2026-12-01T00:00:00+00:00"}, NOW) is None


def test_a_route_with_at_waits_until_then_and_a_past_time_runs_at_once() -> None:
    def at(payload: dict[str, str]) -> datetime:
        return datetime.fromisoformat(payload["due_at"])

    route = Route("x.v1", "q", "a", at=at)  # type: ignore[arg-type]
    assert route.delay_ms({"due_at": (NOW + timedelta(seconds=90)).isoformat()}, NOW) == 90_000
    assert route.delay_ms({"due_at": (NOW - timedelta(days=1)).isoformat()}, NOW) is None
    assert Route("x.v1", "q", "a", at=lambda _p: None).delay_ms({}, NOW) is None


def test_a_subscription_deadline_is_read_from_the_event_and_the_settings() -> None:
    settings = load_settings(queue_prefix="t.", review_reminder="30s")
    actor = StageActor(fn=lambda *a: None, actor_name="review.remind", queue="review")
    reminder = Deadline("due_at", before=lambda s: s.review_reminder)
    (route,) = routes([Subscription(ReviewAssignedV1, actor, at=reminder)], settings)
    assert route.queue_name == "t.review"
    assert route.event_type == "review.assigned.v1"
    # 90 s to the deadline, reminded 30 s before it.
    assert route.delay_ms({"due_at": (NOW + timedelta(seconds=90)).isoformat()}, NOW) == 60_000


def test_sweeps_run_on_their_period_and_a_failing_one_does_not_stop_the_others() -> None:
    settings = load_settings()
    stop = threading.Event()
    calls: dict[str, int] = {"ok": 0, "broken": 0}

    def ok(_factory, _settings) -> int:  # type: ignore[no-untyped-def]
        calls["ok"] += 1
        if calls["ok"] >= 3:
            stop.set()
        return 1

    def broken(_factory, _settings) -> int:  # type: ignore[no-untyped-def]
        calls["broken"] += 1
        raise RuntimeError("database away")

    sweeps = [Sweep("ok", ok, lambda _s: 0.05), Sweep("broken", broken, lambda _s: 0.05)]
    thread = threading.Thread(target=run_sweeps, args=(sweeps, None, settings, stop))
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert calls["ok"] == 3
    assert calls["broken"] >= 2
