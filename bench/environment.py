"""One run's scratch environment and its clean-up.

`prepare()` makes a temporary folder, a scratch database (PostgreSQL) or file (SQLite) and a unique queue
prefix; `set_up_database()` migrates it and adds reviewers; `start_pipeline()` starts the `ideahub`
processes; `clean_up()` stops them and removes the database, the broker's queues or keys and the folder.
"""

# ruff: noqa: T201
from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bare_chain
import httpx
from options import Options
from procs import Child, log_tail, start_child, stop_child
from sqlalchemy.engine import make_url

from shared.config import Settings
from shared.db.engine import libpq_url

REVIEWERS = [
    ("rev.health@bench.example.gov.uk", "Health Reviewer", "Health"),
    ("rev.housing@bench.example.gov.uk", "Housing Reviewer", "Housing"),
    ("rev.benefits@bench.example.gov.uk", "Benefits Reviewer", "Benefits"),
]


@dataclass
class Environment:
    options: Options
    tmp: Path
    prefix: str
    database_url: str
    scratch_db: str | None  # the PostgreSQL database to drop afterwards
    broker_url: str | None  # None: the embedded Redis on the data folder's socket
    port: int
    env: dict[str, str]
    embedded: Any = None  # infra.embedded.EmbeddedRedis when --broker embedded

    @property
    def data_dir(self) -> Path:
        return self.tmp / "data"

    @property
    def log_dir(self) -> Path:
        return self.tmp / "logs"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or f"redis+socket://{self.data_dir / 'redis.sock'}"

    @property
    def counter_url(self) -> str:
        """Where the bare chain counts: the broker itself when it is Redis, else the local Redis."""
        return self.options.redis_url if self.options.broker == "rabbitmq" else self.effective_broker_url

    def settings(self) -> Settings:
        """The settings the `ideahub` processes run with (Ideahub's defaults but for ours)."""
        overrides: dict[str, Any] = {
            "database_url": self.database_url,
            "data_dir": self.data_dir,
            "queue_prefix": self.prefix,
            "broker_url": self.broker_url,
        }
        return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


