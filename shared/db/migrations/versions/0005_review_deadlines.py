"""Review deadlines: reminders and escalations recorded once, declined tasks, private notes, who asked.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Stamp = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("review_tasks") as batch_op:
        batch_op.add_column(sa.Column("reminded_at", Stamp, nullable=True))
        batch_op.add_column(sa.Column("escalated_at", Stamp, nullable=True))
        batch_op.add_column(sa.Column("decline_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("reviews") as batch_op:
        batch_op.add_column(sa.Column("private_note", sa.Text(), nullable=True))
    with op.batch_alter_table("offers") as batch_op:
        batch_op.add_column(sa.Column("reminded_at", Stamp, nullable=True))
    with op.batch_alter_table("questions") as batch_op:
        batch_op.add_column(sa.Column("asked_by", BigId, nullable=True))
        batch_op.add_column(sa.Column("reminded_at", Stamp, nullable=True))
        batch_op.create_foreign_key(op.f("fk_questions_asked_by_people"), "people", ["asked_by"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("questions") as batch_op:
        batch_op.drop_constraint(op.f("fk_questions_asked_by_people"), type_="foreignkey")
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("asked_by")
    with op.batch_alter_table("offers") as batch_op:
        batch_op.drop_column("reminded_at")
    with op.batch_alter_table("reviews") as batch_op:
        batch_op.drop_column("private_note")
    with op.batch_alter_table("review_tasks") as batch_op:
        batch_op.drop_column("decline_reason")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("reminded_at")
