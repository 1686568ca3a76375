"""HTML pages in the GOV.UK Design System's look, for any service: templates, assets, CSRF and errors.

A service makes one `Pages(package, ...)` and takes its router from it. Its pages live in its own
`templates/` folder; the page layout, the form macros and the error pages are shared (this
package's `templates/`), and a service overrides any of them by keeping a file of the same name.
Every value is escaped. Every form carries a CSRF token, checked by the `PostedForm` dependency,
and every error on a page route (from a dependency or the handler) is answered with a page, except
"sign in first" (401): a visitor who is not signed in is sent to `/sign-in`, which brings them
back to the page they asked for.

The GOV.UK Frontend stylesheet, script, fonts and images come from the `govuk-frontend` npm
package and are served at `/assets`; without them the pages still work, plainly styled
(`assets_available` is False).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from shared.config import Settings
from shared.db.uow import unit_of_work
from shared.errors import NotFound
from shared.logging import get_logger
from shared.principal import Principal
from shared.web.csrf import FIELD as CSRF_FIELD
from shared.web.csrf import Csrf
from shared.web.deps import SESSION_COOKIE, session_principal

log = get_logger("ideahub.web")

ASSETS_URL = "/assets"
# The repository root: node_modules sits beside infra/, services/ and shared/.
_REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_ASSETS = _REPOSITORY / "node_modules" / "govuk-frontend" / "dist" / "govuk"
# The compiled files that sit beside `assets/` in the package; everything else served comes from `assets/`.
_COMPILED = frozenset(
    {"govuk-frontend.min.css", "govuk-frontend.min.css.map", "govuk-frontend.min.js", "govuk-frontend.min.js.map"}
)
# Pages may carry a secret (the status link): never sent to other sites, never framed.
_HEADERS = {"Referrer-Policy": "same-origin", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}
PRIVATE = {"Cache-Control": "no-store"}
SIGN_IN_URL = "/sign-in"


def assets_folder(settings: Settings) -> Path:
    return settings.assets_dir or DEFAULT_ASSETS


def _usable(folder: Path) -> bool:
    return (folder / "govuk-frontend.min.css").is_file() and (folder / "assets" / "fonts").is_dir()


class GovukAssets(StaticFiles):
    """The package's `dist/govuk` as one folder at /assets.

    Its stylesheet asks for `/assets/fonts/...` and `/assets/images/...`, which live in
    `dist/govuk/assets/`, while the stylesheet and script themselves sit in `dist/govuk/`:
    those four files are looked up there, everything else in `assets/`. The Sass sources and
    templates beside them are not served.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__(directory=folder / "assets")
        self._folder = folder

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if path in _COMPILED:
            full = str(self._folder / path)
            try:
                return full, os.stat(full)
            except OSError:
                return "", None
        return super().lookup_path(path)


def mount_assets(app: Starlette, settings: Settings) -> bool:
    """Serve GOV.UK Frontend at /assets when it is installed; say once, in the log, when it is not."""
    folder = assets_folder(settings)
    available = _usable(folder)
    app.state.assets_available = available
    if available:
        app.mount(ASSETS_URL, GovukAssets(folder), name="assets")
    else:
        log.warning(
            "web.assets_missing",
            folder=str(folder),
            consequence="pages are served without the GOV.UK styles and scripts",
            fix="run `npm ci` in the repository root, or set IDEAHUB_ASSETS_DIR to govuk-frontend's dist/govuk",
        )
    return available


def assets_available(request: Request) -> bool:
    return bool(getattr(request.app.state, "assets_available", False))


def _london() -> ZoneInfo | None:
    try:
        return ZoneInfo("Europe/London")
    except ZoneInfoNotFoundError:  # a system without time zone data: times are shown in UTC, and say so
        return None


_LONDON = _london()


