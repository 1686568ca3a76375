"""`ideahub import ideas`: each good row once, each bad row named with its reason, a bad file refused whole."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from infra.cli import app
from infra.composition import Runtime
from services.intake.importer import ImportFileError, ImportReport, import_ideas, read_csv
from shared.config import Settings, load_settings
from shared.db.models import Idea, OutboxMessage
from shared.db.uow import unit_of_work
from tests.conftest import _create_postgres_database, _drop_postgres_database, postgres_available, unavailable

HEADER = "title,problem,idea,benefit,department,theme,name,email,anonymous\n"


@dataclass
class Database:
    settings: Settings
    runtime: Runtime
    env: dict[str, str]

    def run(self, text: str | bytes) -> ImportReport:
        data = text.encode() if isinstance(text, str) else text
        return import_ideas(
            read_csv(data).rows, session_factory=self.runtime.session_factory, departments=self.settings.departments
        )

    def ideas_titled(self, *titles: str) -> dict[str, Idea]:
        with unit_of_work(self.runtime.session_factory) as session:
            rows = session.scalars(select(Idea).where(Idea.title.in_(titles))).all()
            session.expunge_all()
        return {idea.title: idea for idea in rows}

    def count(self) -> int:
        with unit_of_work(self.runtime.session_factory) as session:
            return session.scalar(select(func.count()).select_from(Idea)) or 0

    def acknowledgements(self, idea_ids: list[int]) -> dict[int, int]:
        """idea.received.v1 events (from which the acknowledgement email is sent) per idea."""
        with unit_of_work(self.runtime.session_factory) as session:
            rows = session.execute(
                select(OutboxMessage.idea_id, func.count())
                .where(OutboxMessage.idea_id.in_(idea_ids), OutboxMessage.event_type == "idea.received.v1")
                .group_by(OutboxMessage.idea_id)
            ).all()
        return {idea_id: count for idea_id, count in rows}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated database; the import needs no broker."""
    from shared.db.migrate import upgrade

    data_dir = tmp_path_factory.mktemp(f"import-{request.param}")
    scratch = None
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'ideahub.db'}"
    else:
        reason = postgres_available()
        if reason:
            unavailable(reason)
        scratch, url = _create_postgres_database()
    upgrade(url)
    settings = load_settings(data_dir=data_dir, database_url=url, queue_prefix="import.")
    runtime = Runtime(settings)
    env = {"IDEAHUB_DATA_DIR": str(data_dir), "IDEAHUB_DATABASE_URL": url, "IDEAHUB_LOG_LEVEL": "WARNING"}
    try:
        yield Database(settings, runtime, env)
    finally:
        runtime.close()
        if scratch:
            _drop_postgres_database(scratch)


def csv_text(*rows: list[str], header: str = HEADER) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return header + out.getvalue()


def row(title: str, **fields: str) -> list[str]:
    values = {
        "problem": "The forms are long.",
        "idea": "Cut them down.",
        "benefit": "",
        "department": "Health",
        "theme": "",
        "name": "Jo Bloggs",
        "email": "jo@example.gov.uk",
        "anonymous": "no",
    } | fields
    return [title, *values.values()]


