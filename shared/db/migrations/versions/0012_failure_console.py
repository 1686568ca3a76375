"""Failed messages an administrator can retry or discard: attempts, the last failure, and how each was resolved.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.models.base import UtcDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("failed_messages") as batch_op:
        batch_op.add_column(sa.Column("last_failed_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("resolution", sa.String(20), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.String(320), nullable=True))
        batch_op.add_column(sa.Column("resolution_reason", sa.Text(), nullable=True))
        batch_op.create_index("ix_failed_messages_resolved_at_id", ["resolved_at", "id"])


def downgrade() -> None:
    with op.batch_alter_table("failed_messages") as batch_op:
        batch_op.drop_index("ix_failed_messages_resolved_at_id")
        for column in ("resolution_reason", "resolved_by", "resolution", "attempts", "last_failed_at"):
            batch_op.drop_column(column)
