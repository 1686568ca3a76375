"""The administrator's console pages share one look: `PAGES` (templates in infra/console/templates/), the header
with the administrator's navigation, and 403 pages that say the console is for administrators.

Each area of the console (`/admin`, `/admin/ideas`, `/admin/failures`, `/admin/people`, `/admin/reports`) keeps its
routes in a module of its own, with a router from `PAGES.router()`, and its JSON twin under /api/v1/admin/ in
`infra/console/api.py` or beside it; both call the same functions of `infra/console/`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from shared.principal import Principal
from shared.web import pages
from shared.web.deps import require

PAGES = pages.Pages(
    "infra.console",
    site_name="Ideahub staff",
    home_url="/admin",
    private=True,
    forbidden="It is for administrators.",
    navigation=True,
)
Admin = Annotated[Principal, Depends(require("admin"))]
