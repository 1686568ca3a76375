"""The time, as every layer reads it: aware UTC datetimes only (the database refuses naive ones)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
