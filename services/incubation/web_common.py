"""What incubation's staff pages share: their `Pages`, who may open them, and reading what was typed.

Dates are typed GOV.UK style, as a day, a month and a year; sums and counts as numbers, with or without a
pound sign or thousands commas. What the service accepts is still decided by its pydantic models; these
helpers only turn form fields into what the models take, and the models' refusals into plain words at the
field that caused them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from shared.principal import Principal
from shared.web import pages
from shared.web.deps import require

PAGES = pages.Pages(
    "services.incubation",
    site_name="Ideahub staff",
    home_url="/staff",
    private=True,
    forbidden="It is for sponsors and administrators.",
    navigation=True,
)
SponsorOrAdmin = Annotated[Principal, Depends(require("sponsor", "admin"))]
Admin = Annotated[Principal, Depends(require("admin"))]
# An idea's reference (IH-2026-000123); anything else names no idea, and is not looked up.
Reference = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9-]+$")]

M = TypeVar("M", bound=BaseModel)
CONTROL_CHARACTERS = "Remove the control characters (such as NUL) from the text: they cannot be stored"


def govuk_date(value: date) -> str:
    """`5 January 2027`: how GOV.UK writes a date."""
    return f"{value.day} {value:%B %Y}"


def plain_number(value: float | int | None) -> str:
    """A number as it is typed back into a form: `1500`, `12.5`; nothing for None."""
    if value is None:
        return ""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def pounds(value: float) -> str:
    """`£12,000`, or `£12,000.50` when there are pence."""
    return f"£{value:,.0f}" if float(value).is_integer() else f"£{value:,.2f}"


def number(value: float | int) -> str:
    """`4,000`, `12.5`."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")


FILTERS = {"govuk_date": govuk_date, "pounds": pounds, "number": number}


def render(request: Request, template: str, context: Mapping[str, Any], *, status_code: int = 200) -> Response:
    """A page of this area, with the date and number filters its templates use."""
    environment = pages.environment(PAGES.package, PAGES.templates)
    for name, function in FILTERS.items():
        environment.filters.setdefault(name, function)
    return PAGES.render(request, template, context, status_code=status_code)


def status_of(*, errors: Mapping[str, str] | None, conflict: str | None) -> int:
    return 422 if errors else 409 if conflict else 200


# --- numbers --------------------------------------------------------------------------------------------------------

_NUMBER_NOISE = re.compile(r"[\s,£]")


def typed_number(form: Mapping[str, str], name: str) -> str | None:
    """A number field as the model should read it: empty is None; spaces, commas and a pound sign dropped."""
    raw = _NUMBER_NOISE.sub("", form.get(name, ""))
    return raw or None


def typed_text(form: Mapping[str, str], name: str) -> str | None:
    """An optional text field: empty (or only spaces) is None."""
    value = form.get(name, "")
    return value if value.strip() else None


# --- dates ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateProblem:
    anchor: str  # the id of the first input to fix, for the error summary's link
    message: str
    parts: tuple[str, ...]  # the inputs to mark: day, month, year


def typed_date(form: Mapping[str, str], prefix: str, named: str) -> date | DateProblem:
    """The date typed in a GOV.UK date input (`PREFIX-day`, `-month`, `-year`), or what is wrong with it.

    `named` is how messages name the date: "The due date".
    """
    parts = {part: form.get(f"{prefix}-{part}", "").strip() for part in ("day", "month", "year")}
    missing = [part for part, value in parts.items() if not value]
    if len(missing) == 3:
        return DateProblem(f"{prefix}-day", f"Enter {named[0].lower()}{named[1:]}", ("day", "month", "year"))
    if missing:
        listed = " and ".join(f"a {part}" for part in missing)
        return DateProblem(f"{prefix}-{missing[0]}", f"{named} must include {listed}", tuple(missing))
    if not all(value.isdigit() for value in parts.values()):
        return DateProblem(f"{prefix}-day", f"{named} must be a real date, in numbers", ("day", "month", "year"))
    if len(parts["year"]) != 4:
        return DateProblem(f"{prefix}-year", "The year must include 4 numbers", ("year",))
    try:
        return date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except ValueError:
        return DateProblem(f"{prefix}-day", f"{named} must be a real date", ("day", "month", "year"))


def date_fields(prefix: str, value: date | None) -> dict[str, str]:
    """A date as the three fields of a date input, to fill a form with."""
    if value is None:
        return {}
    return {f"{prefix}-day": str(value.day), f"{prefix}-month": str(value.month), f"{prefix}-year": str(value.year)}


# --- the models' refusals, in plain words ---------------------------------------------------------------------------


def checked(model: type[M], body: Mapping[str, Any], messages: Mapping[str, str]) -> M | dict[str, str]:
    """The model made from `body`, or an error message for each field it refused, in the order of `messages`.

    A field that holds an email address where none may be gets the model's own reason. A refusal that names
    no field (a rule across fields) is the caller's to word before calling, so it is not repeated here.
    """
    try:
        return model.model_validate(dict(body))
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            if name not in messages:
                continue
            said = str(error.get("msg", ""))
            if "email address" in said:
                errors.setdefault(name, "Take out the email address: a case study is public, so it must not have one")
            elif "control characters" in said:
                errors.setdefault(name, CONTROL_CHARACTERS)
            else:
                errors.setdefault(name, messages[name])
        if not errors:  # a rule the caller did not word: still refused, never saved
            return {"": "Check what you typed, then try again"}
        order = list(messages)
        return dict(sorted(errors.items(), key=lambda item: order.index(item[0])))