def govuk_datetime(value: str | datetime) -> str:
    """`5 January 2026 at 3:04pm`, in UK time: how GOV.UK writes a moment."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    suffix = ""
    if _LONDON is not None and moment.tzinfo is not None:
        moment = moment.astimezone(_LONDON)
    elif moment.tzinfo is not None:
        suffix = " (UTC)"
    hour = moment.hour % 12 or 12
    return f"{moment.day} {moment:%B %Y} at {hour}:{moment:%M}{'am' if moment.hour < 12 else 'pm'}{suffix}"


def govuk_date(value: date | datetime) -> str:
    """`5 January 2026`: a date as GOV.UK writes it; a moment's date is its day in the UK."""
    if isinstance(value, datetime):
        if _LONDON is not None and value.tzinfo is not None:
            value = value.astimezone(_LONDON)
        value = value.date()
    return f"{value.day} {value:%B %Y}"


@lru_cache(maxsize=16)
def environment(package: str, folder: str = "templates") -> Environment:
    """The Jinja2 environment for a service's templates folder: every value escaped, no silent blanks."""
    env = Environment(
        loader=ChoiceLoader([PackageLoader(package, folder), PackageLoader("shared.web", "templates")]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["govuk_datetime"] = govuk_datetime
    env.filters["govuk_date"] = govuk_date
    return env


def render(
    request: Request,
    env: Environment,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    defaults = {
        "assets_available": assets_available(request),
        "assets_url": ASSETS_URL,
        "errors": {},
        "navigation": None,  # a staff area's header: see Pages.render
    }
    html = env.get_template(template).render({**defaults, **context})
    return HTMLResponse(html, status_code=status_code, headers={**_HEADERS, **(headers or {})})


class FormExpired(Exception):
    """A posted form without a valid CSRF token (or a form id): nothing in it is used."""


async def posted_form(request: Request) -> dict[str, str]:
    """The posted fields, once the CSRF token is checked; a bad or missing token ends in the 400 page."""
    form = await request.form()
    if not Csrf(request.app.state.settings).valid(request, form.get(CSRF_FIELD)):
        raise FormExpired
    return {key: value for key, value in form.items() if isinstance(value, str)}


PostedForm = Annotated[dict[str, str], Depends(posted_form)]


_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_JSON_TYPES = frozenset({"application/json", "application/*", "*/*"})


def wants_html(request: Request) -> bool:
    """A browser asking for a page: an address outside /api/ whose `Accept` ranks text/html above JSON.

    Browsers name text/html and rank `*/*` lower; scripts send `*/*` or application/json, or
    nothing, and keep getting JSON.
    """
    if request.url.path.startswith("/api/"):
        return False
    html = json = 0.0
    for item in request.headers.get("accept", "").split(","):
        media, *parameters = (part.strip().lower() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        if media in _HTML_TYPES:
            html = max(html, quality)
        elif media in _JSON_TYPES:
            json = max(json, quality)
    return html > json


def sign_in_first(request: Request) -> Response:
    """303 to the sign-in page, which returns the visitor to the address they asked for once signed in."""
    raw = request.scope.get("raw_path")  # as sent, percent-escapes kept: "/a%2Fb" must not come back as "/a/b"
    wanted = raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path
    if request.url.query:
        wanted += "?" + request.url.query
    return RedirectResponse(f"{SIGN_IN_URL}?{urlencode({'next': wanted})}", status_code=303, headers=PRIVATE)


_UNKNOWN = object()


@dataclass(frozen=True)
class NavigationItem:
    label: str
    href: str
    current: str | None  # aria-current: "page" on the page itself, "true" on a page below it


def signed_in(request: Request) -> Principal | None:
    """Who this browser is signed in as: known already if the route asked (`require`), else from the cookie."""
    known = getattr(request.state, "principal", _UNKNOWN)
    if known is None or isinstance(known, Principal):
        return known
    cookie = request.cookies.get(SESSION_COOKIE)
    person = None
    if cookie:
        try:
            with unit_of_work(request.app.state.session_factory) as session:
                person = session_principal(session, cookie)
        except Exception:  # the page is still shown, without the header's name: an error page may be why we are here
            log.warning("web.signed_in_unknown", exc_info=True)
    request.state.principal = person
    return person


def staff_navigation(request: Request, person: Principal) -> list[NavigationItem]:
    """The pages of the person's role (`app.state.staff_pages`), the one shown marked."""
    path = request.url.path
    pages = getattr(request.app.state, "staff_pages", {}).get(person.role, ())
    hrefs = {href for _, href in pages}
    # The page itself, or else the deepest page it is below: /admin/ideas/IH-1 is under Ideas, not Overview.
    below = [href for href in hrefs if path.startswith(href.rstrip("/") + "/")]
    nearest = None if path in hrefs or not below else max(below, key=len)
    items = []
    for label, href in pages:
        current = "page" if path == href else "true" if href == nearest else None
        items.append(NavigationItem(label, href, current))
    return items


@dataclass(frozen=True)
class Pages:
    """One area's pages: its templates, its header, and how its errors read.

    `private` pages (anything showing a name, a secret link or unpublished work) are never cached.
    `forbidden` is what a 403 page says: who the area is for.
    `navigation`: a signed-in person sees their role's pages, their name and "Sign out" in the header.
    `templates` is the folder of the package the pages are in, if not `templates/`.
    """

    package: str
    templates: str = "templates"
    site_name: str = "Ideahub"
    home_url: str = "/ideas/new"
    private: bool = False
    forbidden: str = "Your role does not include it."
    navigation: bool = False

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any],
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Render a page, with a CSRF token for its forms (and the cookie, the first time)."""
        csrf = Csrf(request.app.state.settings)
        token = csrf.token(request)
        page_context: dict[str, Any] = {"site_name": self.site_name, "home_url": self.home_url}
        person = signed_in(request) if self.navigation else None
        private = self.private
        if person is not None:
            page_context |= {"navigation": staff_navigation(request, person), "signed_in_as": person}
            private = True  # the header shows their name
        page_context |= {**context, "csrf_token": token.field}
        response = render(
            request,
            environment(self.package, self.templates),
            template,
            page_context,
            status_code=status_code,
            headers={**(PRIVATE if private else {}), **(headers or {})},
        )
        csrf.set_cookie(response, token)
        return response

    def error(self, request: Request, exc: StarletteHTTPException) -> Response:
        """The page for an HTTP error raised by a dependency (401, 403, 429...) or the handler."""
        status = exc.status_code
        if status in (400, 401, 404):
            return self.render(request, f"{status}.html", {}, status_code=status, headers=exc.headers)
        if status == 405:  # an address that only takes a form, opened as a page: there is no such page
            return self.render(request, "404.html", {}, status_code=status, headers=exc.headers)
        if status == 403:
            heading, message = "You cannot use this page", self.forbidden
        elif status == 429:
            wait = (exc.headers or {}).get("Retry-After", "60")
            heading, message = "Too many requests", f"You have sent a lot in a short time. Try again in {wait} seconds."
        elif status == 413:
            heading, message = "Your form is too long", "Shorten what you wrote, then try again."
        elif status >= 500:
            heading, message = "Sorry, there is a problem with the service", "Try again later."
        else:
            heading, message = "Sorry, there is a problem", "Go back, reload the page and try again."
        context = {"heading": heading, "message": message}
        return self.render(request, "error.html", context, status_code=status, headers=exc.headers)

    def router(self) -> APIRouter:
        """An APIRouter whose routes answer every error with one of these pages, never JSON."""
        kit = self

        class PageRoute(APIRoute):
            def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
                handle = super().get_route_handler()

                async def page(request: Request) -> Response:
                    try:
                        return await handle(request)
                    except (NotFound, RequestValidationError):  # a page's only inputs are its address and forms
                        return kit.render(request, "404.html", {}, status_code=404)
                    except FormExpired:
                        return kit.render(request, "400.html", {}, status_code=400)
                    except StarletteHTTPException as exc:
                        if exc.status_code == 401:
                            return sign_in_first(request)
                        return kit.error(request, exc)
                    except Exception:
                        # The route's pattern, not the address: some addresses carry a secret.
                        log.exception("web.unexpected_error", route=self.path)
                        context = {
                            "heading": "Sorry, there is a problem with the service",
                            "message": "Try again later.",
                        }
                        return kit.render(request, "error.html", context, status_code=500)

                return page

        return APIRouter(include_in_schema=False, route_class=PageRoute)
