"""Storage: SQLAlchemy 2 models, the engine, the unit of work and Alembic migrations."""
