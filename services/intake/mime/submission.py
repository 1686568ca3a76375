"""From a parsed message to a `Submission`: labelled sections, the title, the department, plain-word errors."""

from __future__ import annotations

import re

from pydantic import ValidationError

from services.intake.mime.headers import REPLY_PREFIX, TITLE_LIMIT, one_line
from services.intake.mime.parsing import Parsed
from services.intake.schemas import Submission
from shared.config import Settings

THEME_LIMIT = 100  # the column's width (the Submission model allows 200)


_LABELS = {
    "problem": "problem",
    "the problem": "problem",
    "idea": "idea",
    "my idea": "idea",
    "the idea": "idea",
    "proposal": "idea",
    "benefit": "benefit",
    "benefits": "benefit",
    "expected benefit": "benefit",
    "department": "department",
    "theme": "theme",
    "anonymous": "anonymous",
}
_LABEL_LINE = re.compile(rf"^\s*({'|'.join(sorted(_LABELS, key=len, reverse=True))})\s*:\s*(.*)$", re.IGNORECASE)


class Unusable(Exception):
    """The message cannot become what it looks like; the reason is told to its sender in plain words."""


def sections(text: str) -> tuple[str, dict[str, str]]:
    """Text before any label, and each labelled section ("Problem:", "Idea:", ...) by its name."""
    found: dict[str, list[str]] = {}
    preamble: list[str] = []
    current: list[str] = preamble
    for line in text.split("\n"):
        match = _LABEL_LINE.match(line)
        if match:
            current = found.setdefault(_LABELS[match[1].lower()], [])
            if match[2].strip():
                current.append(match[2].strip())
            continue
        current.append(line)
    return "\n".join(preamble).strip(), {k: "\n".join(v).strip() for k, v in found.items()}


def shorten(text: str, limit: int = TITLE_LIMIT) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:.-") + "…"


def title_of(subject: str, text: str) -> str:
    title = REPLY_PREFIX.sub("", subject).strip()
    if not title:
        title = next((line.strip() for line in text.split("\n") if line.strip()), "")
        title = one_line(title.lstrip("> "))
    return shorten(title)


def _department(value: str, departments: list[str]) -> str:
    for known in departments:
        if known.lower() == value.strip().lower():
            return known
    raise Unusable(f'we do not know the department "{shorten(value, 60)}": write one of {", ".join(departments)}')


def _anonymous(value: str) -> bool:
    word = value.strip().lower().rstrip(".")
    if word in ("yes", "y", "true"):
        return True
    if word in ("no", "n", "false", ""):
        return False
    raise Unusable(f'we could not tell what "Anonymous: {shorten(one_line(value), 40)}" means: write yes or no')


_FIELD_WORDS = {
    "title": "the subject",
    "problem": "the problem",
    "idea": "the idea",
    "benefit": "the benefit",
    "theme": "the theme",
    "email": "your email address",
    "name": "your name",
}


def _plain_words(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = _FIELD_WORDS.get(str(error["loc"][0]) if error["loc"] else "", "a field")
        if error["type"] == "string_too_long":
            limit = (error.get("ctx") or {}).get("max_length")
            problems.append(f"{where} is too long (at most {limit:,} characters)")
        elif error["type"] == "string_too_short":
            problems.append(f"{where} is empty")
        else:
            problems.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
    return "; ".join(problems)


def submission_of(parsed: Parsed, settings: Settings) -> Submission:
    """The idea a message holds, or Unusable with the reason."""
    if not parsed.text:
        if parsed.attachments or parsed.attachments_refused:
            raise Unusable("your email had files but no text: write your idea in the email itself")
        raise Unusable("we could not find any text in your email")
    preamble, found = sections(parsed.text)
    idea = found.get("idea") or preamble or found.get("problem")
    if not idea:
        raise Unusable('we could not find your idea in your email: write it in the text, or after "Idea:"')
    problem = found.get("problem") or idea.split("\n\n", 1)[0].strip()
    fields: dict[str, object] = {
        "title": title_of(parsed.subject, idea),
        "problem": problem,
        "idea": idea,
        "benefit": found.get("benefit") or None,
        "name": parsed.sender_name,
        "email": parsed.sender or "",
        "anonymous": _anonymous(found["anonymous"]) if "anonymous" in found else False,
    }
    if found.get("department"):
        fields["department"] = _department(one_line(found["department"]), settings.departments)
    if found.get("theme"):
        theme = one_line(found["theme"])
        if len(theme) > THEME_LIMIT:
            raise Unusable(f"the theme is too long (at most {THEME_LIMIT} characters)")
        fields["theme"] = theme
    try:
        return Submission.model_validate(fields)
    except ValidationError as exc:
        raise Unusable(_plain_words(exc)) from None
