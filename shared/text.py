"""Text people type, checked the same on every database: no NUL and no other control characters.

PostgreSQL refuses a NUL in a text value (SQLite stores it), and no form or email a person writes holds
control characters other than line breaks and tabs; such input is refused with a clear message (422 in
the API, an error at the field on a page) rather than stored on one database and a 500 on another.
"""

from __future__ import annotations

import re

from pydantic import AfterValidator

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    """Whether `value` holds a character no form or email a person writes holds (line breaks and tabs are fine)."""
    return _CONTROL.search(value) is not None


def _printable(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("remove the control characters (such as NUL) from the text")
    return value


# Put in an `Annotated[str, ...]` after its StringConstraints: `Annotated[str, StringConstraints(...), Printable]`.
Printable = AfterValidator(_printable)
