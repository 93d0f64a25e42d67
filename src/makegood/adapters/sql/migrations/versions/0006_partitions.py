"""partitions and the log: a version per partition of the customers' state, their number;
each event's place in the log, and the place the engine has acted on up to

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
    # events already stored were acted on when they arrived: they take their places in the
    # order they were received, and the engine goes on after the last of them
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE events SET seq = placed.n FROM (SELECT id, row_number() OVER "
        "(ORDER BY received_at, id) AS n FROM events) AS placed WHERE events.id = placed.id"
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_index(batch_op.f("ix_events_seq"), ["seq"], unique=True)
    op.execute(
        "INSERT INTO engine_state (name, value) "
        "SELECT 'applied', CAST(COALESCE(MAX(seq), 0) AS VARCHAR(20)) FROM events"
    )


def downgrade() -> None:
    op.execute("DELETE FROM engine_state WHERE name IN ('partitions', 'applied')")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_seq"))
        batch_op.drop_column("seq")
    op.drop_table("partitions")
