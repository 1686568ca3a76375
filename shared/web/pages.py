"""HTML pages in the GOV.UK Design System's look, for any service: templates, assets and form errors.

Each service keeps its pages in its own `templates/` folder and renders them through
`environment(package)`, which escapes every value. The GOV.UK Frontend stylesheet,
script, fonts and images come from the `govuk-frontend` npm package and are served at
`/assets`; without them the pages still work, plainly styled (`assets_available` is False).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from shared.config import Settings
from shared.logging import get_logger

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
        loader=PackageLoader(package, "templates"),
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
