"""HTML pages in the GOV.UK Design System's look, for any service: templates, assets, CSRF and errors.

A service makes one `Pages(package, ...)` and takes its router from it. Its pages live in its own
`templates/` folder; the page layout, the form macros and the error pages are shared (this
package's `templates/`), and a service overrides any of them by keeping a file of the same name.
Every value is escaped. Every form carries a CSRF token, checked by the `PostedForm` dependency,
and every error on a page route (from a dependency or the handler) is answered with a page.

The GOV.UK Frontend stylesheet, script, fonts and images come from the `govuk-frontend` npm
package and are served at `/assets`; without them the pages still work, plainly styled
(`assets_available` is False).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from shared.config import Settings
from shared.errors import NotFound
from shared.logging import get_logger
from shared.web.csrf import FIELD as CSRF_FIELD
from shared.web.csrf import Csrf

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


@lru_cache(maxsize=16)
def environment(package: str) -> Environment:
    """The Jinja2 environment for a service's `templates/` folder: every value escaped, no silent blanks."""
    env = Environment(
        loader=ChoiceLoader([PackageLoader(package, "templates"), PackageLoader("shared.web", "templates")]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["govuk_datetime"] = govuk_datetime
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
    html = env.get_template(template).render(
        {"assets_available": assets_available(request), "assets_url": ASSETS_URL, "errors": {}, **context}
    )
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


@dataclass(frozen=True)
class Pages:
    """One area's pages: its templates, its header, and how its errors read.

    `private` pages (anything showing a name, a secret link or unpublished work) are never cached.
    `forbidden` is what a 403 page says: who the area is for.
    """

    package: str
    site_name: str = "Ideahub"
    home_url: str = "/ideas/new"
    private: bool = False
    forbidden: str = "Your role does not include it."

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
        page_context = {"site_name": self.site_name, "home_url": self.home_url, **context, "csrf_token": token.field}
        response = render(
            request,
            environment(self.package),
            template,
            page_context,
            status_code=status_code,
            headers={**(PRIVATE if self.private else {}), **(headers or {})},
        )
        csrf.set_cookie(response, token)
        return response

    def error(self, request: Request, exc: StarletteHTTPException) -> Response:
        """The page for an HTTP error raised by a dependency (401, 403, 429...) or the handler."""
        status = exc.status_code
        if status in (400, 401, 404):
            return self.render(request, f"{status}.html", {}, status_code=status, headers=exc.headers)
        if status == 403:
            heading, message = "You cannot use this page", self.forbidden
        elif status == 429:
            wait = (exc.headers or {}).get("Retry-After", "60")
            heading, message = "Too many requests", f"You have sent a lot in a short time. Try again in {wait} seconds."
        elif status == 413:
            heading, message = "Your form is too long", "Shorten what you wrote, then try again."
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
                    except NotFound:
                        return kit.render(request, "404.html", {}, status_code=404)
                    except FormExpired:
                        return kit.render(request, "400.html", {}, status_code=400)
                    except StarletteHTTPException as exc:
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
