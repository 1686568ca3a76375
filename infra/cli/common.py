"""What every command shares: the two consoles, the settings, and one red line instead of a stack trace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

from shared.config import ConfigError, Settings, load_settings
from shared.logging import configure_logging

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

console = Console()
# An error is one line however narrow the terminal, so that a path in it can be copied whole.
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Say what went wrong in one red line on stderr, and exit (2: the request cannot be done as asked)."""
    err.print(message, style="red", markup=False)
    raise typer.Exit(code)


def settings(*, long_running: bool = False) -> Settings:
    """The settings, with logging configured for this command.

    Logs go to stderr, so that stdout holds only what the command says. A component that runs until
    stopped (`long_running`) logs from IDEAHUB_LOG_LEVEL, INFO by default; a command a person runs and
    reads logs only warnings and errors unless IDEAHUB_LOG_LEVEL is set, in the environment or `.env`.
    """
    try:
        loaded = load_settings()
    except ConfigError as exc:
        fail(str(exc))
    chosen = long_running or "log_level" in loaded.model_fields_set
    configure_logging(loaded.log_level if chosen else "WARNING", loaded.log_format)
    return loaded


def database_ready(s: Settings) -> None:
    """Commands that read or write data need the schema: say what to do rather than fail on a missing table."""
    from shared.db.migrate import is_current

    if not is_current(s.effective_database_url):
        fail("The database is not set up, or is out of date: run `ideahub db upgrade` (or `ideahub up`) first.")


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
        fail(str(exc))
    finally:
        runtime.close()
