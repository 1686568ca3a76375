"""`ideahub failures list | retry ID | discard ID --reason`: messages a consumer gave up on."""

from __future__ import annotations

import getpass
from typing import Annotated, Literal

import typer
from rich.table import Table
from rich.text import Text

from infra.cli import tables
from infra.cli.common import console, database_ready, database_session, fail, settings
from shared.principal import Principal

app = typer.Typer(help="Messages a stage or notify gave up on: list, retry, discard.", no_args_is_help=True)


def operator() -> Principal:
    """Whoever runs the command on the server, named as such on the idea's timeline."""
    user = getpass.getuser()
    return Principal(0, f"command-line:{user}", f"{user} (command line)", "admin")


@app.command("list")
def list_failures(
    state: Annotated[
        Literal["open", "resolved", "all"], typer.Option(help="open (default), resolved or all.")
    ] = "open",
    page: Annotated[int, typer.Option(min=1, help="Which page of 50.")] = 1,
) -> None:
    """Failed messages, newest first."""
    from infra.console import failures
    from shared.paging import PageRequest

    with database_session() as session:
        found = failures.failures(session, state=state, page=PageRequest(page, 50))
    if not found.items:
        console.print("No failed messages." if page == 1 else "No more failed messages.")
        return
    table = Table(title=f"Failed messages ({state}), page {page}")
    for header in ("id", "idea", "consumer", "tries", "last failed"):
        table.add_column(header, no_wrap=True, justify="right" if header in ("id", "tries") else "left")
    table.add_column("error" if state == "open" else "error / resolution", ratio=1, min_width=18, overflow="fold")
    for f in found.items:
        note = tables.brief(f.error) if f.resolution is None else f"{f.resolution} by {f.resolved_by}"
        table.add_row(
            str(f.id),
            f.idea_reference or "",
            Text(f.consumer),
            str(f.attempts),
            tables.when(f.last_failed_at),
            Text(note),
        )
    console.print(table)
    if found.has_next:
        console.print(f"More: ideahub failures list --state {state} --page {page + 1}", markup=False)
    console.print(
        "Retry one with: ideahub failures retry ID; give up on one: ideahub failures discard ID --reason TEXT"
    )


@app.command("retry")
def retry(failure_id: Annotated[int, typer.Argument(help="Its id, from the list.")]) -> None:
    """Hand the message's event to its consumer again, now; it is handled once, or recorded as failed again."""
    from infra.composition import Runtime
    from infra.console import failures
    from shared.errors import Conflict, NotFound

    s = settings()
    database_ready(s)
    runtime = Runtime(s)
    try:
        result = failures.retry(s, runtime.session_factory, failure_id, admin=operator())
    except (NotFound, Conflict) as exc:
        fail(str(exc))
    finally:
        runtime.close()
    if result.handled:
        console.print(f"Failed message {failure_id} was handled.", markup=False)
    elif result.failed_again is not None:
        fail(f"It failed again: see failed message {result.failed_again}.", code=1)
    else:
        fail(f"It could not be handled now ({result.error}); it is open again, to retry later.", code=1)


@app.command("discard")
def discard(
    failure_id: Annotated[int, typer.Argument(help="Its id, from the list.")],
    reason: Annotated[str, typer.Option(help="Why it is given up on; kept with it.")],
) -> None:
    """Give up on a failed message for good; it is kept as a record, with the reason."""
    from infra.console import failures

    if not reason.strip():
        fail("Say why it is given up on: --reason TEXT")
    with database_session() as session:
        failures.discard(session, failure_id, admin=operator(), reason=reason.strip())
    console.print(f"Failed message {failure_id} was discarded.", markup=False)
