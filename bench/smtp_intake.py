"""Email intake throughput: `ideahub smtp` as a process, fed by concurrent smtplib clients.

    .venv/bin/python bench/smtp_intake.py                      # 1,000 messages, 4 clients, PostgreSQL
    .venv/bin/python bench/smtp_intake.py --messages 200 --database sqlite
    .venv/bin/python bench/smtp_intake.py --attachment         # each message carries a 20 KB PDF

Each client keeps one SMTP connection and sends its share of the messages one after another, as a
mail server relaying to us would; every message has its own sender and Message-ID, so each becomes
an idea (the rate limit is turned off). A message counts from MAIL FROM to the 250 that answers DATA,
which `ideahub smtp` gives only after the idea is committed. 20 warm-up messages go first.
Prints messages/s, p50/p99 per message, the database and the core count; checks that every message
made exactly one idea. The scratch database and folder are removed afterwards (unless --keep).
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import psutil
import sqlalchemy as sa
from procs import log_tail, start_child, stop_child

from shared.db.migrate import upgrade

INTAKE = "ideas@bench.example.gov.uk"
WARM_UP = 20
PDF = b"%PDF-1.4\n" + b"0" * 20_000 + b"\n%%EOF\n"


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--attachment", action="store_true", help="attach a 20 KB PDF to every message")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and database")
    return parser.parse_args()


def message(index: int, run: str, *, attachment: bool) -> bytes:
    m = EmailMessage()
    m["From"] = f"Staff Member {index} <staff{index}.{run}@bench.example.gov.uk>"
    m["To"] = INTAKE
    m["Subject"] = f"Bench idea {index}: book appointments online"
    m["Message-ID"] = f"<{run}.{index}@bench.example.gov.uk>"
    m.set_content(
        f"Problem: people wait too long on the phone to book (case {index}).\n\n"
        "Idea: let them book online and send a reminder the day before.\n"
        "Benefit: shorter queues.\nDepartment: Health\n"
    )
    if attachment:
        m.add_attachment(PDF, maintype="application", subtype="pdf", filename=f"plan-{index}.pdf")
    return m.as_bytes(policy=SMTP)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, child_alive: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                client.noop()
            return
        except OSError:
            if not child_alive():  # type: ignore[operator]
                raise SystemExit("ideahub smtp exited before it listened") from None
            time.sleep(0.1)
    raise SystemExit(f"ideahub smtp did not listen on {port} within {timeout:.0f} s")


def send_all(port: int, messages: list[tuple[str, bytes]], clients: int) -> tuple[float, list[float], list[str]]:
    """Send from `clients` connections at once; (wall seconds, per-message seconds, failures)."""
    shares = [messages[i::clients] for i in range(clients)]
    seconds: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(share: list[tuple[str, bytes]]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo("bench.example.gov.uk")
            for sender, raw in share:
                started = time.perf_counter()
                try:
                    smtp.sendmail(sender, [INTAKE], raw)
                except smtplib.SMTPException as exc:
                    with lock:
                        failures.append(str(exc))
                    continue
                with lock:
                    seconds.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, seconds, failures


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    args = options()
    run = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix=f"ideahub-bench-smtp-{run}-"))
    (tmp / "logs").mkdir()
    scratch = None
    if args.database == "postgresql":
        scratch = f"ideahub_bench_smtp_{run}"
        admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{scratch}"')
        database_url = args.pg_url.rsplit("/", 1)[0] + f"/{scratch}"
    else:
        database_url = f"sqlite:///{tmp / 'data' / 'ideahub.db'}"
    upgrade(database_url)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")},
        "IDEAHUB_DATA_DIR": str(tmp / "data"),
        "IDEAHUB_DATABASE_URL": database_url,
        "IDEAHUB_QUEUE_PREFIX": f"bench-smtp-{run}.",
        "IDEAHUB_SMTP_INTAKE_PORT": str(port),
        "IDEAHUB_INTAKE_ADDRESS": INTAKE,
        "IDEAHUB_MAIL_RATE_LIMIT": "0/minute",
        "IDEAHUB_LOG_LEVEL": "WARNING",
    }
    child = start_child(
        "smtp", [sys.executable, "-m", "infra.cli", "smtp"], env=env, cwd=Path.cwd(), log_dir=tmp / "logs"
    )
    failed = True
    try:
        wait_listening(port, child.alive)
        warm = [
            (f"warm{i}@bench.example.gov.uk", message(i, f"warm-{run}", attachment=args.attachment))
            for i in range(WARM_UP)
        ]
        send_all(port, warm, args.clients)
        batch = [
            (f"staff{i}.{run}@bench.example.gov.uk", message(i, run, attachment=args.attachment))
            for i in range(args.messages)
        ]
        process = psutil.Process(child.process.pid)  # type: ignore[union-attr]
        cpu_before = sum(process.cpu_times()[:2])
        wall, seconds, failures = send_all(port, batch, args.clients)
        cpu = sum(process.cpu_times()[:2]) - cpu_before
        engine = sa.create_engine(database_url)
        with engine.connect() as connection:
            ideas = connection.execute(sa.text("SELECT count(*) FROM ideas WHERE channel = 'email'")).scalar()
            attachments = connection.execute(sa.text("SELECT count(*) FROM attachments")).scalar()
            version = connection.execute(
                sa.text("SELECT version()" if args.database == "postgresql" else "SELECT 'SQLite ' || sqlite_version()")
            ).scalar()
        engine.dispose()
        print(f"database:   {str(version).split(' on ')[0]}")
        print(f"cores:      {os.cpu_count()} (shared with the database and the clients)")
        print(f"messages:   {len(seconds)} of {args.messages} from {args.clients} clients, {len(failures)} refused")
        print(f"throughput: {len(seconds) / wall:.1f} messages/s ({wall:.2f} s)")
        p50, p99 = percentile(seconds, 0.5) * 1000, percentile(seconds, 0.99) * 1000
        print(f"per message: p50 {p50:.1f} ms, p99 {p99:.1f} ms, mean {statistics.fmean(seconds) * 1000:.1f} ms")
        print(f"ideahub smtp CPU: {cpu / wall * 100:.0f}% of one core")
        print(f"ideas stored: {ideas} (expected {args.messages + WARM_UP}); attachments: {attachments}")
        if failures:
            print(f"first failure: {failures[0]}")
        failed = bool(failures) or ideas != args.messages + WARM_UP
    finally:
        stop_child(child)
        if failed:
            print(log_tail(child), file=sys.stderr)
        if not args.keep:
            if scratch:
                admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
                with admin.connect() as connection:
                    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
                admin.dispose()
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept: {tmp}" + (f" and database {scratch}" if scratch else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
