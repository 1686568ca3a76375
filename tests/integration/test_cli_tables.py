"""What `ideahub` prints stays readable on an 80-column terminal: no value is broken into a few letters a line."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.composition import Runtime
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from shared.clock import utcnow
from shared.config import load_settings
from shared.db.models import FailedMessage, Notification
from shared.db.uow import unit_of_work

RECIPIENT = "bartholomew.featherstonehaugh@department-for-levelling-up-housing.example.gov.uk"
NOTIFY_ERROR = (
    "SMTPRecipientsRefused: {'bartholomew.featherstonehaugh@example.gov.uk': (550, b'5.1.1 The email account "
    "that you tried to reach does not exist; please check the address for typos or unnecessary spaces')}"
)
CONSUMER = "matching.offer_next_candidate"
FAILED_ERROR = (
    'Traceback (most recent call last):\n  File "services/matching/handlers.py", line 88, in offer\n'
    "IllegalTransition: idea IH-2026-000042 is incubating, and an offer can only be made to an idea in matching"
)


@dataclass
class Installation:
    env: dict[str, str]
    reference: str


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Installation:
    """A migrated SQLite database with an idea, two notifications that failed, and a failed message."""
    from shared.db.migrate import upgrade

    data_dir = tmp_path_factory.mktemp("tables")
    settings = load_settings(data_dir=data_dir)
    upgrade(settings.effective_database_url)
    runtime = Runtime(settings)
    try:
        with unit_of_work(runtime.session_factory) as session:
            submission = Submission(title="Narrow tables", problem="P", idea="I", email=RECIPIENT)
            created = submit_idea(session, submission, channel="api", departments=settings.departments)
            for template, state in (("submitter/question_reminder", "failed"), ("submitter/received", "unconfirmed")):
                session.add(
                    Notification(
                        event_id=uuid.uuid4(),
                        idea_id=created.id,
                        recipient=RECIPIENT,
                        channel="email",
                        template=template,
                        subject="s",
                        state=state,
                        attempts=8,
                        error=NOTIFY_ERROR,
                        created_at=utcnow(),
                    )
                )
            session.add(
                FailedMessage(
                    consumer=CONSUMER, idea_id=created.id, error=FAILED_ERROR, payload="{}", failed_at=utcnow()
                )
            )
    finally:
        runtime.close()
    return Installation({"IDEAHUB_DATA_DIR": str(data_dir)}, created.reference)


def printed(installation: Installation, *args: str, columns: int = 80) -> str:
    result = CliRunner().invoke(app, list(args), env=installation.env | {"COLUMNS": str(columns)})
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def assert_readable(output: str, *texts: str) -> None:
    """Every line fits in 80 columns, each value's start is on one line, and no word of the texts (short
    enough for a column) is split across lines. An error is shown up to its 120th character."""
    assert max(len(line) for line in output.splitlines()) <= 80, output
    for text in texts:
        text = text[:120].rsplit(" ", 1)[0] if len(text) > 120 else text
        assert text[:17] in output, f"{text[:17]!r} is broken across lines:\n{output}"
        for word in text.split():
            if len(word) < 17:
                assert word in output, f"{word!r} is broken across lines:\n{output}"


def test_failed_notifications_and_an_ideas_log_fit_80_columns(installation: Installation) -> None:
    failed = printed(installation, "notifications", "failed")
    assert_readable(failed, RECIPIENT, NOTIFY_ERROR, installation.reference, "submitter/question_reminder")
    assert "unconfirmed, 8 tries" in failed
    log = printed(installation, "notifications", "log", installation.reference)
    assert_readable(log, RECIPIENT, NOTIFY_ERROR, "submitter/received (email)")


def test_the_status_lists_failed_messages_within_80_columns(installation: Installation) -> None:
    output = printed(installation, "status")
    assert "Failed messages, newest first (1 of 1)" in output
    # Of a traceback, the line that says what went wrong.
    assert_readable(output, CONSUMER, FAILED_ERROR.splitlines()[-1])
    assert "Traceback" not in output


def test_import_errors_fit_80_columns(installation: Installation, tmp_path: Path) -> None:
    source = tmp_path / "ideas.csv"
    source.write_text(
        "title,problem,idea,email,department\n"
        f"Narrow import,P,I,{RECIPIENT.replace('@', ' at ')},Department for Levelling Up\n"
    )
    output = printed(installation, "import", "ideas", str(source))
    assert "0 created, 0 already imported, 1 rows with errors." in output
    assert_readable(output, "enter an email address in the correct format", "choose one of: Benefits, Health")


def test_a_wide_terminal_gets_a_column_for_each_value(installation: Installation) -> None:
    output = printed(installation, "notifications", "failed", columns=200)
    header = next(line for line in output.splitlines() if "channel" in line)
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == [
        "id",
        "idea",
        "to",
        "channel",
        "message",
        "state",
        "tries",
        "when (UTC)",
        "error",
    ]
    assert "│ submitter/question_reminder │ failed " in output
