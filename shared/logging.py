"""structlog set-up: one JSON object a line, carrying the idea reference, event id and correlation id.

Context is bound with `bind()` (contextvars), so every line logged while a message
or request is handled carries it, in whichever service logs it. Libraries that
log through the standard library (dramatiq, uvicorn, alembic) are rendered the
same way.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # The level is checked against the standard library's loggers at each call (filter_by_level), not
    # baked into the cached bound loggers, so configuring again (a second command in one process, a
    # test raising the level) applies to loggers already in use.
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared_processors,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared_processors,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # dramatiq and pika are chatty at INFO about their own machinery.
    for noisy in ("alembic", "dramatiq", "pika", "amqp", "kombu", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


def bind(**values: object) -> None:
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def clear() -> None:
    structlog.contextvars.clear_contextvars()


def about(event: Any) -> dict[str, str]:
    """The fields that tie a log line to one event and its idea, for a line about one of several in hand."""
    return {
        "event_id": str(event.event_id),
        "idea_reference": event.idea_reference,
        "correlation_id": str(event.correlation_id),
    }
