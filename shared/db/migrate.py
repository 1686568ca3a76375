"""Apply Alembic migrations programmatically (`ideahub db upgrade`, `ideahub up`, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.db.engine import sqlite_path

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def is_current(url: str) -> bool:
    """True when the database has every migration applied."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return False
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    return current == ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def upgrade(url: str, revision: str = "head") -> None:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)  # a fresh machine has no data folder yet
    command.upgrade(alembic_config(url), revision)
