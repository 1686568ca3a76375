"""Pages of a list over HTTP: `?page=N&per_page=M` in, and for the API a `Link` header to the next page.

The API keeps its lists as JSON arrays (as SPEC section 4 writes them) and says where the next page
is in an RFC 8288 `Link` header; pages show the GOV.UK pagination component (`_pagination.html`).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from shared.paging import DEFAULT_SIZE, MAX_NUMBER, MAX_SIZE, Page, PageRequest


def page_request(
    page: Annotated[int, Query(ge=1, le=MAX_NUMBER, description="Which page, from 1.")] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_SIZE, description="Items on a page.")] = DEFAULT_SIZE,
) -> PageRequest:
    return PageRequest(page, per_page)


Paging = Annotated[PageRequest, Depends(page_request)]


def page_url(request: Request, number: int) -> str:
    """This address with `page` set to `number`, every other parameter kept."""
    query = [(key, value) for key, value in request.query_params.multi_items() if key != "page"]
    query.append(("page", str(number)))
    return f"{request.url.path}?{urlencode(query)}"


def link_next(request: Request, response: Response, page: Page[Any]) -> None:
    """Say in a `Link` header where the next page is, when there is one."""
    if page.has_next:
        response.headers["Link"] = f'<{page_url(request, page.number + 1)}>; rel="next"'


def pagination(request: Request, page: Page[Any]) -> dict[str, str | int | None]:
    """What the pagination component needs: the links to the previous and next pages, if any."""
    return {
        "number": page.number,
        "previous": page_url(request, page.number - 1) if page.has_previous else None,
        "next": page_url(request, page.number + 1) if page.has_next else None,
    }
