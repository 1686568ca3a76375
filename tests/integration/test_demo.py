"""`ideahub up --demo` loads its staff and ideas once, and says who they are and how to sign in as each."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from sqlalchemy import func, select

from infra import people
from infra.cli.run import show_demo
from infra.composition import Runtime
from shared.config import Settings, load_settings
from shared.db.migrate import upgrade
from shared.db.models import Idea, Person
from shared.db.uow import unit_of_work

ACCOUNTS = [
    ["Rita Reviewer", "rita.reviewer@example.gov.uk", "reviewer", "scores ideas, asks submitters questions"],
    ["Raj Reviewer", "raj.reviewer@example.gov.uk", "reviewer", "scores ideas, asks submitters questions"],
    ["Sam Sponsor", "sam.sponsor@example.gov.uk", "sponsor", "answers offers of ideas, runs incubations"],
    ["Ada Admin", "ada.admin@example.gov.uk", "admin", "watches the pipeline, manages staff"],
]


def shown(settings: Settings) -> str:
    out = io.StringIO()
    show_demo(settings, Console(file=out, width=80))
    return out.getvalue()


def counts(settings: Settings) -> tuple[int, int]:
    runtime = Runtime(settings)
    try:
        with unit_of_work(runtime.session_factory) as session:
            staff = session.scalar(select(func.count()).select_from(Person)) or 0
            ideas = session.scalar(select(func.count()).select_from(Idea)) or 0
    finally:
        runtime.close()
    return staff, ideas


def account_lines(output: str) -> list[list[str]]:
    """[name, email, role, what they can do] of each row of the accounts table, wrapped lines joined."""
    rows: list[list[str]] = []
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) != 4 or not line.startswith("│"):
            continue
        if cells[0]:
            rows.append(cells)
        else:  # the same account, its last column wrapped
            rows[-1][3] += " " + cells[3]
    return rows


def test_the_demo_prints_its_accounts_and_how_to_sign_in_and_a_second_load_adds_nothing(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, public_url="http://127.0.0.1:8123")
    upgrade(settings.effective_database_url)
    # Someone registered before the demo is loaded: neither refused nor duplicated.
    people.add(settings, email="rita.reviewer@example.gov.uk", name="Rita Reviewer", role="reviewer")

    first = shown(settings)
    assert account_lines(first) == ACCOUNTS
    sign_in = " ".join(first.split())  # the sentence as one line, however the terminal wrapped it
    assert "open http://127.0.0.1:8123/sign-in and enter their email" in sign_in
    assert f"open the newest .eml file in {tmp_path / 'mail'} and follow the link in it" in sign_in
    assert "ideahub users token EMAIL" in sign_in
    assert counts(settings) == (4, 2)

    second = shown(settings)
    assert account_lines(second) == ACCOUNTS
    assert counts(settings) == (4, 2)


def test_with_an_smtp_server_the_demo_says_the_link_is_emailed(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, smtp_url="smtp://127.0.0.1:2526")
    upgrade(settings.effective_database_url)
    output = " ".join(shown(settings).split())
    assert "the link to follow is emailed to it through IDEAHUB_SMTP_URL" in output
    assert ".eml" not in output
