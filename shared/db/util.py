"""Small SQL helpers that differ by dialect.

Hot-path statements are built once and executed with parameters: SQLAlchemy then
reuses their compiled form and cache key instead of rebuilding both per call.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Executable, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


@cache
def _insert_ignore_statement(dialect: str, table: Table) -> Executable:
    module: Any = postgresql if dialect == "postgresql" else sqlite
    # preserve_rowcount: without it SQLAlchemy 2.1 over psycopg reports -1 for this insert, which
    # would read as "inserted" every time and let a redelivered message have its effect twice.
    return module.insert(table).on_conflict_do_nothing().execution_options(preserve_rowcount=True)  # type: ignore[no-any-return]


def insert_ignore(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """Insert a row unless its key exists; True when this call inserted it.

    On PostgreSQL a concurrent insert of the same key waits for the other
    transaction, so exactly one of two racing consumers sees True.
    """
    connection = session.connection()
    result = connection.execute(_insert_ignore_statement(connection.dialect.name, table), values)
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


@cache
def _insert_ignore_returning_statement(dialect: str, table: Table, column: Any) -> Executable:
    return _insert_ignore_statement(dialect, table).returning(column)  # type: ignore[attr-defined,no-any-return]


def insert_ignore_returning(session: Session, table: Table, values: dict[str, Any], column: Any) -> Any:
    """Insert a row unless its key exists; `column` of the new row, or None if it existed."""
    connection = session.connection()
    statement = _insert_ignore_returning_statement(connection.dialect.name, table, column)
    return connection.execute(statement, values).scalar()


def insert_ignore_many(session: Session, table: Table, rows: list[dict[str, Any]], *columns: Any) -> list[Any]:
    """Insert each row unless its key exists, in one statement; `columns` of the rows this call inserted.

    The rows that existed already are simply absent from the answer, so return a key column to tell
    which were new. The same locking as `insert_ignore`: of two racing transactions, one inserts.
    """
    if not rows:
        return []
    connection = session.connection()
    return list(connection.execute(_insert_ignore_many_statement(connection.dialect.name, table, columns), rows))


@cache
def _insert_ignore_many_statement(dialect: str, table: Table, columns: tuple[Any, ...]) -> Executable:
    return _insert_ignore_statement(dialect, table).returning(*columns)  # type: ignore[attr-defined,no-any-return]
