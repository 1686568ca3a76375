"""Staff search ideas: indexes for its filters and orders, and on PostgreSQL a full-text index of the words.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Word for word the expression of shared.db.models.intake.search_document(), which queries use.
SEARCH_DOCUMENT = (
    "to_tsvector('english'::regconfig, "
    "(((coalesce(title, '') || ' ') || coalesce(problem, '')) || ' ') || coalesce(proposal, ''))"
)


def upgrade() -> None:
    op.create_index("ix_ideas_created_at", "ideas", ["created_at"])
    op.create_index("ix_ideas_department_created_at", "ideas", ["department", "created_at"])
    op.create_index("ix_ideas_status_created_at", "ideas", ["status", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_ideas_search ON ideas USING gin ({SEARCH_DOCUMENT})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_ideas_search", table_name="ideas")
    op.drop_index("ix_ideas_status_created_at", table_name="ideas")
    op.drop_index("ix_ideas_department_created_at", table_name="ideas")
    op.drop_index("ix_ideas_created_at", table_name="ideas")
