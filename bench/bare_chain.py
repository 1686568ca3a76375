"""The bare baseline: a 4-hop dramatiq chain of no-op actors (a -> b -> c -> d) on the broker under test.

`d` counts completions with INCR on a Redis key and, when the count reaches the total, stores the
time it did so. Run as a script, this module is one worker process (like one process of
`dramatiq -p 2 -t 8`); `bench/phases.py` starts two of them, enqueues the items and reads the counter.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker

from shared.worker.broker import pika_url, redis_client_kwargs

REDIS_WORKER_TIMEOUT_MS = 100  # as our own Redis workers poll (dramatiq's default is 1 s)


@dataclass(frozen=True)
class ChainConfig:
    """Everything a chain process needs; passed to the worker processes on their command line."""

    broker_url: str  # redis://, redis+socket:// or amqp://
    prefix: str  # namespace (Redis) and queue-name prefix: keeps this run apart from every other
    counter_url: str  # the Redis that holds the completion counter
    total: int

    @property
    def queue(self) -> str:
        return f"{self.prefix}chain"

    @property
    def counter_key(self) -> str:
        return f"{self.prefix}done"

    @property
    def done_at_key(self) -> str:
        return f"{self.prefix}done_at"

    @property
    def ready_key(self) -> str:
        return f"{self.prefix}ready"

    def argv(self) -> list[str]:
        return [
            "--broker-url",
            self.broker_url,
            "--prefix",
            self.prefix,
            "--counter-url",
            self.counter_url,
            "--total",
            str(self.total),
        ]


def redis_client(url: str) -> redis.Redis:
    return redis.Redis(**redis_client_kwargs(url))


def make_bare_broker(url: str, namespace: str) -> dramatiq.Broker:
    """A dramatiq broker with dramatiq's default middleware and options: nothing of Ideahub's."""
    if url.startswith("amqp"):
        return RabbitmqBroker(url=pika_url(url))
    return RedisBroker(namespace=namespace, **redis_client_kwargs(url))


@dataclass
class Chain:
    broker: dramatiq.Broker
    first: dramatiq.Actor[Any, Any]


def declare_chain(config: ChainConfig) -> Chain:
    broker = make_bare_broker(config.broker_url, namespace=f"{config.prefix}dramatiq")
    dramatiq.set_broker(broker)
    counter = redis_client(config.counter_url)

    def d(item: int) -> None:
        if counter.incr(config.counter_key) == config.total:
            counter.set(config.done_at_key, repr(time.time()))

    def c(item: int) -> None:
        d_actor.send(item)

    def b(item: int) -> None:
        c_actor.send(item)

    def a(item: int) -> None:
        b_actor.send(item)

    def make(fn: Any) -> dramatiq.Actor[Any, Any]:
        name = fn.__name__
        return dramatiq.Actor(fn, broker=broker, actor_name=name, queue_name=config.queue, priority=0, options={})

    d_actor = make(d)
    c_actor = make(c)
    b_actor = make(b)
    a_actor = make(a)
    return Chain(broker=broker, first=a_actor)


def queue_names(config: ChainConfig) -> list[str]:
    """Every broker-side queue this chain may create (for RabbitMQ's clean-up)."""
    return [config.queue, f"{config.queue}.DQ", f"{config.queue}.XQ"]


def run_worker(config: ChainConfig, threads: int) -> None:
    chain = declare_chain(config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker = dramatiq.Worker(chain.broker, worker_threads=threads, worker_timeout=REDIS_WORKER_TIMEOUT_MS)
    worker.start()
    redis_client(config.counter_url).incr(config.ready_key)
    stop.wait()
    worker.stop(timeout=10_000)
    chain.broker.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="One worker process of the bare dramatiq chain.")
    parser.add_argument("--broker-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--counter-url", required=True)
    parser.add_argument("--total", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    config = ChainConfig(args.broker_url, args.prefix, args.counter_url, args.total)
    run_worker(config, args.threads)


if __name__ == "__main__":
    main()
