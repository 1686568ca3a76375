"""Screening and notify write less for the database to check and compress.

- similarity_bands loses its foreign key to ideas. Screening writes 64 band rows an idea, and the key
  checked each against `ideas` (a trigger a row), which doubled the cost of the insert. A band row is
  an index entry written in the transaction that has just read its idea, and ideas are never deleted,
  so the check could never fail.
- On PostgreSQL 14 and later, notifications.body is compressed with lz4 rather than pglz, where the
  server has it: each body (about 3 KB, text and HTML) is compressed when stored, and lz4 takes half
  the server's time for the same size. It applies to bodies stored from now on.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LZ4 = """
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 140000 THEN
        EXECUTE 'ALTER TABLE notifications ALTER COLUMN body SET COMPRESSION {method}';
    END IF;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;  -- a server built without lz4 keeps pglz
END
$$
"""


def upgrade() -> None:
    with op.batch_alter_table("similarity_bands") as batch_op:
        batch_op.drop_constraint("fk_similarity_bands_idea_id_ideas", type_="foreignkey")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LZ4.format(method="lz4"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LZ4.format(method="pglz"))
    with op.batch_alter_table("similarity_bands") as batch_op:
        batch_op.create_foreign_key("fk_similarity_bands_idea_id_ideas", "ideas", ["idea_id"], ["id"])