def test_each_row_becomes_one_acknowledged_idea_and_a_second_import_creates_nothing(database: Database) -> None:
    text = csv_text(
        row("Import A: shorter forms"),
        row("Import A: one login", department="", anonymous="YES", name=""),
        row("Import A: kiosk", benefit="Less queueing", theme="Digital", anonymous=""),
    )
    first = database.run(text)
    assert (first.created, first.existing, first.errors) == (3, 0, [])
    ideas = database.ideas_titled("Import A: shorter forms", "Import A: one login", "Import A: kiosk")
    assert {i.channel for i in ideas.values()} == {"import"}
    assert ideas["Import A: one login"].anonymous is True
    assert ideas["Import A: one login"].department is None
    assert ideas["Import A: kiosk"].benefit == "Less queueing"
    assert ideas["Import A: kiosk"].anonymous is False
    ids = [i.id for i in ideas.values()]
    assert database.acknowledgements(ids) == dict.fromkeys(ids, 1)

    # Again, with other spacing, header case and column order: the same rows, so nothing new.
    reordered = "EMAIL , Title,problem,idea,department,anonymous,name,benefit,theme\n" + "\n".join(
        f"  jo@example.gov.uk ,{title}  ,The forms are long.,Cut them down.,{dept},{anon},{name},{benefit},{theme}"
        for title, dept, anon, name, benefit, theme in (
            ("Import A: shorter forms", "Health", "no", "Jo Bloggs", "", ""),
            ("Import A: one login", "", "true", "", "", ""),
            ("Import A: kiosk", "Health", "0", "Jo Bloggs", "Less queueing", "Digital"),
        )
    )
    before = database.count()
    again = database.run(reordered)
    assert (again.created, again.existing, again.errors) == (0, 3, [])
    assert database.count() == before
    assert database.acknowledgements(ids) == dict.fromkeys(ids, 1)
    assert again.summary() == "0 created, 3 already imported, 0 rows with errors"


def test_broken_rows_are_reported_by_row_and_field_and_store_nothing_while_the_others_go_in(
    database: Database,
) -> None:
    text = csv_text(
        row("Import B: good one"),  # row 2
        row("Import B: no problem", problem="   "),  # 3
        row("Import B: bad email", email="jo at example"),  # 4
        row("Import B: unknown department", department="Ministry of Magic"),  # 5
        ["Import B: too few values", "p", "i"],  # 6
        row("Import B: nul", problem="bad\x00byte"),  # 7
        row("Import B: too long", idea="x" * 10_001),  # 8
        row("Import B: several", email="", anonymous="perhaps", department="Nowhere"),  # 9
        row('=HYPERLINK("http://evil.example","Import B: formula")', problem="+1+1", idea="@SUM(A1)"),  # 10
        row("Import B: <script>alert(1)</script>", problem="-2 <b>bold</b>"),  # 11
    )
    before = database.count()
    report = database.run(text)

    assert [(e.row, e.field) for e in report.errors] == [
        (3, "problem"),
        (4, "email"),
        (5, "department"),
        (6, "row"),
        (7, "problem"),
        (8, "idea"),
        (9, "department"),
        (9, "email"),
        (9, "anonymous"),
    ]
    messages = {(e.row, e.field): e.message for e in report.errors}
    assert messages[(3, "problem")] == "required: this cell is empty"
    assert "like name@example.gov.uk" in messages[(4, "email")]
    assert messages[(5, "department")].startswith("choose one of: Benefits, Health")
    assert messages[(6, "row")] == "this row has 3 values but the header has 9 columns"
    assert "NUL" in messages[(7, "problem")]
    assert "10000 characters" in messages[(8, "idea")]
    assert (report.created, report.existing, report.rows_with_errors) == (3, 0, 7)
    assert database.count() == before + 3

    stored = database.ideas_titled(
        "Import B: good one",
        '=HYPERLINK("http://evil.example","Import B: formula")',
        "Import B: <script>alert(1)</script>",
    )
    assert len(stored) == 3
    formula = stored['=HYPERLINK("http://evil.example","Import B: formula")']
    assert (formula.problem, formula.proposal) == ("+1+1", "@SUM(A1)")  # stored as given, as text
    assert stored["Import B: <script>alert(1)</script>"].problem == "-2 <b>bold</b>"


