"""The ceiling for `bench/http_intake.py`: a bare FastAPI endpoint that validates the same body and stores nothing.

Served by uvicorn like `ideahub serve` (`uvicorn --factory bare_intake:create --workers 2`), so the ratio of
the two isolates what Ideahub adds: the database transaction, the outbox event, the middleware.
"""

from __future__ import annotations

from fastapi import FastAPI, status

from services.intake.schemas import Accepted, Submission


def create() -> FastAPI:
    app = FastAPI()
    counter = iter(range(1, 10**12))

    @app.post("/api/v1/ideas", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
    def submit(submission: Submission) -> Accepted:
        n = next(counter)
        return Accepted(id=n, reference=f"IH-2026-{n:06d}", status="received", status_url=f"http://x/status/{n}")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
