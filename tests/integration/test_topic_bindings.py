"""The relay's cache of the topic exchange's bindings on Redis (docs/decisions/0019-relay-caches-bindings-on-redis.md).

`shared.bus.topic.cache_bindings` replaces `get_table`, a method of kombu's Redis channel that its
virtual transport calls on every publish to a topic exchange. That is kombu's internals, not its
interface: these tests count what Redis is asked, so that a kombu release that stops calling
`get_table`, or renames it, fails here loudly rather than quietly bringing back a read on every publish.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kombu
import pytest
import redis
from kombu.transport import redis as kombu_redis

from infra.embedded import EmbeddedRedis
from shared.bus.topic import EventPublisher, events_exchange, subscriber_queue

# The kombu release these tests were last checked against: pinned in pyproject.toml.
CHECKED_WITH = "5.7.0"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("bindings")
    embedded = EmbeddedRedis(folder)
    embedded.start()
    try:
        yield embedded.socket
    finally:
        embedded.stop()


def smembers_calls(socket: Path) -> int:
    stats = redis.Redis(unix_socket_path=str(socket)).info("commandstats")
    return int(stats.get("cmdstat_smembers", {}).get("calls", 0))


def test_kombu_is_the_release_the_binding_cache_was_checked_against() -> None:
    assert kombu.__version__ == CHECKED_WITH, (
        f"kombu is {kombu.__version__}, the binding cache (shared.bus.topic.cache_bindings) was checked against "
        f"{CHECKED_WITH}: check that kombu's Redis channel still reads an exchange's bindings through "
        "`Channel.get_table(exchange)` on every publish, run this module, then update CHECKED_WITH"
    )
    assert callable(getattr(kombu_redis.Channel, "get_table", None)), "kombu's Redis channel has no get_table"


def test_the_relay_reads_the_bindings_once_for_many_publishes(server: Path) -> None:
    url = f"redis+socket://{server}"
    queue = subscriber_queue("cache.events", "cache.notify", "#")
    publisher = EventPublisher(url, "cache.events", subscribers=[queue], bindings_ttl=60.0)
    try:
        assert publisher.producer is not None  # connect, declare the queue, and read the bindings once
        before = smembers_calls(server)
        for n in range(20):
            publisher.publish("idea.received.v1", f'{{"n": {n}}}')
        assert smembers_calls(server) - before == 1
    finally:
        publisher.close()
    with kombu.Connection(url) as connection:
        assert queue(connection.default_channel).queue_declare(passive=True).message_count == 20


def test_without_the_cache_kombu_reads_the_bindings_on_every_publish(server: Path) -> None:
    """The control: what the cache saves, measured the same way (if this fails, kombu changed how it routes)."""
    url = f"redis+socket://{server}"
    with kombu.Connection(url) as connection:
        channel = connection.default_channel
        queue = subscriber_queue("plain.events", "plain.notify", "#")
        queue(channel).declare()
        producer = connection.Producer(channel)
        before = smembers_calls(server)
        for n in range(5):
            producer.publish({"n": n}, exchange=events_exchange("plain.events"), routing_key="x")
        assert smembers_calls(server) - before == 5
