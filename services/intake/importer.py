"""Bulk import of ideas from a CSV file: each row goes through the same model and `submit_idea` as every channel.

The file is read and checked as a whole first (encoding, CSV syntax, header), so a file that
cannot be imported stores nothing. Then each row is validated and stored in its own transaction:
a bad row stores nothing and the others go in. A row's source key is a digest of its normalised
values, so importing the same file again creates nothing new.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.intake.handlers import InvalidSubmission, Source, digest, fingerprint_of, submit_idea
from services.intake.schemas import Submission
from shared.db.uow import unit_of_work
from shared.errors import Conflict
from shared.logging import get_logger

log = get_logger("ideahub.intake.import")

IDEA_COLUMNS = ("title", "problem", "idea", "benefit", "department", "theme", "name", "email", "anonymous")
IDEA_REQUIRED = ("title", "problem", "idea", "email")
_YES = {"yes", "true", "1", "y"}
_NO = {"no", "false", "0", "n", ""}
_DELIMITERS = (",", ";", "\t")


class ImportFileError(Exception):
    """The file as a whole cannot be imported (encoding, CSV syntax, header); nothing was stored."""


@dataclass(frozen=True)
class Row:
    """One record of the file. `number` counts the header as row 1, as a spreadsheet shows it."""

    number: int
    values: dict[str, str]
    problem: str | None = None  # a fault of the record itself, such as a wrong number of values
    cells: tuple[str, ...] = ()  # the record as read, every column, so that a row can be written back


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: list[Row]
    ignored_columns: tuple[str, ...] = ()
    header: tuple[str, ...] = ()  # the header row as written, for a file of rows to fix in the same shape
    delimiter: str = ","


@dataclass
class ImportReport:
    created: int = 0
    existing: int = 0  # rows that an earlier import (or an identical earlier row) had already made
    errors: list[RowError] = field(default_factory=list)

    @property
    def rows_with_errors(self) -> int:
        return len({error.row for error in self.errors})

    def summary(self) -> str:
        return f"{self.created} created, {self.existing} already imported, {self.rows_with_errors} rows with errors"


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # a byte-order mark, as spreadsheets write, is dropped
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"the file is not UTF-8 text (byte {exc.start + 1} cannot be read): save it as 'CSV UTF-8' and try again"
        ) from None


def _delimiter(header_line: str, columns: Sequence[str]) -> str:
    """Comma, or the semicolon or tab some spreadsheets write: whichever splits the header into known columns."""

    def known(delimiter: str) -> int:
        return sum(name.strip().strip('"').lower() in columns for name in header_line.split(delimiter))

    return max(_DELIMITERS, key=known)


def read_csv(data: bytes, *, columns: Sequence[str] = IDEA_COLUMNS, required: Sequence[str] = IDEA_REQUIRED) -> Table:
    """Check and read a whole file; raises ImportFileError with a one-line reason.

    Header names are matched without regard to case or surrounding spaces; columns not in
    `columns` are ignored (and named in the table, so the caller can say so).
    """
    text = _text(data)
    if not text.strip():
        raise ImportFileError("the file is empty: it needs a header row and at least one row of data")
    delimiter = _delimiter(text.split("\n", 1)[0], columns)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise ImportFileError(f"line {reader.line_num} is not valid CSV ({exc}); nothing was imported") from None
    header = [name.strip().lower() for name in records[0]]
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise ImportFileError(f"the header names these columns more than once: {', '.join(repeated)}")
    missing = [name for name in required if name not in header]
    if missing:
        raise ImportFileError(
            f"the header row lacks the required column(s) {', '.join(missing)}; "
            f"the columns are {', '.join(columns)} (a header row is required)"
        )
    ignored = tuple(name or f"(column {i + 1} has no name)" for i, name in enumerate(header) if name not in columns)
    rows = []
    for index, record in enumerate(records[1:], start=2):
        if not any(value.strip() for value in record):
            continue  # blank lines and rows of empty cells, as spreadsheets leave at the end
        problem = None
        # Empty cells beyond the header's columns are a spreadsheet's leftovers, not values.
        if len(record) < len(header) or any(value.strip() for value in record[len(header) :]):
            problem = f"this row has {len(record)} values but the header has {len(header)} columns"
        values = {name: value for name, value in zip(header, record, strict=False) if name in columns}
        rows.append(Row(index, values, problem, tuple(record)))
    if not rows:
        raise ImportFileError("the file has a header row but no rows of data")
    return Table(tuple(header), rows, ignored, tuple(records[0]), delimiter)


def _anonymous(value: str) -> bool:
    word = value.strip().lower()
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise ValueError("write yes or no (or true/false, 1/0), or leave it empty for no")


def submission_of(row: Row, *, departments: Sequence[str]) -> Submission | list[RowError]:
    """The row as a Submission, or every reason it cannot be one, so that one pass fixes the row."""
    if row.problem:
        return [RowError(row.number, "row", row.problem)]
    nul = "contains a NUL character (is this a binary file?)"
    problems = {name: nul for name, value in row.values.items() if "\x00" in value}
    fields: dict[str, object] = {name: value for name, value in row.values.items() if value.strip()}
    try:
        fields["anonymous"] = _anonymous(row.values.get("anonymous", ""))
    except ValueError as exc:
        problems["anonymous"] = str(exc)
        fields["anonymous"] = False
    submission = None
    try:
        submission = Submission.model_validate(fields)
    except ValidationError as exc:
        for detail in exc.errors():
            name = str(detail["loc"][0]) if detail["loc"] else "row"
            message = "required: this cell is empty" if detail["type"] == "missing" else detail["msg"]
            problems.setdefault(name, message.removeprefix("Value error, "))
    department = row.values.get("department", "").strip()
    if department and department not in departments:
        problems["department"] = f"choose one of: {', '.join(departments)}"
    if problems or submission is None:
        order = {name: i for i, name in enumerate(IDEA_COLUMNS)}
        return [RowError(row.number, name, problems[name]) for name in sorted(problems, key=lambda n: order.get(n, 99))]
    return submission


def source_of(submission: Submission) -> Source:
    """The same row (once validated and trimmed) always gets the same key, so a re-import creates nothing."""
    values = [
        submission.title,
        submission.problem,
        submission.idea,
        submission.benefit or "",
        submission.department or "",
        submission.theme or "",
        submission.name or "",
        submission.email,
        "yes" if submission.anonymous else "no",
    ]
    return Source(key="import:" + digest(*values), fingerprint=fingerprint_of(submission))


def import_ideas(
    rows: Iterable[Row],
    *,
    session_factory: sessionmaker[Session],
    departments: list[str],
    on_row: Callable[[Row], None] | None = None,
) -> ImportReport:
    """Validate and store each row in its own transaction; returns what happened to each."""
    report = ImportReport()
    for row in rows:
        outcome = submission_of(row, departments=departments)
        if isinstance(outcome, list):
            report.errors.extend(outcome)
        else:
            _store(session_factory, row, outcome, departments, report)
        if on_row is not None:
            on_row(row)
    log.info("import.finished", created=report.created, existing=report.existing, errors=report.rows_with_errors)
    return report


def _store(
    session_factory: sessionmaker[Session],
    row: Row,
    submission: Submission,
    departments: list[str],
    report: ImportReport,
) -> None:
    try:
        with unit_of_work(session_factory) as session:
            created = submit_idea(
                session, submission, channel="import", departments=departments, source=source_of(submission)
            )
    except InvalidSubmission as exc:
        report.errors.append(RowError(row.number, exc.field, exc.message))
    except Conflict as exc:
        report.errors.append(RowError(row.number, "row", str(exc)))
    except (DataError, IntegrityError) as exc:  # the database refused a value the model let through
        log.warning("import.row_refused", row=row.number, error=type(exc.orig).__name__)
        report.errors.append(RowError(row.number, "row", "the database refused this row; check it for odd characters"))
    else:
        if created.new:
            report.created += 1
        else:
            report.existing += 1
