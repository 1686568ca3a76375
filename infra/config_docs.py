"""The configuration page, docs/configuration.md, generated from the settings' own descriptions.

`python -m infra.config_docs` rewrites the page below its marker line, keeping the hand-written
introduction above it; `--check` only says whether the page is up to date (exit 1 if not). The
table lists every field of `shared.config.Settings`: its variable, its default in the form the
variable takes, and its description, in sections named by each field's `group`.
"""

from __future__ import annotations

import sys
import typing
from enum import Enum
from pathlib import Path

from pydantic.fields import FieldInfo

from shared.config import ENV_PREFIX, Settings

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
COMMAND = "python -m infra.config_docs"
MARKER = f"<!-- Generated below from the descriptions in shared/config.py by `{COMMAND}`: edit those, not this. -->"
# A description may end by saying what its empty default means: shown in the default column, not repeated.
_EMPTY_MEANS = (" Unset: ", " Empty: ")


def variable(name: str) -> str:
    return f"{ENV_PREFIX}{name.upper()}"


def group(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    found = extra.get("group") if isinstance(extra, dict) else None
    return found if isinstance(found, str) else ""


def _bytes(amount: int) -> str:
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if amount >= size and amount % size == 0:
            return f"{amount // size} {unit}"
    return f"{amount:,} bytes"


def _plain(value: object, name: str) -> str:
    """A default as the environment variable would spell it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and name.endswith("_bytes"):
        return _bytes(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)  # Duration (`10d`), Rate (`120/minute`), Path, str, int


def split_description(description: str) -> tuple[str, str | None, str | None]:
    """(meaning, `unset` or `empty`, what that means): `... Unset: X.` gives `unset` and `X`."""
    for marker in _EMPTY_MEANS:
        meaning, found, empty = description.partition(marker)
        if found:
            return meaning.strip(), marker.strip(" :").lower(), empty.strip().removesuffix(".")
    return description.strip(), None, None


def default_cell(name: str, field: FieldInfo) -> str:
    _, word, meaning_of_empty = split_description(field.description or "")
    value = field.get_default(call_default_factory=True)
    if value is None or value == "" or value == []:
        word = word or ("unset" if value is None else "empty")
        return f"{word}: {meaning_of_empty}" if meaning_of_empty else word
    return f"`{_plain(value, name)}`"


def meaning_cell(field: FieldInfo) -> str:
    meaning = split_description(field.description or "")[0]
    if typing.get_origin(field.annotation) is typing.Literal:
        meaning += " One of " + ", ".join(f"`{choice}`" for choice in typing.get_args(field.annotation)) + "."
    return meaning


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table() -> str:
    """Every setting, in sections by group, in the order the groups first appear in Settings."""
    sections: dict[str, list[str]] = {}
    for name, field in Settings.model_fields.items():
        row = f"| `{variable(name)}` | {_cell(default_cell(name, field))} | {_cell(meaning_cell(field))} |"
        sections.setdefault(group(field) or "Other", []).append(row)
    parts = []
    for title, rows in sections.items():
        parts.append(f"## {title}\n\n| variable | default | meaning |\n|---|---|---|\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)


def page(current: str) -> str:
    """The page with its introduction (everything down to the marker line) kept and the table made anew."""
    introduction, found, _ = current.partition(MARKER)
    if not found:
        raise ValueError(f"{PAGE.name} has no marker line; put this line under its introduction:\n{MARKER}")
    return f"{introduction}{MARKER}\n\n{table()}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    current = PAGE.read_text(encoding="utf-8")
    wanted = page(current)
    if "--check" in args:
        if current != wanted:
            sys.stderr.write(f"docs/configuration.md is out of date: run `{COMMAND}`\n")
            return 1
        return 0
    if current != wanted:
        PAGE.write_text(wanted, encoding="utf-8")
        sys.stderr.write("docs/configuration.md rewritten\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
