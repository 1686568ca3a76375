"""Alembic environment: the URL comes from the caller (`shared.db.migrate`), never from an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from shared.db.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")


def run() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _configure(connectable)
        return
    if url is None:
        raise RuntimeError("run migrations through shared.db.migrate, which gives Alembic the database URL")
    engine = create_engine(url)
    with engine.connect() as connection:
        _configure(connection)
    engine.dispose()


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
