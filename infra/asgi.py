"""ASGI entry point for uvicorn (`ideahub serve`)."""

from __future__ import annotations

from fastapi import FastAPI

from infra.app import create_app
from shared.config import load_settings
from shared.heap import settle
from shared.logging import configure_logging


def create() -> FastAPI:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    settle()  # what start-up made lives as long as the process: out of the collector's sight
    return app
