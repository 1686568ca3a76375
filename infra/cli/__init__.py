"""`ideahub`: one command for everything, or one component at a time.

The commands live beside this file by what they are for: `run` (up, serve, smtp, imap, relay, worker),
`admin` (status, db, users, notifications) and `imports` (import ideas, import people).
"""

from __future__ import annotations

import shutil
import sys

import typer

from infra.cli import admin, failures, imports, run
from infra.cli.common import console, err
from shared.config import ConfigError
from shared.logging import configure_logging

app = typer.Typer(help="Ideahub: front-line ideas, from submission to outcome.", no_args_is_help=True)
app.add_typer(run.app)
app.add_typer(admin.app)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.notifications_app, name="notifications")
app.add_typer(imports.app, name="import")
app.add_typer(failures.app, name="failures")


@app.callback()
def _terminal() -> None:
    """Lay out tables for the terminal the command runs in now (COLUMNS, else the terminal, else 80 columns)."""
    console.width = shutil.get_terminal_size(fallback=(80, 24)).columns


def main() -> None:
    from sqlalchemy.exc import OperationalError

    # Each command configures logging from its settings; until then anything logged goes to stderr as well
    # (structlog's own default is stdout, among the command's output).
    configure_logging("WARNING")
    try:
        app()
    except ConfigError as exc:  # raised where settings are read outside `settings()`
        err.print(str(exc), style="red", markup=False)
        sys.exit(2)
    except OperationalError as exc:
        err.print(f"Cannot use the database: {exc.orig}", style="red", markup=False)
        sys.exit(2)
