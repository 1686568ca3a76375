"""Notification delivery: attempts, retry times, leases, the rendered message, the audience; preferences; cursors.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 03:53:35.441832
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    cursors = op.create_table(
        "consumer_cursors",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_consumer_cursors")),
    )
    # Notify has handled everything already in the outbox (by the rules of the previous version).
    last = op.get_bind().execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM outbox")).scalar()
    op.bulk_insert(cursors, [{"consumer": "notify", "position": last, "updated_at": datetime.now(UTC)}])
    op.create_table(
        "notification_preferences",
        sa.Column("idea_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("optional_mail", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["idea_id"], ["ideas.id"], name=op.f("fk_notification_preferences_idea_id_ideas")),
        sa.PrimaryKeyConstraint("idea_id", name=op.f("pk_notification_preferences")),
    )
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.add_column(sa.Column("audience", sa.String(length=20), server_default="submitter", nullable=False))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch_op.create_index("ix_notifications_state_next_attempt_at", ["state", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_index("ix_notifications_state_next_attempt_at")
        batch_op.drop_column("body")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("audience")
    op.drop_table("notification_preferences")
    op.drop_table("consumer_cursors")