def test_a_spreadsheet_export_with_a_bom_semicolons_and_extra_columns_is_read(database: Database) -> None:
    text = "\ufeffTitle;Problem;Idea;Email;Notes\r\nImport C: semicolons;p;i;c@example.gov.uk;ours only\r\n;;;;\r\n"
    table = read_csv(text.encode())
    assert table.ignored_columns == ("notes",)
    assert [(r.number, r.values) for r in table.rows] == [
        (2, {"title": "Import C: semicolons", "problem": "p", "idea": "i", "email": "c@example.gov.uk"})
    ]
    assert database.run(text).created == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\n \n", "the file is empty"),
        (HEADER.encode(), "a header row but no rows of data"),
        (b"title,problem,idea\nT,P,I\n", "lacks the required column(s) email"),
        (b"Shorter forms,Forms are long,Cut them,a@example.gov.uk\n", "lacks the required column(s) title"),
        ("title,problem,idea,email\nT,P,Caf\xe9,a@b.gov.uk\n".encode("latin-1"), "not UTF-8 text (byte 33"),
        ("title,problem,idea,email\n".encode("utf-16"), "not UTF-8"),
        (b'title,problem,idea,email\nT,"P,I,e@x.gov.uk\n', "line 2 is not valid CSV"),
        (b"title,problem,title,email\nT,P,T,e@x.gov.uk\n", "more than once: title"),
        (b'{"title": "T", "problem": "P"}', "lacks the required column(s)"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_whole(data: bytes, message: str) -> None:
    with pytest.raises(ImportFileError) as refused:
        read_csv(data)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def invoke(database: Database, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={**database.env, "COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_the_command_reports_each_bad_row_and_exits_1_then_0_once_the_rows_are_in(
    database: Database, tmp_path: Path
) -> None:
    source = tmp_path / "ideas.csv"
    source.write_text(csv_text(row("Import D: fine"), row("Import D: bad", email="nope"), row("Import D: also fine")))

    code, out, err = invoke(database, "import", "ideas", str(source))
    assert code == 1, err
    assert "Rows with errors" in out
    assert "│   3 │ email" in out
    assert "2 created, 0 already imported, 1 rows with errors." in out

    source.write_text(csv_text(row("Import D: fine"), row("Import D: also fine")))
    code, out, err = invoke(database, "import", "ideas", str(source))
    assert code == 0, err
    assert "0 created, 2 already imported, 0 rows with errors." in out
    assert "Rows with errors" not in out


def read_rows(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file, delimiter=delimiter))


def test_the_errors_file_holds_the_failed_rows_as_read_to_be_corrected_and_imported_again(
    database: Database, tmp_path: Path
) -> None:
    source = tmp_path / "ideas.csv"
    source.write_text(  # as a spreadsheet might save it: semicolons, its own header case, a column of notes
        "Title;Problem;Idea;Email;Department;Notes\n"
        "Import E: fine;Forms are long;Cut them;jo@example.gov.uk;Health;keep\n"  # row 2
        "Import E: bad email;Forms are long;Cut them;jo at example;Health;ask Jo\n"  # 3
        "Import E: two faults; ;Cut them;jo@example.gov.uk;Ministry of Magic;\n"  # 4
        "Import E: too short;Forms are long\n"  # 5
        "Import E: also fine;Forms are long;Cut them;jo@example.gov.uk;;\n"  # 6
    )
    errors = tmp_path / "errors.csv"
    code, out, err = invoke(database, "import", "ideas", str(source), "--errors", str(errors))
    assert code == 1, err
    assert "2 created, 0 already imported, 3 rows with errors." in out

    header, *failed = read_rows(errors, delimiter=";")
    assert header == ["row", "errors", "Title", "Problem", "Idea", "Email", "Department", "Notes"]
    assert [line[0] for line in failed] == ["3", "4", "5"]
    assert failed[0] == [
        "3",
        "email: enter an email address in the correct format, like name@example.gov.uk",
        "Import E: bad email",
        "Forms are long",
        "Cut them",
        "jo at example",
        "Health",
        "ask Jo",
    ]
    problem, department = failed[1][1].split("; ", 1)
    assert problem == "problem: required: this cell is empty"
    assert department.startswith("department: choose one of: Benefits, Health")
    assert failed[1][2:] == ["Import E: two faults", " ", "Cut them", "jo@example.gov.uk", "Ministry of Magic", ""]
    assert failed[2] == [
        "5",
        "row: this row has 2 values but the header has 6 columns",
        "Import E: too short",
        "Forms are long",
    ]

    # Corrected where they are (one of them wrongly), the rows go in; the row and errors columns are ignored.
    corrected = [
        ["3", "", "Import E: bad email", "Forms are long", "Cut them", "jo@example.gov.uk", "Health", "ask Jo"],
        ["4", "", "Import E: two faults", "Forms are long", "Cut them", "jo@example.gov.uk", "Health", ""],
        ["5", "", "Import E: too short", "Forms are long", "Cut them", "jo at example", "", ""],
    ]
    with errors.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file, delimiter=";").writerows([header, *corrected])
    again = tmp_path / "errors-again.csv"
    code, out, err = invoke(database, "import", "ideas", str(errors), "--errors", str(again))
    assert code == 1, out + err
    assert "2 created, 0 already imported, 1 rows with errors." in out
    assert "Ignored column(s) not in the format: row, errors, notes" in err
    # The same shape again: the earlier row and errors columns are replaced, not kept beside the new ones.
    assert read_rows(again, delimiter=";") == [header, ["4", failed[0][1], *corrected[2][2:]]]
    assert set(database.ideas_titled(*(line[2] for line in corrected))) == {
        "Import E: bad email",
        "Import E: two faults",
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "ideas.csv: the file is empty"),
        (b"title,problem\nT,P\n", "ideas.csv: the header row lacks the required column(s) idea, email"),
        (b"\xff\xfet\x00i\x00t\x00", "ideas.csv: the file is not UTF-8 text"),
    ],
)
def test_a_bad_file_is_one_red_line_exit_2_and_stores_nothing(
    database: Database, tmp_path: Path, content: bytes, expected: str
) -> None:
    source = tmp_path / "ideas.csv"
    source.write_bytes(content)
    before = database.count()
    code, out, err = invoke(database, "import", "ideas", str(source))
    assert code == 2
    assert err.strip().startswith(expected)
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err
    assert database.count() == before


