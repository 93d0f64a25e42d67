"""a watermark per partition (issue 12): each partition's time in event time, and the place
in the whole log that time follows up to (a partition with nothing new follows the log)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import makegood.adapters.sql.schema

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    at = makegood.adapters.sql.schema.UtcDateTime
    with op.batch_alter_table("partitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("watermark", at(), nullable=True))
        batch_op.add_column(
            sa.Column("followed", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("partitions", schema=None) as batch_op:
        batch_op.drop_column("followed")
        batch_op.drop_column("watermark")
