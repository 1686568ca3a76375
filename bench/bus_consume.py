"""What it costs notify to take an event off the topic exchange, with and without kombu's acknowledgement emulation.

Publishes `--events` events (600-byte bodies, as an idea's are) into a fresh queue bound to a fresh exchange,
then consumes them with `shared.bus.consumer.TopicConsumer` on one thread and a handler that does nothing,
and prints the consumer's CPU per message and its rate. On Redis it does this twice: with kombu's
acknowledgement emulation (kombu's default: each message handed out is recorded in a sorted set and a hash,
and the record removed on acknowledgement) and without it (what Ideahub uses; see `transport_options`).
RabbitMQ has real acknowledgements and ignores the option: both runs are the same there.

Run from the repository root: `python bench/bus_consume.py [--broker-url redis://127.0.0.1:6379/0]`.
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from kombu import Connection

from shared.bus.consumer import TopicConsumer
from shared.bus.topic import EventPublisher, subscriber_queue


def run(url: str, events: int, *, ack_emulation: bool) -> tuple[float, float]:
    """(CPU ms per message, messages per second) for one consumer thread taking `events` events."""
    prefix = f"bench-bus-{uuid.uuid4().hex[:8]}."
    exchange, queue_name = f"{prefix}events", f"{prefix}notify"
    queue = subscriber_queue(exchange, queue_name, "#")
    publisher = EventPublisher(url, exchange, subscribers=[queue])
    body = json.dumps({"type": "idea.received.v1", "idea_id": 1, "title": "x" * 560})
    for _ in range(events):
        publisher.publish("idea.received.v1", body)
    publisher.close()

    taken: list[Mapping[str, Any]] = []
    done = threading.Event()

    def handle(batch: list[Mapping[str, Any]]) -> None:
        taken.extend(batch)
        if len(taken) >= events:
            done.set()

    consumer = TopicConsumer(url, exchange, queue_name, ("#",), handle, threads=1, key_prefix=prefix)
    consumer.options["ack_emulation"] = ack_emulation
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,))
    cpu, wall = time.process_time(), time.perf_counter()
    thread.start()
    finished = done.wait(300)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    stop.set()
    thread.join()
    with Connection(url) as connection:  # leave nothing behind
        channel = connection.channel()
        channel.queue_delete(queue_name)
        channel.exchange_delete(exchange)
    if not finished:
        raise SystemExit(f"only {len(taken)} of {events} events arrived")
    return 1000 * cpu / events, events / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3, help="each setting this many times, alternating; medians")
    args = parser.parse_args()
    print(f"broker {args.broker_url.split('://')[0]}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(args.runs):
        for emulation in (True, False):
            results[emulation].append(run(args.broker_url, args.events, ack_emulation=emulation))
    for emulation, figures in results.items():
        cpu = sorted(f[0] for f in figures)[len(figures) // 2]
        rate = sorted(f[1] for f in figures)[len(figures) // 2]
        label = "with kombu's ack emulation   " if emulation else "without (Ideahub's setting)  "
        print(f"{label} {cpu:6.3f} ms CPU a message   {rate:7.0f} messages/s   (median of {len(figures)})")


if __name__ == "__main__":
    main()
