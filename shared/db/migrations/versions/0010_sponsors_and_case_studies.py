"""Sponsors' work: milestone deadlines and states, private progress words, benefits projected and realised,
the whole ranking behind an offer, rounds of matching, case studies and the submitter's consent to be named.

- milestones: `due_at` (the end of `due_on`, UK time: the deadline counts from it), `state`
  (open | overdue | reached | dropped; reached where `done_at` was set), `reminded_at`, `overdue_at`,
  `created_at`; an index on (state, due_at) for the deadline sweep.
- progress_updates: `private`, `author_id`.
- incubations: projected benefits in words and numbers, `updated_at`.
- outcomes: realised benefits in words and numbers, lessons, who recorded it.
- offers: `ranking` (JSON), `round`, `offered_by`.
- case_studies and credit_consents: new.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.models.base import UtcDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("milestones") as batch_op:
        batch_op.add_column(sa.Column("due_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("state", sa.String(20), nullable=False, server_default="open"))
        batch_op.add_column(sa.Column("reminded_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("overdue_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("created_at", UtcDateTime(), nullable=True))
    milestones = sa.table(
        "milestones",
        sa.column("id", sa.BigInteger),
        sa.column("due_on", sa.Date),
        sa.column("due_at", UtcDateTime()),
        sa.column("state", sa.String),
        sa.column("done_at", UtcDateTime()),
        sa.column("created_at", UtcDateTime()),
    )
    connection = op.get_bind()
    from datetime import UTC, datetime, time, timedelta

    now = datetime.now(UTC)
    for row in connection.execute(sa.select(milestones.c.id, milestones.c.due_on, milestones.c.done_at)).all():
        # The end of the due date, in UTC: close enough for a plan made before deadlines were kept.
        due_at = datetime.combine(row.due_on + timedelta(days=1), time(0), tzinfo=UTC)
        connection.execute(
            milestones.update()
            .where(milestones.c.id == row.id)
            .values(due_at=due_at, state="reached" if row.done_at else "open", created_at=now)
        )
    with op.batch_alter_table("milestones") as batch_op:
        batch_op.alter_column("due_at", existing_type=UtcDateTime(), nullable=False)
        batch_op.alter_column("created_at", existing_type=UtcDateTime(), nullable=False)
        batch_op.create_index("ix_milestones_state_due_at", ["state", "due_at"])

    with op.batch_alter_table("progress_updates") as batch_op:
        batch_op.add_column(sa.Column("private", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("author_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch_op.create_foreign_key("fk_progress_updates_author_id_people", "people", ["author_id"], ["id"])
        batch_op.create_index("ix_progress_updates_idea_id_id", ["idea_id", "id"])

    with op.batch_alter_table("incubations") as batch_op:
        batch_op.add_column(sa.Column("projected_benefits", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("projected_money_a_year", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("projected_hours_a_year", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("projected_people", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", UtcDateTime(), nullable=True))
        batch_op.create_index("ix_incubations_sponsor_id_started_at", ["sponsor_id", "started_at"])

    with op.batch_alter_table("outcomes") as batch_op:
        batch_op.add_column(sa.Column("benefits_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("money_saved_a_year", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("hours_saved_a_year", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("people_affected", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lessons", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("recorded_by", sa.String(320), nullable=True))

    with op.batch_alter_table("offers") as batch_op:
        batch_op.add_column(sa.Column("ranking", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("offered_by", sa.String(320), nullable=True))

    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "case_studies",
        sa.Column("id", big_id, primary_key=True),
        sa.Column("idea_id", big_id, sa.ForeignKey("ideas.id", name="fk_case_studies_idea_id_ideas"), nullable=False),
        sa.Column("slug", sa.String(120), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.String(300), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("what_was_done", sa.Text(), nullable=False),
        sa.Column("benefits", sa.Text(), nullable=True),
        sa.Column("money_saved_a_year", sa.Float(), nullable=True),
        sa.Column("hours_saved_a_year", sa.Float(), nullable=True),
        sa.Column("people_affected", sa.Integer(), nullable=True),
        sa.Column("lessons", sa.Text(), nullable=True),
        sa.Column("department", sa.String(100), nullable=True),
        sa.Column("theme", sa.String(100), nullable=True),
        sa.Column("sponsor_name", sa.String(200), nullable=False),
        sa.Column("written_by", big_id, sa.ForeignKey("people.id", name="fk_case_studies_written_by_people")),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("published_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_case_studies"),
        sa.UniqueConstraint("idea_id", name="uq_case_studies_idea_id"),
        sa.UniqueConstraint("slug", name="uq_case_studies_slug"),
    )
    op.create_index("ix_case_studies_state_published_at", "case_studies", ["state", "published_at"])
    op.create_index("ix_case_studies_department_published_at", "case_studies", ["department", "published_at"])
    op.create_index("ix_case_studies_theme_published_at", "case_studies", ["theme", "published_at"])
    op.create_table(
        "credit_consents",
        sa.Column("idea_id", big_id, sa.ForeignKey("ideas.id", name="fk_credit_consents_idea_id_ideas")),
        sa.Column("credit_by_name", sa.Boolean(), nullable=False),
        sa.Column("answered_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("idea_id", name="pk_credit_consents"),
    )


def downgrade() -> None:
    op.drop_table("credit_consents")
    op.drop_table("case_studies")
    with op.batch_alter_table("offers") as batch_op:
        for column in ("offered_by", "round", "ranking"):
            batch_op.drop_column(column)
    with op.batch_alter_table("outcomes") as batch_op:
        for column in ("recorded_by", "lessons", "people_affected", "hours_saved_a_year", "money_saved_a_year"):
            batch_op.drop_column(column)
        batch_op.drop_column("benefits_text")
    with op.batch_alter_table("incubations") as batch_op:
        batch_op.drop_index("ix_incubations_sponsor_id_started_at")
        for column in ("updated_at", "projected_people", "projected_hours_a_year", "projected_money_a_year"):
            batch_op.drop_column(column)
        batch_op.drop_column("projected_benefits")
    with op.batch_alter_table("progress_updates") as batch_op:
        batch_op.drop_index("ix_progress_updates_idea_id_id")
        batch_op.drop_constraint("fk_progress_updates_author_id_people", type_="foreignkey")
        batch_op.drop_column("author_id")
        batch_op.drop_column("private")
    with op.batch_alter_table("milestones") as batch_op:
        batch_op.drop_index("ix_milestones_state_due_at")
        for column in ("created_at", "overdue_at", "reminded_at", "state", "due_at"):
            batch_op.drop_column(column)
