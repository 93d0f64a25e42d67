"""partitions: a version per partition of the customers' state, and their number

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PARTITIONS = 32  # makegood.domain.partition.DEFAULT_PARTITIONS when this store was made


def upgrade() -> None:
    table = op.create_table(
        "partitions",
        sa.Column("partition", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("partition"),
    )
    op.bulk_insert(table, [{"partition": p, "version": 0} for p in range(PARTITIONS)])
    state = sa.table("engine_state", sa.column("name", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(state, [{"name": "partitions", "value": str(PARTITIONS)}])


def downgrade() -> None:
    op.execute("DELETE FROM engine_state WHERE name = 'partitions'")
    op.drop_table("partitions")