def _postgres(pg_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(libpq_url(pg_url), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(options: Options) -> Environment:
    run_id = uuid.uuid4().hex[:10]
    prefix = f"bench-{run_id}."
    tmp = Path(tempfile.mkdtemp(prefix=f"ideahub-bench-{run_id}-"))
    (tmp / "data").mkdir()
    (tmp / "logs").mkdir()
    scratch_db = None
    if options.database == "postgresql":
        scratch_db = f"ideahub_bench_{run_id}"
        _postgres(options.pg_url, f'CREATE DATABASE "{scratch_db}"')
        database_url = make_url(options.pg_url).set(database=scratch_db).render_as_string(hide_password=False)
    else:
        database_url = f"sqlite:///{tmp / 'data' / 'ideahub.db'}"
    broker_url = {"redis": options.redis_url, "rabbitmq": options.amqp_url, "embedded": None}[options.broker]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")}
    env.update(
        IDEAHUB_DATABASE_URL=database_url,
        IDEAHUB_DATA_DIR=str(tmp / "data"),
        IDEAHUB_QUEUE_PREFIX=prefix,
        IDEAHUB_HTTP_PORT=str(port),
        IDEAHUB_PUBLIC_URL=f"http://127.0.0.1:{port}",
        IDEAHUB_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    if broker_url:
        env["IDEAHUB_BROKER_URL"] = broker_url
    return Environment(options, tmp, prefix, database_url, scratch_db, broker_url, port, env)


def start_embedded_redis(environment: Environment) -> None:
    from infra.embedded import EmbeddedRedis

    environment.embedded = EmbeddedRedis(environment.data_dir)
    environment.embedded.start()


def set_up_database(environment: Environment) -> None:
    from infra import people
    from shared.db.migrate import upgrade

    upgrade(environment.database_url)
    settings = environment.settings()
    for email, name, department in REVIEWERS:
        people.add(settings, email=email, name=name, role="reviewer", department=department)


def _ideahub(*args: str) -> list[str]:
    return [sys.executable, "-m", "infra.cli", *args]


def start_pipeline(environment: Environment) -> list[Child]:
    """`ideahub serve` (with --submit http only), `ideahub relay` and `ideahub worker review notify`."""
    o = environment.options
    worker_args = ["worker", "review", "notify"]
    if o.worker_processes:
        worker_args += ["--processes", str(o.worker_processes)]
    if o.worker_threads:
        worker_args += ["--threads", str(o.worker_threads)]
    commands = {"relay": _ideahub("relay"), "worker": _ideahub(*worker_args)}
    if o.http:  # web first, so that clean-up stops it first
        commands = {"serve": _ideahub("serve", "--workers", str(o.serve_workers)), **commands}
    return [
        start_child(name, argv, env=environment.env, cwd=environment.tmp, log_dir=environment.log_dir)
        for name, argv in commands.items()
    ]


def wait_healthy(environment: Environment, children: list[Child], timeout: float = 60.0) -> None:
    """Fail early if a process exits; with `serve`, wait for /healthz (the warm-up shows the others work)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children:
            if not child.alive():
                raise RuntimeError(f"`{child.name}` exited early:\n{log_tail(child)}")
        if not environment.options.http:
            return
        try:
            if httpx.get(f"{environment.base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"/healthz did not answer within {timeout:.0f} s")


def delete_queues(environment: Environment, queues: list[str], exchanges: list[str]) -> None:
    """RabbitMQ: delete the named queues and exchanges. Redis: delete every key carrying this run's prefix."""
    if environment.options.broker == "rabbitmq":
        import pika
        from pika.exceptions import AMQPError

        connection = pika.BlockingConnection(pika.URLParameters(bare_chain.pika_url(environment.options.amqp_url)))
        try:
            channel = connection.channel()
            for queue in queues:
                try:
                    channel.queue_delete(queue=queue)
                except AMQPError:
                    channel = connection.channel()
            for exchange in exchanges:
                try:
                    channel.exchange_delete(exchange=exchange)
                except AMQPError:
                    channel = connection.channel()
        finally:
            connection.close()
        return
    client = bare_chain.redis_client(environment.effective_broker_url)
    run_tag = environment.prefix.rstrip(".")
    keys = list(client.scan_iter(match=f"*{run_tag}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


def _delete_pipeline_queues(environment: Environment) -> None:
    """The RabbitMQ queues (with their .DQ and .XQ companions) and the exchange the pipeline declares."""
    from infra.composition import queue_names

    settings = environment.settings()
    queues = [f"{name}{suffix}" for name in queue_names(settings) for suffix in ("", ".DQ", ".XQ")]
    delete_queues(environment, queues, [settings.events_exchange])


def clean_up(environment: Environment, children: list[Child], failed: bool) -> None:
    for child in children:  # in the order started: web, relay, workers
        try:
            stop_child(child)
        except Exception as exc:
            print(f"  clean-up: could not stop {child.name}: {exc}", file=sys.stderr)
    steps: list[tuple[str, Callable[[], None]]] = []
    if environment.options.broker != "embedded":
        steps.append(("delete queues", lambda: _delete_pipeline_queues(environment)))
    if environment.embedded is not None:
        steps.append(("stop the embedded Redis", environment.embedded.stop))
    if environment.scratch_db:
        sql = f'DROP DATABASE IF EXISTS "{environment.scratch_db}" WITH (FORCE)'
        steps.append(("drop the scratch database", lambda: _postgres(environment.options.pg_url, sql)))
    for what, step in steps:
        try:
            step()
        except Exception as exc:
            print(f"  clean-up: could not {what}: {exc}", file=sys.stderr)
    if environment.options.keep or failed:
        print(f"  kept {environment.tmp} (logs in {environment.log_dir})", file=sys.stderr)
    else:
        shutil.rmtree(environment.tmp, ignore_errors=True)
