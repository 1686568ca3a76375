"""Reading an email: one MIME message in, its sender, title, text, attachments and reply markers out.

Parsing never raises: a part it cannot read is left out, or named as not kept, and a message it
cannot make anything of raises `Unusable` with a reason in plain words (from `submission_of`).
Uses the standard library's modern email API; nothing here touches the database.
"""

from services.intake.mime.attachments import in_units, safe_filename
from services.intake.mime.headers import TITLE_LIMIT, one_line
from services.intake.mime.parsing import TEXT_LIMIT, Parsed, message_key, parse
from services.intake.mime.replies import reference_in, without_quotes
from services.intake.mime.submission import Unusable, sections, shorten, submission_of, title_of
from services.intake.mime.text import html_to_text, normalise_text

__all__ = [
    "TEXT_LIMIT",
    "TITLE_LIMIT",
    "Parsed",
    "Unusable",
    "html_to_text",
    "in_units",
    "message_key",
    "normalise_text",
    "one_line",
    "parse",
    "reference_in",
    "safe_filename",
    "sections",
    "shorten",
    "submission_of",
    "title_of",
    "without_quotes",
]
