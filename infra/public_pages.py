"""Pages that belong to no stage: the footer's accessibility statement, privacy notice and cookies page,
the favicon, and the error pages a browser gets for an address no page route answers.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import NotFound
from shared.logging import get_logger
from shared.web import pages
from shared.web.csrf import COOKIE as CSRF_COOKIE
from shared.web.deps import SESSION_COOKIE, settings_of

log = get_logger("ideahub.web")

# A signed-in member of staff keeps their header here too.
PAGES = pages.Pages("infra", site_name="Ideahub", home_url="/ideas/new", navigation=True)
# For server errors: the same pages, without the header's look-up of who is signed in (the database may be why).
_PLAIN = pages.Pages("infra", site_name="Ideahub", home_url="/ideas/new")
router = PAGES.router()

STATEMENT_PREPARED = "4 December 2026"  # when the accessibility statement was written; change it with the statement


@router.get("/accessibility")
def accessibility(request: Request) -> Response:
    settings = settings_of(request)
    context = {"public_url": settings.public_url, "link_minutes": settings.sign_in_link_minutes}
    return PAGES.render(request, "accessibility.html", context | {"prepared": STATEMENT_PREPARED})


@router.get("/privacy")
def privacy(request: Request) -> Response:
    return PAGES.render(request, "privacy.html", {})


@router.get("/cookies")
def cookies(request: Request) -> Response:
    context = {
        "csrf_cookie": CSRF_COOKIE,
        "session_cookie": SESSION_COOKIE,
        "session_hours": settings_of(request).session_hours,
    }
    return PAGES.render(request, "cookies.html", context)


@router.get("/favicon.ico")
def favicon(request: Request) -> Response:
    """Browsers ask for it whatever the page says; it is GOV.UK Frontend's, also linked from every page."""
    icon = pages.assets_folder(settings_of(request)) / "assets" / "images" / "favicon.ico"
    if not icon.is_file():
        raise NotFound("no favicon: GOV.UK Frontend is not installed")
    return FileResponse(icon, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})


def error_page(request: Request, status: int, headers: Mapping[str, str] | None = None) -> Response:
    """The page a browser gets for an error outside the page routes: a wrong address, a wrong method, a crash."""
    if status == 401:
        return pages.sign_in_first(request)
    if status >= 500:
        context = {"heading": "Sorry, there is a problem with the service", "message": "Try again later."}
        try:
            return _PLAIN.render(request, "error.html", context, status_code=status, headers=headers)
        except Exception:  # the page itself cannot be made: say so in the fewest words, still as a page
            log.exception("web.error_page_failed", status=status)
            return Response(_BARE_500, status_code=status, media_type="text/html", headers=headers)
    return PAGES.error(request, StarletteHTTPException(status, headers=dict(headers or {})))


_BARE_500 = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sorry, there is a problem with the service'
    "</title></head><body><h1>Sorry, there is a problem with the service</h1><p>Try again later.</p></body></html>"
)
