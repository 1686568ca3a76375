"""The tables the commands print, readable down to an 80-column terminal.

Short values (ids, references, states, times) never wrap. Free text (addresses, error messages) takes
the width that is left, wrapping between words; only a word longer than its column is folded, and the
column is kept at least `MIN_TEXT` wide. When every column would not fit so, the lesser ones are stacked
in one cell, a value a line, rather than any value being broken into a few letters a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from infra.admin_api import Pipeline
    from infra.demo import Account
    from services.intake.importer import RowError
    from services.notify.handlers import NotificationView

MIN_TEXT = 18  # the narrowest a column of free text gets
FAILED_SHOWN = 10  # the newest failed messages `ideahub status` lists
CONSUMER_WIDTH = 30  # a consumer's name (`matching.offer_next_candidate`) is cut short beyond this
PER_COLUMN, EDGE = 3, 1  # the default box: a border and two spaces of padding a column, and the right edge


def when(moment: datetime) -> str:
    """`2026-12-04 15:26`, in UTC."""
    return f"{moment.astimezone(UTC) if moment.tzinfo else moment:%Y-%m-%d %H:%M}"


def brief(error: str | None, limit: int = 120) -> str:
    """The last line of an error (a traceback ends with the exception), its spaces collapsed, at most `limit`."""
    lines = [line for line in (error or "").splitlines() if line.strip()]
    text = " ".join(lines[-1].split()) if lines else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fits(width: int, short: Iterable[int], texts: int) -> bool:
    """Whether columns of these widths, and `texts` columns of free text at least MIN_TEXT wide, fit."""
    widths = list(short)
    return sum(widths) + texts * MIN_TEXT + (len(widths) + texts) * PER_COLUMN + EDGE <= width


def _widest(header: str, cells: Iterable[str]) -> int:
    return max(len(line) for value in [header, *cells] for line in value.splitlines() or [""])


def _short(table: Table, header: str, *, justify: Literal["left", "right"] = "left") -> None:
    table.add_column(header, no_wrap=True, justify=justify)


def _text(table: Table, header: str, *, ratio: int = 1) -> None:
    table.add_column(header, ratio=ratio, min_width=MIN_TEXT, overflow="fold")


def pipeline_tables(view: Pipeline, *, width: int) -> list[Table]:
    """Ideas per status; overdue work, queue depths and failure counts; the newest failed messages."""
    ideas = Table(title="Ideas by status")
    _short(ideas, "status")
    _short(ideas, "ideas", justify="right")
    for name, count in view.ideas_by_status.items():
        ideas.add_row(name, str(count))
    work = Table(title="Work")
    work.add_column("what", overflow="fold")  # a queue's name, with its prefix, can be long
    _short(work, "count", justify="right")
    for name, count in view.overdue.items():
        work.add_row(f"overdue {name.replace('_', ' ')}", str(count))
    for name, count in view.queue_depths.items():
        work.add_row(Text(f"queue {name}"), str(count))
    work.add_row("failed messages", str(len(view.failed_messages)))
    work.add_row("failed notifications", str(view.failed_notifications))
    if not view.failed_messages:
        return [ideas, work]

    shown = view.failed_messages[:FAILED_SHOWN]
    ids = _widest("id", (str(m.id) for m in shown))
    consumers = min(_widest("consumer", (m.consumer for m in shown)), CONSUMER_WIDTH)
    stacked = not _fits(width, [ids, 16, consumers, 7], texts=1)
    failed = Table(title=f"Failed messages, newest first ({len(shown)} of {len(view.failed_messages)})")
    _short(failed, "id", justify="right")
    if stacked:
        failed.add_column("failed (UTC)\nconsumer", no_wrap=True, overflow="ellipsis", max_width=CONSUMER_WIDTH)
    else:
        _short(failed, "failed (UTC)")
        failed.add_column("consumer", no_wrap=True, overflow="ellipsis", max_width=CONSUMER_WIDTH)
        _short(failed, "idea id", justify="right")
    _text(failed, "error")
    for message in shown:
        error = Text(brief(message.error))
        if stacked:
            failed.add_row(str(message.id), Text(f"{when(message.failed_at)}\n{message.consumer}"), error)
        else:
            idea = "" if message.idea_id is None else str(message.idea_id)
            failed.add_row(str(message.id), when(message.failed_at), Text(message.consumer), idea, error)
    return [ideas, work, failed]


def notifications(title: str, rows: Sequence[NotificationView], *, width: int, with_idea: bool = True) -> Table:
    """A notification a line when every column fits; otherwise three columns: the id over the idea, the state
    over the time, and the address over the message over the error."""
    tries = {row.id: f"{row.attempts} {'try' if row.attempts == 1 else 'tries'}" for row in rows}
    sent = {row.id: when(row.sent_at or row.next_attempt_at or row.created_at) for row in rows}
    short = [
        _widest("id", (str(row.id) for row in rows)),
        _widest("idea", (row.idea_reference or "" for row in rows)) if with_idea else 0,
        _widest("channel", (row.channel for row in rows)),
        _widest("message", (row.template for row in rows)),
        _widest("state", (row.state for row in rows)),
        _widest("tries", (str(row.attempts) for row in rows)),
        16,
    ]
    table = Table(title=title)
    if _fits(width, [w for w in short if w], texts=2):
        _short(table, "id", justify="right")
        if with_idea:
            _short(table, "idea")
        _text(table, "to")
        for header in ("channel", "message", "state"):
            _short(table, header)
        _short(table, "tries", justify="right")
        _short(table, "when (UTC)")
        _text(table, "error", ratio=2)
        for row in rows:
            cells: list[str | Text] = [str(row.id), row.idea_reference or ""] if with_idea else [str(row.id)]
            cells += [Text(row.recipient), row.channel, row.template, row.state, str(row.attempts), sent[row.id]]
            table.add_row(*cells, Text(brief(row.error)))
        return table

    _short(table, "id\nidea" if with_idea else "id", justify="left")
    _short(table, "state\nwhen (UTC)")
    _text(table, "to\nmessage\nerror")
    for row in rows:
        about = f"{row.id}\n{row.idea_reference or ''}" if with_idea else str(row.id)
        state = f"{row.state}, {tries[row.id]}\n{sent[row.id]}"
        details = Text(f"{row.recipient}\n{row.template} ({row.channel})")
        if row.error:
            details.append("\n" + brief(row.error), style="red")
        table.add_row(about, state, details)
    return table


def import_errors(errors: Sequence[RowError]) -> Table:
    table = Table(title="Rows with errors")
    _short(table, "row", justify="right")
    _short(table, "field")
    _text(table, "message")
    for error in errors:
        table.add_row(str(error.row), Text(error.field), Text(error.message))
    return table


def demo_accounts(accounts: Sequence[Account]) -> Table:
    table = Table(title="Demo accounts")
    for header in ("name", "email", "role"):
        _short(table, header)
    _text(table, "can")
    for account in accounts:
        table.add_row(Text(account.name), Text(account.email), account.role, account.can)
    return table
