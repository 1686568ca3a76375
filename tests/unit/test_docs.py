"""The documentation says what the code does: the configuration page is generated from the settings, and
every link between the Markdown files names a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic.fields import FieldInfo

from infra import config_docs
from shared.config import Duration, Rate, Settings

ROOT = Path(__file__).resolve().parents[2]
FIELDS = sorted(Settings.model_fields.items())


def test_the_configuration_page_is_what_the_settings_descriptions_make():
    current = config_docs.PAGE.read_text(encoding="utf-8")
    assert current == config_docs.page(current), (
        "docs/configuration.md differs from the settings in shared/config.py: "
        f"run `.venv/bin/{config_docs.COMMAND}` and commit the page"
    )


@pytest.mark.parametrize(("name", "field"), FIELDS, ids=[name for name, _ in FIELDS])
def test_every_setting_has_a_description(name: str, field: FieldInfo):
    assert (field.description or "").strip(), (
        f"Settings.{name} has no description: give it Field(..., description='...'), "
        f"then run `.venv/bin/{config_docs.COMMAND}`"
    )


@pytest.mark.parametrize(("name", "field"), FIELDS, ids=[name for name, _ in FIELDS])
def test_every_setting_is_in_a_section_of_the_page(name: str, field: FieldInfo):
    assert config_docs.group(field), f"Settings.{name} has no json_schema_extra group (one of those in shared/config)"


def test_every_setting_is_listed_once_on_the_page():
    page = config_docs.PAGE.read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert page.count(f"| `{config_docs.variable(name)}` |") == 1, name


@pytest.mark.parametrize(
    ("name", "field", "expected"),
    [
        ("review_deadline", FieldInfo(default=Duration(10, "d"), description="x"), "`10d`"),
        ("api_rate_limit", FieldInfo(default=Rate(120, 60), description="x"), "`120/minute`"),
        ("departments", FieldInfo(default=["A", "B"], description="x"), "`A, B`"),
        ("max_message_bytes", FieldInfo(default=10 * 1024 * 1024, description="x"), "`10 MiB`"),
        ("max_request_bytes", FieldInfo(default=256 * 1024, description="x"), "`256 KiB`"),
        ("relay_idle_ms", FieldInfo(default=20, description="x"), "`20`"),
        ("poll_seconds", FieldInfo(default=60.0, description="x"), "`60`"),
        ("threshold", FieldInfo(default=0.5, description="x"), "`0.5`"),
        (
            "smtp_url",
            FieldInfo(default=None, description="Where mail goes. Unset: files in a folder."),
            "unset: files in a folder",
        ),
        ("secret", FieldInfo(default=None, description="A key."), "unset"),
        ("domains", FieldInfo(default=[], description="Domains. Empty: any domain."), "empty: any domain"),
        ("prefix", FieldInfo(default="", description="A prefix."), "empty"),
    ],
)
def test_a_default_is_shown_as_its_variable_would_spell_it(name: str, field: FieldInfo, expected: str):
    assert config_docs.default_cell(name, field) == expected


def test_what_an_empty_default_means_is_shown_once_in_the_default_column():
    field = FieldInfo(default=None, description="Where mail goes. Unset: files in a folder.")
    assert config_docs.meaning_cell(field) == "Where mail goes."


def test_the_choices_of_a_setting_come_from_its_type():
    assert config_docs.meaning_cell(Settings.model_fields["log_level"]).endswith(
        "One of `DEBUG`, `INFO`, `WARNING`, `ERROR`."
    )


def test_a_page_without_its_marker_line_is_refused_with_the_line_to_add():
    with pytest.raises(ValueError, match="marker line"):
        config_docs.page("# Configuration\n\nNo table here.\n")


def test_the_introduction_above_the_marker_is_kept():
    made = config_docs.page(f"# Hand written\n\n{config_docs.MARKER}\n\nold table\n")
    assert made.startswith(f"# Hand written\n\n{config_docs.MARKER}\n\n## ")
    assert "old table" not in made


MARKDOWN = sorted(path.relative_to(ROOT) for path in [*ROOT.glob("*.md"), *ROOT.glob("docs/**/*.md")] if path.is_file())
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("document", MARKDOWN, ids=[str(path) for path in MARKDOWN])
def test_every_link_between_the_repository_files_names_one_that_exists(document: Path):
    text = (ROOT / document).read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a web address, or a heading of the same page
        path = target.split("#", 1)[0]
        if not (ROOT / document).parent.joinpath(path).resolve().exists():
            broken.append(target)
    assert not broken, f"{document} links to files that do not exist (moved or renamed?): {broken}"
