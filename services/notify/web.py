"""Notify's page: a submitter stops optional email about their idea (the link in every optional email's footer).

The secret status token in the address is the capability, as on the status page; the only thing
the form can do is send less mail, so it carries no CSRF token (an email's one-click
unsubscribe uses the API route instead). Pages use the shared GOV.UK layout; this package's
`templates/` folder holds emails, whose own `layout.html` is not a page's, so pages are in
`templates/pages/`.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from services.notify import handlers
from shared.web import pages
from shared.web.deps import uow

PAGES = pages.Pages("services.notify", templates="templates/pages", site_name="Ideahub", home_url="/ideas/new")
router = PAGES.router()


def _page(request: Request, token: str, *, done: bool) -> Response:
    context = {"done": done, "status_path": f"/status/{token}"}
    return PAGES.render(request, "stop_updates.html", context, headers=pages.PRIVATE)


@router.get("/status/{token}/stop-updates")
def stop_updates_page(request: Request, token: str) -> Response:
    with uow(request) as session:
        handlers.optional_mail(session, token)  # an unknown token is a 404 here too
    return _page(request, token, done=False)


@router.post("/status/{token}/stop-updates")
def stop_updates(request: Request, token: str) -> Response:
    with uow(request) as session:
        handlers.set_optional_mail(session, token, False)
    return _page(request, token, done=True)