def test_a_missing_file_is_one_red_line_exit_2(database: Database, tmp_path: Path) -> None:
    code, _, err = invoke(database, "import", "ideas", str(tmp_path / "absent.csv"))
    assert code == 2
    assert "absent.csv" in err
    assert "Traceback" not in err


def test_people_are_imported_once_with_their_mistakes_reported(database: Database, tmp_path: Path) -> None:
    source = tmp_path / "people.csv"
    source.write_text(
        "Email,Name,Role,Department,Capacity\n"
        "rae.import@example.gov.uk,Rae Reviewer,reviewer,Health,\n"  # 2
        "sol.import@example.gov.uk,Sol Sponsor,sponsor,,5\n"  # 3
        "kim.import@example.gov.uk,Kim,boss,,\n"  # 4
        "not-an-address,Nobody,reviewer,,\n"  # 5
        "lee.import@example.gov.uk,Lee,sponsor,,-1\n"  # 6
    )
    errors = tmp_path / "errors.csv"
    code, out, err = invoke(database, "import", "people", str(source), "--errors", str(errors))
    assert code == 1, err
    assert "2 created, 0 already imported, 3 rows with errors." in out
    header, *failed = read_rows(errors)
    assert header == ["row", "errors", "Email", "Name", "Role", "Department", "Capacity"]
    assert failed == [
        ["4", "row: role must be one of reviewer, sponsor, admin", "kim.import@example.gov.uk", "Kim", "boss", "", ""],
        ["5", "email: enter an email address like name@example.gov.uk", "not-an-address", "Nobody", "reviewer", "", ""],
        [
            "6",
            "capacity: Input should be greater than or equal to 0",
            "lee.import@example.gov.uk",
            "Lee",
            "sponsor",
            "",
            "-1",
        ],
    ]

    code, out, _ = invoke(database, "import", "people", str(source))
    assert code == 1
    assert "0 created, 2 already imported, 3 rows with errors." in out
