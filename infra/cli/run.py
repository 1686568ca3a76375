"""The commands that run Ideahub: everything at once (`up`), or one component (`serve`, `smtp`, `imap`, `relay`,
`worker`) for deployments that scale them apart. Each runs until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer
from rich.console import Console

from infra.cli import tables
from infra.cli.common import console, database_ready, fail, settings
from shared.config import Settings
from shared.logging import get_logger

app = typer.Typer()
log = get_logger("ideahub.cli")


def stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


@app.command()
def up(demo: Annotated[bool, typer.Option(help="Load sample people and ideas.")] = False) -> None:
    """Run everything: embedded Redis and SQLite unless configured, the web API, the relay and every worker."""
    from infra.embedded import EmbeddedRedis
    from infra.supervisor import Child, Supervisor, ideahub_command
    from shared.db.migrate import upgrade

    s = settings(long_running=True)
    s.data_path.mkdir(parents=True, exist_ok=True)
    s.resolved_secret_key()
    redis_server = EmbeddedRedis(s.data_path) if s.embedded_broker else None
    stop = stop_on_signals()
    if redis_server:
        redis_server.start()
    try:
        upgrade(s.effective_database_url)
        if demo:
            show_demo(s, console)
        # Email intake runs inside the web process: one Python process fewer (docs/performance.md).
        children = [Child("web", ideahub_command("serve", "--smtp"))]
        if s.imap_url:
            children.append(Child("imap", ideahub_command("imap")))
        children.append(Child("relay", ideahub_command("relay")))
        children += [
            Child(f"worker-{i + 1}", ideahub_command("worker", "--processes", "1")) for i in range(s.worker_processes)
        ]
        console.print(
            f"Ideahub is running at {s.public_url} (database {s.effective_database_url.split('://')[0]}, "
            f"broker {s.broker_kind}{' embedded' if redis_server else ''}). Press Ctrl-C to stop."
        )
        Supervisor(children).run(stop)
    finally:
        if redis_server:
            redis_server.stop()
    console.print("Ideahub stopped.")


def show_demo(s: Settings, out: Console) -> None:
    """Load the demo (what is not there yet) and say who is in it and how to sign in as each."""
    from infra.demo import load_demo

    out.print(tables.demo_accounts(load_demo(s)))
    if s.smtp_url:
        link = "the link to follow is emailed to it through IDEAHUB_SMTP_URL."
    else:
        link = f"then open the newest .eml file in {s.mail_dir} and follow the link in it."
    out.print(f"To sign in as one of them, open {s.public_url}/sign-in and enter their email; {link}", markup=False)
    out.print(
        "For the API, `ideahub users token EMAIL` prints a token to send as `Authorization: Bearer TOKEN`.",
        markup=False,
    )


@app.command()
def serve(
    workers: Annotated[int, typer.Option(help="Web server processes.")] = 1,
    smtp: Annotated[bool, typer.Option(help="Also run email intake (as `ideahub smtp`) in this process.")] = False,
) -> None:
    """Run the web app and HTTP API."""
    import uvicorn

    s = settings(long_running=True)
    intake = _start_smtp(s) if smtp else None
    try:
        uvicorn.run(
            "infra.asgi:create",
            factory=True,
            host=s.http_host,
            port=s.http_port,
            workers=workers,
            log_level="warning",
            access_log=False,
        )
    finally:
        if intake is not None:
            server, runtime = intake
            server.stop()
            runtime.close()


def _start_smtp(s: Settings) -> tuple[Any, Any]:
    """The SMTP intake server on its own thread, with its own connections; stopped by the caller."""
    from infra.composition import Runtime
    from services.intake import smtp as intake_smtp

    database_ready(s)
    runtime = Runtime(s, pool_size=intake_smtp.THREADS)
    server = intake_smtp.IntakeServer(s, runtime.session_factory)
    try:
        server.start()
    except OSError as exc:  # the port is taken, or not ours to bind
        runtime.close()
        fail(f"Cannot listen on {s.http_host}:{s.smtp_intake_port}: {exc}")
    return server, runtime


@app.command()
def smtp() -> None:
    """Run the email intake server: mail to IDEAHUB_INTAKE_ADDRESS becomes ideas, and replies about them."""
    from infra.composition import Runtime
    from services.intake import smtp as intake_smtp

    s = settings(long_running=True)
    database_ready(s)
    stop = stop_on_signals()
    runtime = Runtime(s, pool_size=intake_smtp.THREADS)
    try:
        intake_smtp.serve(s, runtime.session_factory, stop)
    except OSError as exc:  # the port is taken, or not ours to bind
        fail(f"Cannot listen on {s.http_host}:{s.smtp_intake_port}: {exc}")
    finally:
        runtime.close()


@app.command()
def imap(once: Annotated[bool, typer.Option(help="Poll once and exit.")] = False) -> None:
    """Take mail from the shared mailbox at IDEAHUB_IMAP_URL, every IDEAHUB_IMAP_POLL_SECONDS."""
    from infra.composition import Runtime
    from services.intake.imap import Poller

    s = settings(long_running=True)
    if not s.imap_url:
        fail("IDEAHUB_IMAP_URL is not set: say which mailbox to read.")
    database_ready(s)
    stop = stop_on_signals()
    runtime = Runtime(s)
    try:
        poller = Poller(s, runtime.session_factory)
        if once:
            done = poller.poll(stop)
            console.print(f"Took in {done.taken} messages; {done.deferred} left for later.", markup=False)
        else:
            poller.run(stop)
    except ValueError as exc:
        fail(str(exc))
    finally:
        runtime.close()


@app.command()
def relay() -> None:
    """Run the outbox relay: publish committed events to the topic exchange and the stage queues."""
    from infra.composition import Runtime
    from shared.worker.health import Heartbeat

    s = settings(long_running=True)
    stop = stop_on_signals()
    runtime = Runtime(s)
    heartbeat = Heartbeat(runtime.session_factory, role="relay", stages=["relay"]).start(stop)
    try:
        runtime.relay().run_forever(stop, idle_seconds=s.relay_idle_ms / 1000)
    finally:
        stop.set()
        heartbeat.join(timeout=10)
        runtime.close()


@app.command()
def worker(
    stages: Annotated[list[str] | None, typer.Argument(help="Stages to run (default: all).")] = None,
    processes: Annotated[int | None, typer.Option(help="Processes (default IDEAHUB_WORKER_PROCESSES).")] = None,
    threads: Annotated[int | None, typer.Option(help="Threads a process (default IDEAHUB_WORKER_THREADS).")] = None,
) -> None:
    """Run stage workers: review, matching, incubation, notify."""
    from infra.composition import STAGES

    s = settings(long_running=True)
    chosen = stages or STAGES
    unknown = sorted(set(chosen) - set(STAGES))
    if unknown:
        fail(f"unknown stage {', '.join(unknown)}: choose from {', '.join(STAGES)}")
    count = processes or s.worker_processes
    thread_count = threads or s.worker_threads
    if count > 1:
        from infra.supervisor import Child, Supervisor, ideahub_command

        args = ["worker", *chosen, "--processes", "1", "--threads", str(thread_count)]
        Supervisor([Child(f"worker-{i + 1}", ideahub_command(*args)) for i in range(count)]).run(stop_on_signals())
        return
    run_worker(s, chosen, thread_count)


def run_worker(s: Settings, stages: list[str], threads: int) -> None:
    import dramatiq

    from infra.composition import TOPIC_STAGES, Runtime, queue_names, sweeps_of
    from shared.heap import settle
    from shared.worker.health import Heartbeat
    from shared.worker.sweep import run_sweeps

    stop = stop_on_signals()
    runtime = Runtime(s, pool_size=threads * 2 + 2)
    queued = [stage for stage in stages if stage not in TOPIC_STAGES]
    worker_ = None
    if queued:
        runtime.register_stages(queued)
        queues = set(queue_names(s, queued))
        worker_ = dramatiq.Worker(runtime.broker, queues=queues, worker_threads=threads, worker_timeout=s.redis_poll_ms)
        worker_.queue_prefetch = s.worker_prefetch
        settle()  # before the first message: start-up's objects out of the collector's sight
        worker_.start()
    listeners = [
        threading.Thread(
            target=TOPIC_STAGES[stage][1],
            args=(s, runtime.session_factory, stop),
            kwargs={"threads": threads},
            name=stage,
        )
        for stage in stages
        if stage in TOPIC_STAGES
    ]
    listeners.append(
        threading.Thread(target=run_sweeps, args=(sweeps_of(stages), runtime.session_factory, s, stop), name="sweeps")
    )
    for listener in listeners:
        listener.start()
    heartbeat = Heartbeat(runtime.session_factory, role="worker", stages=stages).start(stop)
    log.info("worker.started", stages=stages, threads=threads)
    stop.wait()
    log.info("worker.stopping")
    if worker_ is not None:
        worker_.stop(timeout=30_000)
    for listener in listeners:
        listener.join(timeout=30)
    heartbeat.join(timeout=10)
    runtime.close()
    log.info("worker.stopped")
