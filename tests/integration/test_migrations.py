"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared.db.models import Base


# SQLite has no full-text index (`ix_ideas_search` is PostgreSQL's only), and Alembic says it cannot compare it there.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_the_migrated_database_matches_the_models(stack) -> None:  # type: ignore[no-untyped-def]
    engine = sa.create_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
