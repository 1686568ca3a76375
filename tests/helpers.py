"""Helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from shared.db.models import Idea, Notification, Person, ReviewTask
from shared.db.uow import unit_of_work

T = TypeVar("T")


def start_component(data_dir: Path, log_name: str, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """Run `ideahub ARGS...` as a real process, its output appended to DATA_DIR/LOG_NAME.log."""
    log = open(data_dir / f"{log_name}.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "infra.cli", *args], env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
    )


# What each command logs once it is at work: the relay publishing, a worker consuming and sweeping.
READY_EVENTS = {"relay": "relay.started", "worker": "worker.started"}


def start_ready(
    data_dir: Path, log_name: str, env: dict[str, str], *args: str, timeout: float = 120.0
) -> subprocess.Popen[bytes]:
    """`start_component`, returning only once the process has logged that it is at work (`READY_EVENTS`).

    A process takes half a second to start on an idle machine and many seconds on a loaded one, so a
    test must not let a deadline run while one starts: it starts the clock (makes the idea or offer,
    or sets the deadline) after this returns. `timeout` bounds a start that never ends, not a slow one.
    """
    log_path = data_dir / f"{log_name}.log"
    start = log_path.stat().st_size if log_path.exists() else 0
    process = start_component(data_dir, log_name, env, *args)
    marker = READY_EVENTS[args[0]]

    def ready() -> bool:
        code = process.poll()
        if code is not None:
            raise AssertionError(f"{log_name} exited with {code} before it was ready:\n{_tail(log_path, start)}")
        return marker in logged_events(log_path, start)

    try:
        wait_for(ready, timeout=timeout, what=f"{log_name} to log {marker}")
    except BaseException:
        process.kill()  # not left running behind the failure
        process.wait(timeout=30)
        raise
    return process


def logged_events(log_path: Path, start: int = 0) -> list[str]:
    """The `event` of each JSON line a component logged after byte `start` of its log."""
    with open(log_path, "rb") as log:
        log.seek(start)
        lines = log.read().splitlines()
    events = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a traceback, or a line not yet complete
        if isinstance(record, dict) and "event" in record:
            events.append(str(record["event"]))
    return events


def _tail(log_path: Path, start: int) -> str:
    with open(log_path, "rb") as log:
        log.seek(start)
        return log.read().decode(errors="replace")[-4000:]


@contextmanager
def smtp_server(handler: object) -> Iterator[int]:
    """A real SMTP server (aiosmtpd) on a free local port, calling `handler`; yields the port."""
    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def load_by(key: object) -> Select[tuple[object, int]]:
    """Each reviewer's load, keyed by `key` (a Person column): the tasks still waiting for them (open or asked)."""
    waiting = ReviewTask.state.in_(("open", "asked"))
    return (
        select(key, func.count(ReviewTask.id))  # type: ignore[call-overload]
        .select_from(Person)
        .outerjoin(ReviewTask, (ReviewTask.reviewer_id == Person.id) & waiting)
        .where(Person.role == "reviewer")
        .group_by(key)
    )


def wait_for(check: Callable[[], T], *, timeout: float = 30.0, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
        last = check()
    return last


def idea_status(factory: sessionmaker[Session], reference: str) -> str | None:
    with unit_of_work(factory) as session:
        return session.scalar(select(Idea.status).where(Idea.reference == reference))


def notifications(factory: sessionmaker[Session], reference: str) -> list[tuple[str, str, str]]:
    """(template, subject, state) of every notification about the idea, oldest first."""
    with unit_of_work(factory) as session:
        idea_id = session.scalar(select(Idea.id).where(Idea.reference == reference))
        rows = session.execute(
            select(Notification.template, Notification.subject, Notification.state)
            .where(Notification.idea_id == idea_id)
            .order_by(Notification.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def deliveries(factory: sessionmaker[Session], reference: str) -> list[tuple[str, str, str, str]]:
    """(recipient, template, subject, state) of every notification about the idea, oldest first."""
    with unit_of_work(factory) as session:
        idea_id = session.scalar(select(Idea.id).where(Idea.reference == reference))
        rows = session.execute(
            select(Notification.recipient, Notification.template, Notification.subject, Notification.state)
            .where(Notification.idea_id == idea_id)
            .order_by(Notification.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def count(factory: sessionmaker[Session], query: object) -> int:
    with unit_of_work(factory) as session:
        return int(session.scalar(select(func.count()).select_from(query)) or 0)  # type: ignore[arg-type]


def mails_about(mail_dir: Path, reference: str) -> list[email.message.EmailMessage]:
    """The .eml files written for an idea, read back as messages."""
    found = []
    for path in sorted(mail_dir.glob("*.eml")):
        data = path.read_bytes()
        if reference.encode() not in data:  # every email about it names it in the clear, in its Message-ID
            continue
        message = email.message_from_bytes(data, policy=email.policy.default)
        if f"[{reference}]" in str(message["Subject"]):
            found.append(message)  # type: ignore[arg-type]
    return found  # type: ignore[return-value]
