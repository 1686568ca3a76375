"""Intake channels: idempotent sources, attachments, questions and answers, inbound mail, duplicates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("ideas") as batch_op:
        batch_op.add_column(sa.Column("source_key", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("source_fingerprint", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_ideas_source_key"), ["source_key"])
    op.create_table(
        "attachments",
        sa.Column("id", BigId, nullable=False),
        sa.Column("idea_id", BigId, nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.ForeignKeyConstraint(["idea_id"], ["ideas.id"], name=op.f("fk_attachments_idea_id_ideas")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index(op.f("ix_attachments_idea_id"), "attachments", ["idea_id"], unique=False)
    op.create_table(
        "questions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("idea_id", BigId, nullable=False),
        sa.Column("task_id", BigId, nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("asked_at", Stamp, nullable=False),
        sa.Column("due_at", Stamp, nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("answered_at", Stamp, nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["idea_id"], ["ideas.id"], name=op.f("fk_questions_idea_id_ideas")),
        sa.ForeignKeyConstraint(["task_id"], ["review_tasks.id"], name=op.f("fk_questions_task_id_review_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questions")),
    )
    op.create_index(op.f("ix_questions_idea_id"), "questions", ["idea_id"], unique=False)
    op.create_table(
        "idea_messages",
        sa.Column("id", BigId, nullable=False),
        sa.Column("idea_id", BigId, nullable=False),
        sa.Column("question_id", BigId, nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", Stamp, nullable=False),
        sa.ForeignKeyConstraint(["idea_id"], ["ideas.id"], name=op.f("fk_idea_messages_idea_id_ideas")),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], name=op.f("fk_idea_messages_question_id_questions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idea_messages")),
    )
    op.create_index(op.f("ix_idea_messages_idea_id"), "idea_messages", ["idea_id"], unique=False)
    op.create_table(
        "inbound_mail",
        sa.Column("message_key", sa.String(length=64), nullable=False),
        sa.Column("received_at", Stamp, nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("idea_id", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("message_key", name=op.f("pk_inbound_mail")),
    )
    op.create_table(
        "duplicate_candidates",
        sa.Column("idea_id", BigId, nullable=False),
        sa.Column("other_idea_id", BigId, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("found_at", Stamp, nullable=False),
        sa.ForeignKeyConstraint(["idea_id"], ["ideas.id"], name=op.f("fk_duplicate_candidates_idea_id_ideas")),
        sa.ForeignKeyConstraint(
            ["other_idea_id"], ["ideas.id"], name=op.f("fk_duplicate_candidates_other_idea_id_ideas")
        ),
        sa.PrimaryKeyConstraint("idea_id", "other_idea_id", name=op.f("pk_duplicate_candidates")),
    )
    op.create_table(
        "similarity_bands",
        sa.Column("band", sa.BigInteger(), nullable=False),
        sa.Column("idea_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(["idea_id"], ["ideas.id"], name=op.f("fk_similarity_bands_idea_id_ideas")),
        sa.PrimaryKeyConstraint("band", "idea_id", name=op.f("pk_similarity_bands")),
    )


def downgrade() -> None:
    op.drop_table("similarity_bands")
    op.drop_table("duplicate_candidates")
    op.drop_table("inbound_mail")
    op.drop_index(op.f("ix_idea_messages_idea_id"), table_name="idea_messages")
    op.drop_table("idea_messages")
    op.drop_index(op.f("ix_questions_idea_id"), table_name="questions")
    op.drop_table("questions")
    op.drop_index(op.f("ix_attachments_idea_id"), table_name="attachments")
    op.drop_table("attachments")
    with op.batch_alter_table("ideas") as batch_op:
        batch_op.drop_constraint(op.f("uq_ideas_source_key"), type_="unique")
        batch_op.drop_column("source_fingerprint")
        batch_op.drop_column("source_key")
