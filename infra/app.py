"""The HTTP app factory: every service's router, health, metrics and one error format.

Errors are JSON, `{"error": ...}`, except for a browser asking for a page (not under /api/, and
`Accept` preferring text/html): it gets the GOV.UK error page, never a stack trace.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra import admin_api, api_docs, navigation, public_pages, signin
from infra.composition import Runtime
from infra.console import api as console_api
from infra.console import failures_web, people_web
from infra.console import ideas_web as console_ideas
from services.incubation.api import router as incubation_router
from services.incubation.case_study_web import router as case_study_writing_pages
from services.incubation.milestone_web import router as milestone_pages
from services.incubation.public_web import router as case_study_pages
from services.incubation.web import router as incubation_pages
from services.intake.api import router as intake_router
from services.intake.web import router as intake_pages
from services.matching.admin_web import router as matching_admin_pages
from services.matching.api import router as matching_router
from services.matching.web import router as matching_pages
from services.notify.api import router as notify_router
from services.notify.web import router as notify_pages
from services.review.api import router as review_router
from services.review.web import router as review_pages
from shared.config import Settings
from shared.errors import Conflict, IllegalTransition, InvalidField, NotFound, PermanentError, StaleStatus
from shared.logging import get_logger
from shared.ratelimit import RateLimiter
from shared.web import pages
from shared.web.limits import BodyLimit

log = get_logger("ideahub.http")

REQUESTS = Counter("ideahub_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("ideahub_http_request_seconds", "HTTP request latency", ["route"])


class RequestMetrics:
    """Counts requests and times them by route template: a plain ASGI middleware, cheaper than `@app.middleware`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(scope["method"], path, str(status)).inc()
            LATENCY.labels(path).observe(time.perf_counter() - start)


async def _error(
    request: Request, status: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response:
    if pages.wants_html(request):
        # In a worker thread, like any page: the header asks the database who is signed in.
        return await run_in_threadpool(public_pages.error_page, request, status, headers)
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or Runtime(settings, pool_size=max(settings.worker_threads, 10))
    app = FastAPI(
        title="Ideahub",
        version="1",
        description="Front-line staff ideas, from submission to outcome.",
        # Both would load their scripts from a CDN: /docs is served from the npm package instead (infra.api_docs).
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.staff_pages = navigation.STAFF_PAGES
    app.state.runtime = runtime
    app.state.session_factory = runtime.session_factory
    app.state.rate_limiter = RateLimiter(settings.api_rate_limit)
    app.state.sign_in_limiter = RateLimiter(settings.sign_in_rate_limit)  # links per email address
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    for router in (
        intake_router,
        review_router,
        matching_router,
        incubation_router,
        notify_router,
        admin_api.router,
        console_api.router,
        console_api.search_router,
        console_ideas.router,
        signin.router,
        public_pages.router,
        review_pages,
        matching_pages,
        matching_admin_pages,
        failures_web.router,
        people_web.router,
        incubation_pages,
        milestone_pages,
        case_study_writing_pages,
        case_study_pages,
        notify_pages,
        intake_pages,  # last: its catch-all under /status/ must not hide notify's stop-updates page
    ):
        app.include_router(router)
    api_docs.install(app)  # before /assets, which would otherwise answer for /assets/swagger-ui too
    pages.mount_assets(app, settings)

    _answer_errors(app)
    app.add_middleware(RequestMetrics)
    _ops_routes(app, runtime)
    return app


def _answer_errors(app: FastAPI) -> None:
    """One error format for the whole app: JSON for scripts, a GOV.UK page for browsers (`_error`)."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        fields = [
            {
                "field": ".".join(str(p) for p in err["loc"] if p != "body") or "body",
                "message": err["msg"].removeprefix("Value error, "),
            }
            for err in exc.errors()
        ]
        return await _error(request, 422, "the request is not valid", fields=fields)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return await _error(request, 404, str(exc))

    @app.exception_handler(IllegalTransition)
    async def illegal(request: Request, exc: IllegalTransition) -> Response:
        return await _error(request, 409, str(exc), current_status=exc.current, requested_status=exc.target)

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> Response:
        return await _error(request, 409, str(exc))

    @app.exception_handler(StaleStatus)
    async def stale(request: Request, exc: StaleStatus) -> Response:
        return await _error(request, 409, f"{exc}; reload and try again")

    @app.exception_handler(InvalidField)
    async def invalid_field(request: Request, exc: InvalidField) -> Response:
        fields = [{"field": exc.field, "message": exc.message}]
        return await _error(request, 422, "the request is not valid", fields=fields)

    @app.exception_handler(PermanentError)
    async def refused(request: Request, exc: PermanentError) -> Response:
        return await _error(request, 422, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return await _error(request, exc.status_code, exc.detail, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("http.unexpected_error")
        return await _error(request, 500, "something went wrong on our side; it has been logged")


def _ops_routes(app: FastAPI, runtime: Runtime) -> None:
    """Liveness, readiness (the database and the broker answer) and Prometheus metrics."""

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> JSONResponse:
        checks = {"database": "ok", "broker": "ok"}
        try:
            with runtime.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # reported, not raised: this endpoint exists to say what is down
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            admin_api.ping_broker(runtime)
        except Exception as exc:
            checks["broker"] = f"unreachable: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"])
    def metrics_endpoint() -> PlainTextResponse:
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)
