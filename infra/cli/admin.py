"""The commands an administrator runs and reads: the database, staff, the pipeline's state, notifications."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.cli import tables
from infra.cli.common import console, database_ready, database_session, fail, settings

app = typer.Typer()
db_app = typer.Typer(help="The database.", no_args_is_help=True)
users_app = typer.Typer(help="Reviewers, sponsors and administrators.", no_args_is_help=True)
notifications_app = typer.Typer(help="Sent messages: failures, resending, the log.", no_args_is_help=True)


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
        fail(str(exc))
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
        fail(str(exc))
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
        fail(str(exc))
    console.print(
        f"Revoked {done.tokens} API token(s) and {done.sessions} session(s) of {email.strip().lower()}; "
        f"{done.links} unused sign-in link(s) no longer work.",
        markup=False,
    )


@users_app.command("deactivate")
def users_deactivate(
    email: Annotated[str, typer.Argument(help="Who leaves.")],
    reason: Annotated[str, typer.Option(help="Why; recorded on each idea whose work is handed on.")],
) -> None:
    """Deactivate a person: every way in stops working, their waiting reviews go to other reviewers and their open
    offers lapse to the next sponsor, each recorded on the idea's timeline."""
    from pydantic import ValidationError
    from sqlalchemy import select

    from infra.cli.failures import operator
    from infra.console import people as staff
    from shared.db.models import Person

    try:
        change = staff.PersonChange(active=False, reason=reason.strip())
    except ValidationError:
        fail("Give a reason of up to 2,000 characters, without control characters: --reason TEXT")
    if not change.reason:
        fail("Say why they are deactivated: --reason TEXT")
    address = email.strip().lower()
    with database_session() as session:
        person_id = session.scalar(select(Person.id).where(Person.email == address))
        if person_id is None:
            fail(f"nobody is registered as {address}")
        before = staff.one(session, person_id)
        if not before.active:
            fail(f"{before.name} <{address}> is deactivated already.")
        staff.change(session, person_id, change, admin=operator(), settings=settings())
    handed = f"{before.load} waiting review(s) handed on" if before.role == "reviewer" else None
    lapsed = f"{before.open_offers} open offer(s) lapsed" if before.open_offers or before.role == "sponsor" else None
    done = "; ".join(part for part in (handed, lapsed) if part)
    console.print(
        f"Deactivated {before.name} <{address}>: their tokens, sessions and sign-in links no longer work"
        + (f"; {done}." if done else "."),
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
    try:
        depths = current_depths(runtime)
        with unit_of_work(runtime.session_factory) as session:
            view = pipeline(session, now=utcnow(), depths=depths)
    finally:
        runtime.close()
    for table in tables.pipeline_tables(view, width=console.width):
        console.print(table)


@notifications_app.command("failed")
def notifications_failed(
    page: Annotated[int, typer.Option(min=1, max=10_000, help="Which page of 50.")] = 1,
) -> None:
    """Notifications that need an administrator, oldest first: failed, or unconfirmed after a worker died."""
    from services.notify import handlers
    from shared.paging import PageRequest

    with database_session() as session:
        found = handlers.failed(session, page=PageRequest(page, 50))
    if not found.items:
        console.print("No failed notifications." if page == 1 else "No more failed notifications.")
        return
    title = "Failed notifications" if page == 1 and not found.has_next else f"Failed notifications, page {page}"
    console.print(tables.notifications(title, found.items, width=console.width))
    if found.has_next:
        console.print(f"More: ideahub notifications failed --page {page + 1}", markup=False)
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
    console.print(tables.notifications(f"Notifications about {reference}", rows, width=console.width, with_idea=False))
