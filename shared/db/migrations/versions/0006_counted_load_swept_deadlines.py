"""A reviewer's load is counted from their tasks, and the deadline sweeps read an index.

- people.open_tasks goes. Every screening updated the counter on the same few people rows, and the
  row locks, held until commit, made screenings wait for one another. The load is counted from
  ix_review_tasks_state_reviewer instead, and ties go to the reviewer whose latest task is oldest:
  ix_review_tasks_reviewer_id becomes (reviewer_id, id).
- (state, due_at) indexes on review_tasks, questions and offers: deadlines further away than the
  message horizon are found by the sweeps alone, every minute.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUE = ("review_tasks", "questions", "offers")


def upgrade() -> None:
    with op.batch_alter_table("people") as batch_op:
        batch_op.drop_column("open_tasks")
    for table in DUE:
        op.create_index(f"ix_{table}_state_due_at", table, ["state", "due_at"])
    with op.batch_alter_table("review_tasks") as batch_op:
        batch_op.drop_index("ix_review_tasks_reviewer_id")
        batch_op.create_index("ix_review_tasks_reviewer_id_id", ["reviewer_id", "id"])


def downgrade() -> None:
    with op.batch_alter_table("review_tasks") as batch_op:
        batch_op.drop_index("ix_review_tasks_reviewer_id_id")
        batch_op.create_index("ix_review_tasks_reviewer_id", ["reviewer_id"])
    for table in DUE:
        op.drop_index(f"ix_{table}_state_due_at", table_name=table)
    with op.batch_alter_table("people") as batch_op:
        batch_op.add_column(sa.Column("open_tasks", sa.Integer(), server_default="0", nullable=False))
    # Recount what the column held: each reviewer's open and asked tasks.
    op.execute(
        "UPDATE people SET open_tasks = (SELECT count(*) FROM review_tasks"
        " WHERE review_tasks.reviewer_id = people.id AND review_tasks.state IN ('open', 'asked'))"
    )
