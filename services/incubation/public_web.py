"""Case studies in public: the list with its filters, one case study and its print view, and the Atom feed.

Anyone may read them, and every visitor gets the same answer: no staff header and no cookie, so that any cache
may keep it for a few minutes (`Cache-Control: public`). They show only what `case_studies` publishes (a
`CaseStudyView`: the write-up, and a credit that names the submitter only with their consent, never an anonymous
one). The feed is made by a template under XML escaping, so every value in it is escaped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from services.incubation import case_studies
from services.incubation.case_studies import Filters
from services.incubation.schemas import Benefits, CaseStudyView
from shared.clock import utcnow
from shared.errors import NotFound
from shared.paging import DEFAULT_SIZE, PageRequest
from shared.web import pages
from shared.web.deps import settings_of, uow
from shared.web.paging import Paging
from shared.web.params import Slug

TEMPLATES = "templates/case_studies"
PAGES = pages.Pages("services.incubation", templates=TEMPLATES, site_name="Ideahub", home_url="/ideas/new")
router = PAGES.router()

# The same for everyone and public: a withdrawn case study is gone from caches within five minutes.
PUBLIC = {"Cache-Control": "public, max-age=300"}
FEED_SIZE = 20
ATOM = "application/atom+xml; charset=utf-8"
RESULTS = {"implemented": ("Implemented", "govuk-tag--green"), "closed": ("Closed with lessons", "govuk-tag--grey")}

# Our own small stylesheet (how a printed case study looks), served from this package, never from a CDN. Its
# address carries a hash of its content, so that it may be cached for a day and a new version is fetched at once.
_CSS = (resources.files("services.incubation") / TEMPLATES / "case-studies.css").read_bytes()
STYLESHEET_PATH = "/assets-local/case-studies.css"
STYLESHEET_URL = f"{STYLESHEET_PATH}?v={hashlib.sha256(_CSS).hexdigest()[:12]}"

# Characters XML 1.0 cannot carry at all, even escaped (most control characters): left out of the feed.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _london() -> ZoneInfo | None:
    try:
        return ZoneInfo("Europe/London")
    except ZoneInfoNotFoundError:  # no time zone data: dates are UTC's
        return None


_LONDON = _london()


def long_date(value: date | datetime | None) -> str:
    """`5 January 2026`, the day in the UK, as GOV.UK writes a date."""
    if value is None:
        return ""
    if isinstance(value, datetime) and _LONDON is not None and value.tzinfo is not None:
        value = value.astimezone(_LONDON)
    return f"{value.day} {value:%B %Y}"


@dataclass(frozen=True)
class Figure:
    label: str  # "Money saved a year", for a summary list
    value: str  # "£12,000"
    phrase: str  # "£12,000 saved a year", for a line of a list


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}".rstrip("0").rstrip(".")


def figures(benefits: Benefits) -> list[Figure]:
    """The headline numbers that were given, with thousands separators."""
    found = []
    if benefits.money_a_year is not None:
        money = benefits.money_a_year
        pounds = f"£{money:,.0f}" if money == int(money) else f"£{money:,.2f}"
        found.append(Figure("Money saved a year", pounds, f"{pounds} saved a year"))
    if benefits.hours_a_year is not None:
        hours = _number(benefits.hours_a_year)
        found.append(Figure("Staff hours saved a year", hours, f"{hours} staff hours saved a year"))
    if benefits.people is not None:
        people = f"{benefits.people:,}"
        noun = "person" if benefits.people == 1 else "people"
        found.append(Figure("People affected", people, f"{people} {noun} affected"))
    return found


def _render(request: Request, template: str, context: Mapping[str, Any], *, status_code: int = 200) -> Response:
    """A public page: the same for every visitor, so without the staff header or a cookie, and cacheable."""
    defaults = {
        "site_name": PAGES.site_name,
        "home_url": PAGES.home_url,
        "stylesheet": STYLESHEET_URL,
        "results": RESULTS,
        "figures": figures,
        "long_date": long_date,
    }
    env = pages.environment(PAGES.package, PAGES.templates)
    headers = PUBLIC if status_code == 200 else pages.PRIVATE
    return pages.render(request, env, template, {**defaults, **context}, status_code=status_code, headers=headers)


# The list


def _chosen(request: Request, departments: list[str], themes: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The filters asked for that name something published, and an error for each that does not.

    A value is only ever compared with the lists, never sent to the database: any text is safe here.
    """
    chosen, errors = {}, {}
    for name, options, message in (
        ("department", departments, "Choose a department from the list"),
        ("theme", themes, "Choose a theme from the list"),
    ):
        value = request.query_params.get(name, "")
        if value in options:
            chosen[name] = value
        elif value:
            errors[name] = message
    return chosen, errors


