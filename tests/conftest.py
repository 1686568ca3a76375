"""Real backends for the tests.

SQLite with the embedded Redis always runs. PostgreSQL, Redis at 127.0.0.1:6379
and RabbitMQ run when they answer; otherwise their tests skip with the reason.
Under CI (`CI=true`) a missing server fails the test instead, so that CI always
proves the real-server paths.

Each stack gets its own database and its own queue prefix, so tests never see
each other's messages, and everything they create is removed afterwards.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shared.config import Settings, load_settings

POSTGRES_URL = os.environ.get("IDEAHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("IDEAHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("IDEAHUB_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
IN_CI = os.environ.get("CI", "").lower() == "true"
# Queues a test may leave on RabbitMQ: dramatiq stage queues, and notify's queue on the topic exchange.
STAGE_QUEUES = ("review", "matching", "incubation", "notify", "notify.events")


def unavailable(reason: str) -> None:
    """Skip locally, fail under CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing server is a failure)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_available() -> str | None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_URL} does not answer: {type(exc).__name__}"
    return None


def redis_available() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis at {REDIS_URL} does not answer: {type(exc).__name__}"
    return None


def rabbitmq_available() -> str | None:
    from kombu import Connection

    try:
        with Connection(RABBITMQ_URL, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        return f"RabbitMQ at {RABBITMQ_URL} does not answer: {type(exc).__name__}"
    return None


@dataclass
class Stack:
    """One database and one broker, with the settings and environment to reach them."""

    name: str
    data_dir: Path
    database_url: str
    broker_url: str | None
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:8]}.")
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {
            "IDEAHUB_DATA_DIR": str(self.data_dir),
            "IDEAHUB_DATABASE_URL": self.database_url,
            "IDEAHUB_QUEUE_PREFIX": self.prefix,
            "IDEAHUB_REDIS_POLL_MS": "20",
            "IDEAHUB_RELAY_IDLE_MS": "10",
            "IDEAHUB_LOG_LEVEL": "INFO",
            # A killed notify worker's unacknowledged events come back within seconds on Redis, not minutes.
            # ... and an event the bus lost is handled from the outbox after seconds.
            "IDEAHUB_EVENT_CATCH_UP_SECONDS": "5",
            **self.extra_env,
        }
        if self.broker_url:
            env["IDEAHUB_BROKER_URL"] = self.broker_url
        return env

    def settings(self, **overrides: object) -> Settings:
        return load_settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            broker_url=self.broker_url,
            queue_prefix=self.prefix,
            redis_poll_ms=20,
            **({"event_catch_up_seconds": 5} | overrides),
        )


def _create_postgres_database() -> tuple[str, str]:
    import sqlalchemy as sa

    name = f"ideahub_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return name, POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_postgres_database(name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _clean_broker(stack: Stack) -> None:
    if stack.broker_url is None:
        return  # the embedded Redis goes with its folder
    if stack.broker_url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(stack.broker_url)
        keys = list(client.scan_iter(match=f"{stack.prefix}*", count=1000))
        keys += list(client.scan_iter(match=f"_kombu.binding.{stack.prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        return
    from kombu import Connection

    with Connection(stack.broker_url) as connection:
        channel = connection.channel()
        for queue in STAGE_QUEUES:
            for suffix in ("", ".DQ", ".XQ"):
                try:
                    channel.queue_delete(f"{stack.prefix}{queue}{suffix}")
                except Exception:
                    channel = connection.channel()
        for name in stack.extra_env.get("_kombu_queues", "").split(","):
            if name:
                try:
                    channel.queue_delete(name)
                except Exception:
                    channel = connection.channel()
        try:
            channel.exchange_delete(f"{stack.prefix}ideahub.events")
        except Exception:
            pass


ALL_STACKS = ["sqlite-embedded", "postgresql-redis", "postgresql-rabbitmq"]
# `make test-fast` runs the stack tests on SQLite with the embedded Redis alone (IDEAHUB_TEST_STACKS=sqlite-embedded).
STACKS = [name for name in os.environ.get("IDEAHUB_TEST_STACKS", ",".join(ALL_STACKS)).split(",") if name in ALL_STACKS]


@pytest.fixture(scope="module", params=STACKS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A migrated database and a running broker, fresh for each test module."""
    from shared.db.migrate import upgrade

    kind: str = request.param
    data_dir = tmp_path_factory.mktemp(kind)
    if kind == "sqlite-embedded":
        from infra.embedded import EmbeddedRedis

        redis_server = EmbeddedRedis(data_dir)
        redis_server.start()
        stack = Stack(kind, data_dir, f"sqlite:///{data_dir / 'ideahub.db'}", None)
        upgrade(stack.database_url)
        try:
            yield stack
        finally:
            redis_server.stop()
        return

    for check in (postgres_available, redis_available if kind.endswith("redis") else rabbitmq_available):
        reason = check()
        if reason:
            unavailable(reason)
    db_name, db_url = _create_postgres_database()
    stack = Stack(kind, data_dir, db_url, REDIS_URL if kind.endswith("redis") else RABBITMQ_URL)
    upgrade(stack.database_url)
    try:
        yield stack
    finally:
        _clean_broker(stack)
        _drop_postgres_database(db_name)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """A migrated SQLite database in a temporary folder; no broker."""
    from shared.db.migrate import upgrade

    settings = load_settings(data_dir=tmp_path, queue_prefix="unit.")
    upgrade(settings.effective_database_url)
    return settings
