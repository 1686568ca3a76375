"""The interactive API documentation at /docs: Swagger UI, from the `swagger-ui-dist` npm package, served here.

FastAPI's own /docs loads Swagger UI from a CDN and /redoc has no local build, so both are turned
off (`create_app`) and this page takes /docs' place: it works on a machine without internet access
and sends nothing to another site. Without the package, /docs says how to install it.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import Response
from starlette.staticfiles import StaticFiles

from shared.logging import get_logger
from shared.web import pages

log = get_logger("ideahub.http")

URL = "/assets/swagger-ui"
# Beside govuk-frontend in the repository's node_modules (`npm ci`).
FOLDER = pages.DEFAULT_ASSETS.parents[2] / "swagger-ui-dist"
# All the page needs; the package's demo page and its loader of an example API are not served.
FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})

PAGES = pages.Pages("infra", site_name="Ideahub", home_url="/ideas/new")


class SwaggerFiles(StaticFiles):
    """The package's folder, of which only `FILES` are served."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if path not in FILES:
            return "", None
        return super().lookup_path(path)


def install(app: FastAPI, folder: Path | None = None) -> bool:
    """Serve Swagger UI's files under `URL` and add /docs; whether the package was found.

    Mount it before GOV.UK Frontend's /assets, which would otherwise answer for `URL` too.
    """
    folder = folder or FOLDER
    available = all((folder / name).is_file() for name in FILES)
    if available:
        app.mount(URL, SwaggerFiles(directory=folder), name="swagger-ui")
    else:
        log.warning(
            "web.api_docs_missing",
            folder=str(folder),
            consequence="/docs says how to install Swagger UI instead of showing the API",
            fix="run `npm ci` in the repository root",
        )
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        if not available:
            return PAGES.render(request, "docs_missing.html", {"openapi_url": openapi_url}, status_code=503)
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title="Ideahub API",
            swagger_js_url=f"{URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{URL}/swagger-ui.css",
            swagger_favicon_url=f"{URL}/favicon-32x32.png",
            oauth2_redirect_url=None,
            # No badge from the public validator: it would send the API's address to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    return available