def _list_url(chosen: Mapping[str, str], number: int, size: int) -> str:
    query = list(chosen.items())
    if size != DEFAULT_SIZE:
        query.append(("per_page", str(size)))
    query.append(("page", str(number)))
    return f"/case-studies?{urlencode(query)}"


@router.get("/case-studies")
def list_case_studies(request: Request, paging: Paging) -> Response:
    with uow(request) as session:
        departments, themes = case_studies.facets(session)
        chosen, errors = _chosen(request, departments, themes)
        page = case_studies.published(session, filters=Filters(**chosen), page=paging)
    if not page.items and page.number > 1:
        raise NotFound("there is no such page of case studies")
    context = {
        "studies": page.items,
        "departments": departments,
        "themes": themes,
        "chosen": chosen,
        "errors": errors,
        "pagination": {
            "number": page.number,
            "previous": _list_url(chosen, page.number - 1, page.size) if page.has_previous else None,
            "next": _list_url(chosen, page.number + 1, page.size) if page.has_next else None,
        },
    }
    return _render(request, "list.html", context, status_code=400 if errors else 200)


# One case study


@router.get("/case-studies/{slug}")
def one_case_study(request: Request, slug: Slug) -> Response:
    with uow(request) as session:
        study = case_studies.one(session, slug)
    page_url = f"{settings_of(request).public_url.rstrip('/')}/case-studies/{study.slug}"
    print_view = request.query_params.get("print") == "1"
    return _render(request, "case_study.html", {"study": study, "print_view": print_view, "page_url": page_url})


@router.get(STYLESHEET_PATH)
def stylesheet() -> Response:
    return Response(
        _CSS,
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


# The Atom feed (RFC 4287)


def _feed_environment() -> Environment:
    return Environment(
        loader=PackageLoader("services.incubation", TEMPLATES),
        autoescape=True,  # &, <, >, " and ' escaped: the same escaping XML needs
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


_FEED = _feed_environment()


def xml_text(value: str | None) -> str:
    return _NOT_XML.sub("", value or "")


def rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _paragraphs(text: str) -> Markup:
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
    return Markup("").join(Markup("<p>{}</p>").format(Markup("<br>").join(block.splitlines())) for block in blocks)


def content_html(study: CaseStudyView) -> str:
    """The case study's body as HTML, every value escaped; the feed's template escapes it once more, as text."""
    html = Markup("")
    for heading, words in (
        ("The problem", study.problem),
        ("What was done", study.what_was_done),
        ("What it achieved", study.benefits.words),
        ("What was learned", study.lessons),
    ):
        if words:
            html += Markup("<h2>{}</h2>").format(heading) + _paragraphs(words)
        if heading == "What it achieved" and figures(study.benefits):
            if not study.benefits.words:
                html += Markup("<h2>{}</h2>").format(heading)
            items = Markup("").join(Markup("<li>{}</li>").format(f.phrase) for f in figures(study.benefits))
            html += Markup("<ul>{}</ul>").format(items)
    return str.__str__(html)  # a plain string: the feed's template must escape it


@dataclass(frozen=True)
class Entry:
    url: str
    title: str
    updated: str
    published: str
    author: str
    summary: str
    content: str
    categories: list[str]


def _entry(base: str, study: CaseStudyView) -> tuple[datetime, Entry]:
    published = study.published_at or study.updated_at
    updated = max(published, study.updated_at)  # a draft may be written before it is published
    entry = Entry(
        url=f"{base}/case-studies/{study.slug}",
        title=xml_text(study.title),
        updated=rfc3339(updated),
        published=rfc3339(published),
        author=xml_text(study.credit),
        summary=xml_text(study.summary),
        content=xml_text(content_html(study)),
        categories=[xml_text(c) for c in (study.department, study.theme) if c],
    )
    return updated, entry


@router.get("/case-studies.atom")
def feed(request: Request) -> Response:
    with uow(request) as session:
        page = case_studies.published(session, filters=Filters(), page=PageRequest(1, FEED_SIZE))
    base = settings_of(request).public_url.rstrip("/")
    dated = [_entry(base, study) for study in page.items]
    updated = max((moment for moment, _ in dated), default=None) or utcnow()
    body = _FEED.get_template("feed.xml").render(
        base=base, updated=rfc3339(updated), entries=[entry for _, entry in dated]
    )
    return Response(body.encode("utf-8"), headers={"Content-Type": ATOM, **PUBLIC})
