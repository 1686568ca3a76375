"""Small SQL helpers that differ by dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """Insert a row unless its key exists; True when this call inserted it.

    On PostgreSQL a concurrent insert of the same key waits for the other
    transaction, so exactly one of two racing consumers sees True.
    """
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    result = session.connection().execute(module.insert(table).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)  # type: ignore[attr-defined]


def lock_clause(session: Session) -> dict[str, Any]:
    """`with_for_update` arguments where the database has row locks (SQLite locks the whole file)."""
    return {"with_for_update": True} if session.get_bind().dialect.name == "postgresql" else {}
