"""Make the dramatiq broker named by the broker URL. Called once per process, by the composition root."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Retries, ShutdownNotifications, TimeLimit

# Retries back off exponentially from 1 s to 5 min; 12 retries span about half an hour, enough to ride
# out a database or broker restart. A message that still fails is recorded for administrators.
MAX_RETRIES = 12
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 300_000


def redis_client_kwargs(url: str) -> dict[str, Any]:
    """redis-py arguments for `redis://`, `rediss://` or `redis+socket:///path/to/socket`."""
    parts = urlsplit(url)
    if parts.scheme == "redis+socket":
        return {"unix_socket_path": parts.path}
    import redis

    return {"connection_pool": redis.ConnectionPool.from_url(url)}


def pika_url(url: str) -> str:
    """kombu writes the default vhost as `amqp://host//`; pika reads that as an empty vhost and wants `%2F`."""
    parts = urlsplit(url)
    if parts.path == "//":
        return parts._replace(path="/%2F").geturl()
    return url


def make_broker(url: str, *, namespace: str = "dramatiq", heartbeat_ms: int = 60_000) -> dramatiq.Broker:
    # Only what we use, in order: every middleware adds hooks to every message.
    middleware = [
        TimeLimit(time_limit=120_000),  # a stuck handler is interrupted and retried, not left holding a thread
        ShutdownNotifications(),  # handlers may notice a shutdown; messages in flight return to their queue
        Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS),
    ]
    broker: dramatiq.Broker
    if url.startswith("amqp"):
        broker = RabbitmqBroker(url=pika_url(url), middleware=middleware, confirm_delivery=True)
    else:
        broker = RedisBroker(
            middleware=middleware, namespace=namespace, heartbeat_timeout=heartbeat_ms, **redis_client_kwargs(url)
        )
    dramatiq.set_broker(broker)
    return broker


def queue_depths(broker: dramatiq.Broker, queue_names: list[str]) -> dict[str, int]:
    """Messages waiting in each queue (ready, not yet taken by a worker)."""
    depths: dict[str, int] = {}
    if isinstance(broker, RedisBroker):
        for name in queue_names:
            depths[name] = int(broker.client.llen(f"{broker.namespace}:{name}"))
    elif isinstance(broker, RabbitmqBroker):
        for name in queue_names:
            depths[name] = broker.get_queue_message_counts(name)[0]
    return depths
