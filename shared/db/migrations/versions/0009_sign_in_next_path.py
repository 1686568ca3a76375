"""A sign-in link remembers the page its person asked for, to return them there once signed in.

sign_in_links.next_path: a local path and query (`/reviews/tasks/5`), checked when it is stored and
again when it is used; NULL sends the person to `/staff`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sign_in_links") as batch_op:
        batch_op.add_column(sa.Column("next_path", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sign_in_links") as batch_op:
        batch_op.drop_column("next_path")
