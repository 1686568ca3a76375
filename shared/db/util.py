"""Small SQL helpers that differ by dialect.

Hot-path statements are built once and executed with parameters: SQLAlchemy then
reuses their compiled form and cache key instead of rebuilding both per call.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, Executable, Table, Text, bindparam, cast, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


@cache
def _insert_ignore_statement(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    statement = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    # preserve_rowcount: without it SQLAlchemy 2.1 over psycopg reports -1 for this insert, which
    # would read as "inserted" every time and let a redelivered message have its effect twice.
    return statement.on_conflict_do_nothing().execution_options(preserve_rowcount=True)


def insert_ignore(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """Insert a row unless its key exists; True when this call inserted it.

    On PostgreSQL a concurrent insert of the same key waits for the other
    transaction, so exactly one of two racing consumers sees True.
    """
    connection = session.connection()
    result = connection.execute(_insert_ignore_statement(connection.dialect.name, table), values)
    return result.rowcount == 1


@cache
def _insert_ignore_returning_statement(dialect: str, table: Table, column: Any) -> Executable:
    return _insert_ignore_statement(dialect, table).returning(column)


def insert_ignore_returning(session: Session, table: Table, values: dict[str, Any], column: Any) -> Any:
    """Insert a row unless its key exists; `column` of the new row, or None if it existed."""
    connection = session.connection()
    statement = _insert_ignore_returning_statement(connection.dialect.name, table, column)
    return connection.execute(statement, values).scalar()


def insert_ignore_many(session: Session, table: Table, rows: list[dict[str, Any]], *columns: Any) -> list[Any]:
    """Insert each row unless its key exists, in one statement; `columns` of the rows this call inserted.

    The rows that existed already are simply absent from the answer, so return a key column to tell
    which were new. The same locking as `insert_ignore`: of two racing transactions, one inserts.
    Every row has the same keys.

    On PostgreSQL the rows travel as one JSON document, read by `json_populate_recordset` into the
    table's own column types: the statement is then the same whatever the number of rows, so psycopg
    parses it and the server plans it once. As a multi-row VALUES list, a batch of notifications was
    hundreds of parameters, which psycopg parses anew in Python for every statement (it caches only
    those of 50 parameters or fewer); see docs/decisions/0012-one-statement-on-either-database.md.
    """
    if not rows:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        statement = _insert_ignore_json_statement(table, tuple(rows[0]), columns)
        return list(connection.execute(statement, {"rows": json.dumps(rows, default=_json_value)}))
    return list(connection.execute(_insert_ignore_many_statement(connection.dialect.name, table, columns), rows))


@cache
def _insert_ignore_json_statement(table: Table, keys: tuple[str, ...], columns: tuple[Any, ...]) -> Executable:
    document = cast(bindparam("rows", type_=Text), JSON)
    # NULL::table names the record type the document's objects are read into.
    rows = func.json_populate_recordset(literal_column(f"NULL::{table.name}"), document).table_valued(*keys)
    chosen = select(*(rows.c[key] for key in keys))
    return postgresql.insert(table).from_select(list(keys), chosen).on_conflict_do_nothing().returning(*columns)


def _json_value(value: object) -> str:
    """A value JSON has no type for, as PostgreSQL reads it into the column."""
    if isinstance(value, datetime):
        if value.tzinfo is None:  # as UtcDateTime refuses one
            raise ValueError("naive datetime: use shared.contracts.events.utcnow()")
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be sent as JSON")


@cache
def _insert_ignore_many_statement(dialect: str, table: Table, columns: tuple[Any, ...]) -> Executable:
    return _insert_ignore_statement(dialect, table).returning(*columns)
