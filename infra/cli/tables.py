"""The tables the commands print."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from infra.admin_api import Pipeline
    from services.intake.importer import RowError
    from services.notify.handlers import NotificationView


def pipeline_tables(view: Pipeline, *, width: int) -> list[Table]:
    table = Table(title="Ideas by status")
    table.add_column("status")
    table.add_column("ideas", justify="right")
    for name, count in view.ideas_by_status.items():
        table.add_row(name, str(count))
    work = Table(title="Work")
    work.add_column("what")
    work.add_column("count", justify="right")
    for name, count in view.overdue.items():
        work.add_row(f"overdue {name.replace('_', ' ')}", str(count))
    for name, count in view.queue_depths.items():
        work.add_row(f"queue {name}", str(count))
    work.add_row("failed messages", str(len(view.failed_messages)))
    work.add_row("failed notifications", str(view.failed_notifications))
    return [table, work]


def notifications(title: str, rows: Sequence[NotificationView], *, width: int, with_idea: bool = True) -> Table:
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


def import_errors(errors: Sequence[RowError], *, width: int) -> Table:
    table = Table(title="Rows with errors")
    for column in ("row", "field", "message"):
        table.add_column(column, justify="right" if column == "row" else "left", overflow="fold")
    for error in errors:
        table.add_row(str(error.row), Text(error.field), Text(error.message))
    return table
