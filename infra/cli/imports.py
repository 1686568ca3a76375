"""`ideahub import ideas|people FILE.csv`: bulk import with a progress bar and a per-row error report."""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from infra.cli import tables
from infra.cli.common import console, database_ready, err, fail, settings

if TYPE_CHECKING:
    from services.intake.importer import ImportReport
    from services.intake.importer import Table as CsvTable

app = typer.Typer(help="Bulk import from CSV files, with a per-row error report.", no_args_is_help=True)

CsvFile = Annotated[Path, typer.Argument(help="A CSV file with a header row, UTF-8.", dir_okay=False)]
ErrorsFile = Annotated[
    Path | None,
    typer.Option(
        "--errors",
        help=(
            "Also write the rows that failed to this CSV file, as read (every column, in order), after two columns: "
            "row, its number in FILE (the header is row 1), and errors, its messages as 'field: message; ...'. "
            "Correct them there and import that file (its row and errors columns are ignored)."
        ),
        dir_okay=False,
    ),
]
PEOPLE_COLUMNS = ("email", "name", "role", "department", "themes", "interests", "capacity")
FAILED_ROW_COLUMNS = ("row", "errors")  # before the columns of each row in an --errors file


def _import_table(path: Path, **format_: Any) -> CsvTable:
    """The whole file, checked before anything is stored: a file that cannot be imported is one red line, exit 2."""
    from services.intake.importer import ImportFileError, read_csv

    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"Cannot read {path}: {exc.strerror}")
    try:
        table = read_csv(data, **format_)
    except ImportFileError as exc:
        fail(f"{path.name}: {exc}")
    if table.ignored_columns:
        err.print(f"Ignored column(s) not in the format: {', '.join(table.ignored_columns)}", markup=False)
    return table


def _open_errors_file(path: Path | None) -> IO[str] | None:
    """Opened before the import, so that a path that cannot be written stops it before anything is stored."""
    if path is None:
        return None
    try:
        return path.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        fail(f"Cannot write {path}: {exc.strerror}")


def _import_report(report: ImportReport, table: CsvTable, errors_file: IO[str] | None) -> None:
    """The rows with errors as a table (and in the errors file), the counts, and exit 1 if any row failed."""
    if report.errors:
        console.print(tables.import_errors(report.errors))
    if errors_file is not None:
        with errors_file:
            write_failed_rows(errors_file, table, report)
    console.print(report.summary() + ".", markup=False)
    raise typer.Exit(1 if report.errors else 0)


def write_failed_rows(file: IO[str], table: CsvTable, report: ImportReport) -> None:
    """The rows that failed, each as read (every column, in the file's order and with its delimiter), after
    `row` (its number in the file) and `errors` (`field: message; ...`): a file to correct and import again.

    The importer ignores columns called row and errors; those of a file that is itself such a file are
    replaced, so that importing it again writes a file of the same shape.
    """
    import csv

    messages: dict[int, list[str]] = {}
    for error in report.errors:
        messages.setdefault(error.row, []).append(f"{error.field}: {error.message}")
    kept = [i for i, name in enumerate(table.header) if name.strip().lower() not in FAILED_ROW_COLUMNS]
    writer = csv.writer(file, delimiter=table.delimiter)
    writer.writerow([*FAILED_ROW_COLUMNS, *(table.header[i] for i in kept)])
    for row in table.rows:
        if row.number in messages:
            beyond = row.cells[len(table.header) :]  # values past the header's columns, as read
            cells = [row.cells[i] for i in kept if i < len(row.cells)]
            writer.writerow([row.number, "; ".join(messages[row.number]), *cells, *beyond])


@app.command("ideas")
def import_ideas(file: CsvFile, errors: ErrorsFile = None) -> None:
    """Import ideas: columns title, problem, idea, email (required), benefit, department, theme, name, anonymous.

    Each row is stored on its own, as if submitted: its submitter is acknowledged. A second import creates nothing.
    """
    from rich.progress import Progress

    from infra.composition import Runtime
    from services.intake import importer

    s = settings()
    database_ready(s)
    table = _import_table(file)
    errors_file = _open_errors_file(errors)
    runtime = Runtime(s, pool_size=1)
    try:
        with Progress(console=err) as progress:
            task = progress.add_task("Importing ideas", total=len(table.rows))
            report = importer.import_ideas(
                table.rows,
                session_factory=runtime.session_factory,
                departments=s.departments,
                on_row=lambda _row: progress.advance(task),
            )
    finally:
        runtime.close()
    _import_report(report, table, errors_file)


@app.command("people")
def import_people(file: CsvFile, errors: ErrorsFile = None) -> None:
    """Import staff: columns email, name, role (reviewer, sponsor or admin; required), department, themes,
    interests, capacity. Someone already registered (by email) is left as they are."""
    from rich.progress import Progress

    from infra import people
    from services.intake.importer import ImportReport, RowError

    s = settings()
    database_ready(s)
    table = _import_table(file, columns=PEOPLE_COLUMNS, required=("email", "name", "role"))
    errors_file = _open_errors_file(errors)
    report = ImportReport()
    with Progress(console=err) as progress:
        task = progress.add_task("Importing people", total=len(table.rows))
        for row in table.rows:
            progress.advance(task)
            if row.problem:
                report.errors.append(RowError(row.number, "row", row.problem))
                continue
            nul = [name for name, value in row.values.items() if "\x00" in value]
            if nul:
                report.errors += [RowError(row.number, name, "contains a NUL character") for name in nul]
                continue
            try:
                people.add(s, **{name: value for name, value in row.values.items() if value.strip()})
            except people.PeopleError as exc:
                if str(exc).endswith("is already registered"):
                    report.existing += 1
                    continue
                for part in str(exc).split("; "):  # "field: message; field: message", or one sentence
                    name, _, message = part.partition(": ")
                    known = name in PEOPLE_COLUMNS and message
                    report.errors.append(RowError(row.number, name if known else "row", message if known else part))
            else:
                report.created += 1
    _import_report(report, table, errors_file)
