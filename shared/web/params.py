"""Path parameters checked before any handler runs: an id out of the database's range is a 404, not a 500."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# BIGINT's range on PostgreSQL (SQLite's INTEGER is the same): a larger id names nothing.
MAX_ID = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="A positive whole number.")]
Slug = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[a-z0-9-]+$")]
