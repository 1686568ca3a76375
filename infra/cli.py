"""`ideahub`: one command for everything, or one component at a time."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shared.config import ConfigError, Settings, load_settings
from shared.logging import configure_logging, get_logger

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from services.intake.importer import ImportReport
    from services.intake.importer import Table as CsvTable

app = typer.Typer(help="Ideahub: front-line ideas, from submission to outcome.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
users_app = typer.Typer(help="Reviewers, sponsors and administrators.", no_args_is_help=True)
app.add_typer(db_app, name="db")
notifications_app = typer.Typer(help="Sent messages: failures, resending, the log.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(notifications_app, name="notifications")
import_app = typer.Typer(help="Bulk import from CSV files, with a per-row error report.", no_args_is_help=True)
app.add_typer(import_app, name="import")
console = Console()
# An error is one line however narrow the terminal, so that a path in it can be copied whole.
err = Console(stderr=True, soft_wrap=True)
log = get_logger("ideahub.cli")


def settings() -> Settings:
    try:
        loaded = load_settings()
    except ConfigError as exc:
        err.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from None
    configure_logging(loaded.log_level, loaded.log_format)
    return loaded


def database_ready(s: Settings) -> None:
    """Commands that read or write data need the schema: say what to do rather than fail on a missing table."""
    from shared.db.migrate import is_current

    if not is_current(s.effective_database_url):
        err.print(
            "The database is not set up, or is out of date: run `ideahub db upgrade` (or `ideahub up`) first.",
            style="red",
            markup=False,
        )
        raise typer.Exit(2)


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

    s = settings()
    s.data_path.mkdir(parents=True, exist_ok=True)
    s.resolved_secret_key()
    redis_server = EmbeddedRedis(s.data_path) if s.embedded_broker else None
    stop = stop_on_signals()
    if redis_server:
        redis_server.start()
    try:
        upgrade(s.effective_database_url)
        if demo:
            from infra.demo import load_demo

            load_demo(s)
        # Email intake runs inside the web process: one Python process fewer (about 100 MB).
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


@app.command()
def serve(
    workers: Annotated[int, typer.Option(help="Web server processes.")] = 1,
    smtp: Annotated[bool, typer.Option(help="Also run email intake (as `ideahub smtp`) in this process.")] = False,
) -> None:
    """Run the web app and HTTP API."""
    import uvicorn

    s = settings()
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
        err.print(f"Cannot listen on {s.http_host}:{s.smtp_intake_port}: {exc}", style="red", markup=False)
        raise typer.Exit(2) from None
    return server, runtime


@app.command()
def smtp() -> None:
    """Run the email intake server: mail to IDEAHUB_INTAKE_ADDRESS becomes ideas, and replies about them."""
    from infra.composition import Runtime
    from services.intake import smtp as intake_smtp

    s = settings()
    database_ready(s)
    stop = stop_on_signals()
    runtime = Runtime(s, pool_size=intake_smtp.THREADS)
    try:
        intake_smtp.serve(s, runtime.session_factory, stop)
    except OSError as exc:  # the port is taken, or not ours to bind
        err.print(f"Cannot listen on {s.http_host}:{s.smtp_intake_port}: {exc}", style="red", markup=False)
        raise typer.Exit(2) from None
    finally:
        runtime.close()


@app.command()
def imap(once: Annotated[bool, typer.Option(help="Poll once and exit.")] = False) -> None:
    """Take mail from the shared mailbox at IDEAHUB_IMAP_URL, every IDEAHUB_IMAP_POLL_SECONDS."""
    from infra.composition import Runtime
    from services.intake.imap import Poller

    s = settings()
    if not s.imap_url:
        err.print("IDEAHUB_IMAP_URL is not set: say which mailbox to read.", style="red", markup=False)
        raise typer.Exit(2)
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
        err.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from None
    finally:
        runtime.close()


@app.command()
def relay() -> None:
    """Run the outbox relay: publish committed events to the topic exchange and the stage queues."""
    from infra.composition import Runtime

    s = settings()
    stop = stop_on_signals()
    runtime = Runtime(s)
    try:
        runtime.relay().run_forever(stop, idle_seconds=s.relay_idle_ms / 1000)
    finally:
        runtime.close()


@app.command()
def worker(
    stages: Annotated[list[str] | None, typer.Argument(help="Stages to run (default: all).")] = None,
    processes: Annotated[int | None, typer.Option(help="Processes (default IDEAHUB_WORKER_PROCESSES).")] = None,
    threads: Annotated[int | None, typer.Option(help="Threads a process (default IDEAHUB_WORKER_THREADS).")] = None,
) -> None:
    """Run stage workers: review, matching, incubation, notify."""
    from infra.composition import STAGES

    s = settings()
    chosen = stages or STAGES
    unknown = sorted(set(chosen) - set(STAGES))
    if unknown:
        err.print(f"unknown stage {', '.join(unknown)}: choose from {', '.join(STAGES)}", style="red", markup=False)
        raise typer.Exit(2)
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
    log.info("worker.started", stages=stages, threads=threads)
    stop.wait()
    log.info("worker.stopping")
    if worker_ is not None:
        worker_.stop(timeout=30_000)
    for listener in listeners:
        listener.join(timeout=30)
    runtime.close()
    log.info("worker.stopped")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    from shared.db.migrate import upgrade

    s = settings()
    upgrade(s.effective_database_url)
    console.print("The database is up to date.")


@db_app.command("index-duplicates")
def db_index_duplicates() -> None:
    """Index ideas stored before the duplicate search existed, so that new ideas are compared with them too."""
    from infra.composition import Runtime
    from services.review.similarity import index_unindexed

    s = settings()
    database_ready(s)
    runtime = Runtime(s, pool_size=1)
    try:
        indexed = index_unindexed(runtime.session_factory)
    finally:
        runtime.close()
    console.print(f"Indexed {indexed} ideas for the duplicate search.", markup=False)


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Option(help="Their email address.")],
    name: Annotated[str, typer.Option(help="Their full name.")],
    role: Annotated[str, typer.Option(help="reviewer, sponsor or admin.")],
    department: Annotated[str | None, typer.Option()] = None,
    themes: Annotated[str | None, typer.Option(help="Themes they review, comma separated.")] = None,
    interests: Annotated[str | None, typer.Option(help="What a sponsor wants to fund, in words.")] = None,
    capacity: Annotated[int, typer.Option(min=0, help="Incubations a sponsor can run at once.")] = 3,
) -> None:
    """Add a reviewer, sponsor or administrator."""
    from infra import people

    s = settings()
    database_ready(s)
    try:
        person_id = people.add(
            s,
            email=email,
            name=name,
            role=role,
            department=department,
            themes=themes,
            interests=interests,
            capacity=capacity,
        )
    except people.PeopleError as exc:
        err.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from None
    console.print(f"Added {name} <{email.strip().lower()}> as {role} (id {person_id}).", markup=False)


@users_app.command("token")
def users_token(email: Annotated[str, typer.Argument(help="Whose token.")]) -> None:
    """Print a new API token for a person (only its hash is kept)."""
    from infra import people

    s = settings()
    database_ready(s)
    try:
        token = people.new_api_token(s, email)
    except people.PeopleError as exc:
        err.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from None
    typer.echo(token)


@users_app.command("revoke")
def users_revoke(email: Annotated[str, typer.Argument(help="Whose tokens and sessions.")]) -> None:
    """Revoke every API token and signed-in session of a person, at once; unused sign-in links stop working."""
    from infra import people

    s = settings()
    database_ready(s)
    try:
        done = people.revoke(s, email)
    except people.PeopleError as exc:
        err.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from None
    console.print(
        f"Revoked {done.tokens} API token(s) and {done.sessions} session(s) of {email.strip().lower()}; "
        f"{done.links} unused sign-in link(s) no longer work.",
        markup=False,
    )


@app.command()
def status() -> None:
    """The pipeline as a table: ideas per status, overdue work, queue depths, failures."""
    from infra.admin_api import current_depths, pipeline
    from infra.composition import Runtime
    from shared.clock import utcnow
    from shared.db.uow import unit_of_work

    s = settings()
    database_ready(s)
    runtime = Runtime(s)
    depths = current_depths(runtime)
    with unit_of_work(runtime.session_factory) as session:
        view = pipeline(session, now=utcnow(), depths=depths)
    table = Table(title="Ideas by status")
    table.add_column("status")
    table.add_column("ideas", justify="right")
    for name, count in view.ideas_by_status.items():
        table.add_row(name, str(count))
    console.print(table)
    work = Table(title="Work")
    work.add_column("what")
    work.add_column("count", justify="right")
    for name, count in view.overdue.items():
        work.add_row(f"overdue {name.replace('_', ' ')}", str(count))
    for name, count in view.queue_depths.items():
        work.add_row(f"queue {name}", str(count))
    work.add_row("failed messages", str(len(view.failed_messages)))
    work.add_row("failed notifications", str(view.failed_notifications))
    console.print(work)
    runtime.close()


def _notification_table(title: str, rows: list, *, with_idea: bool = True) -> Table:  # type: ignore[type-arg]
    table = Table(title=title)
    for column in ("id", "idea", "to", "channel", "message", "state", "tries", "when", "error"):
        if column != "idea" or with_idea:
            table.add_column(column, overflow="fold", justify="right" if column in ("id", "tries") else "left")
    for row in rows:
        when = row.sent_at or row.next_attempt_at or row.created_at
        cells = [
            str(row.id),
            row.idea_reference or "",
            row.recipient,
            row.channel,
            row.template,
            row.state,
            str(row.attempts),
            when.strftime("%Y-%m-%d %H:%M:%S"),
            (row.error or "")[:120],
        ]
        if not with_idea:
            del cells[1]
        table.add_row(*cells)
    return table


@contextmanager
def database_session() -> Iterator[Session]:
    """One unit of work on the configured database, for a command; a refused request is one red line, exit 2."""
    from infra.composition import Runtime
    from shared.db.uow import unit_of_work
    from shared.errors import Conflict, NotFound

    s = settings()
    database_ready(s)
    runtime = Runtime(s)
    try:
        with unit_of_work(runtime.session_factory) as session:
            yield session
    except (NotFound, Conflict) as exc:
        err.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from None
    finally:
        runtime.close()


@notifications_app.command("failed")
def notifications_failed() -> None:
    """Notifications that need an administrator: failed, or unconfirmed after a worker died while sending."""
    from services.notify import handlers

    with database_session() as session:
        rows = handlers.failed(session)
    if not rows:
        console.print("No failed notifications.")
        return
    console.print(_notification_table("Failed notifications", rows))
    console.print("Resend one with: ideahub notifications resend ID", markup=False)


@notifications_app.command("resend")
def notifications_resend(notification_id: Annotated[int, typer.Argument(help="Its id, from the failed list.")]) -> None:
    """Send a failed or unconfirmed notification again, with its retries renewed."""
    from services.notify import handlers

    with database_session() as session:
        handlers.resend(session, notification_id)
    console.print(f"Notification {notification_id} will be sent again by the notify worker.", markup=False)


@notifications_app.command("log")
def notifications_log(reference: Annotated[str, typer.Argument(help="The idea's reference, IH-YYYY-NNNNNN.")]) -> None:
    """Every notification about one idea: to whom, when, through which channel, with which result."""
    from services.notify import handlers

    reference = reference.strip().upper()
    with database_session() as session:
        rows = handlers.delivery_log(session, reference, reveal=True)
    console.print(_notification_table(f"Notifications about {reference}", rows, with_idea=False))


CsvFile = Annotated[Path, typer.Argument(help="A CSV file with a header row, UTF-8.", dir_okay=False)]
ErrorsFile = Annotated[
    Path | None, typer.Option("--errors", help="Also write the rows with errors to this CSV file.", dir_okay=False)
]


def _import_table(path: Path, **format_: Any) -> CsvTable:
    """The whole file, checked before anything is stored: a file that cannot be imported is one red line, exit 2."""
    from services.intake.importer import ImportFileError, read_csv

    try:
        data = path.read_bytes()
    except OSError as exc:
        err.print(f"Cannot read {path}: {exc.strerror}", style="red", markup=False)
        raise typer.Exit(2) from None
    try:
        table = read_csv(data, **format_)
    except ImportFileError as exc:
        err.print(f"{path.name}: {exc}", style="red", markup=False)
        raise typer.Exit(2) from None
    if table.ignored_columns:
        err.print(f"Ignored column(s) not in the format: {', '.join(table.ignored_columns)}", markup=False)
    return table


def _open_errors_file(path: Path | None) -> IO[str] | None:
    """Opened before the import, so that a path that cannot be written stops it before anything is stored."""
    if path is None:
        return None
    try:
        return path.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        err.print(f"Cannot write {path}: {exc.strerror}", style="red", markup=False)
        raise typer.Exit(2) from None


def _import_report(report: ImportReport, errors_file: IO[str] | None) -> None:
    """The rows with errors as a table (and in the errors file), the counts, and exit 1 if any row failed."""
    import csv

    from rich.text import Text

    if report.errors:
        table = Table(title="Rows with errors")
        for column in ("row", "field", "message"):
            table.add_column(column, justify="right" if column == "row" else "left", overflow="fold")
        for error in report.errors:
            table.add_row(str(error.row), Text(error.field), Text(error.message))
        console.print(table)
    if errors_file is not None:
        with errors_file:
            writer = csv.writer(errors_file)
            writer.writerow(["row", "field", "message"])
            writer.writerows([error.row, error.field, error.message] for error in report.errors)
    console.print(report.summary() + ".", markup=False)
    raise typer.Exit(1 if report.errors else 0)


@import_app.command("ideas")
def import_ideas(file: CsvFile, errors: ErrorsFile = None) -> None:
    """Import ideas: columns title, problem, idea, email (required), benefit, department, theme, name, anonymous.

    Each row is stored on its own, as if submitted: its submitter is acknowledged. A second import creates nothing.
    """
    from rich.progress import Progress

    from infra.composition import Runtime
    from services.intake import importer

    s = settings()
    database_ready(s)
    table = _import_table(file)
    errors_file = _open_errors_file(errors)
    runtime = Runtime(s, pool_size=1)
    try:
        with Progress(console=err) as progress:
            task = progress.add_task("Importing ideas", total=len(table.rows))
            report = importer.import_ideas(
                table.rows,
                session_factory=runtime.session_factory,
                departments=s.departments,
                on_row=lambda _row: progress.advance(task),
            )
    finally:
        runtime.close()
    _import_report(report, errors_file)


PEOPLE_COLUMNS = ("email", "name", "role", "department", "themes", "interests", "capacity")


@import_app.command("people")
def import_people(file: CsvFile, errors: ErrorsFile = None) -> None:
    """Import staff: columns email, name, role (reviewer, sponsor or admin; required), department, themes,
    interests, capacity. Someone already registered (by email) is left as they are."""
    from rich.progress import Progress

    from infra import people
    from services.intake.importer import ImportReport, RowError

    s = settings()
    database_ready(s)
    table = _import_table(file, columns=PEOPLE_COLUMNS, required=("email", "name", "role"))
    errors_file = _open_errors_file(errors)
    report = ImportReport()
    with Progress(console=err) as progress:
        task = progress.add_task("Importing people", total=len(table.rows))
        for row in table.rows:
            progress.advance(task)
            if row.problem:
                report.errors.append(RowError(row.number, "row", row.problem))
                continue
            nul = [name for name, value in row.values.items() if "\x00" in value]
            if nul:
                report.errors += [RowError(row.number, name, "contains a NUL character") for name in nul]
                continue
            try:
                people.add(s, **{name: value for name, value in row.values.items() if value.strip()})
            except people.PeopleError as exc:
                if str(exc).endswith("is already registered"):
                    report.existing += 1
                    continue
                for part in str(exc).split("; "):  # "field: message; field: message", or one sentence
                    name, _, message = part.partition(": ")
                    known = name in PEOPLE_COLUMNS and message
                    report.errors.append(RowError(row.number, name if known else "row", message if known else part))
            else:
                report.created += 1
    _import_report(report, errors_file)


def main() -> None:
    from sqlalchemy.exc import OperationalError

    try:
        app()
    except ConfigError as exc:  # raised where settings are read outside `settings()`
        err.print(str(exc), style="red", markup=False)
        sys.exit(2)
    except OperationalError as exc:
        err.print(f"Cannot use the database: {exc.orig}", style="red", markup=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
