"""leases and a place in the log per partition (issue 13): each partition's owner, epoch and
lease, the place acted on up to; each event's partition; the workers alive

Revision ID: 0007
Revises: 0006
"""

import zlib

import sqlalchemy as sa
from alembic import op

import makegood.adapters.sql.schema

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    at = makegood.adapters.sql.schema.UtcDateTime
    with op.batch_alter_table("partitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("epoch", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("lease_until", at(), nullable=True))
        batch_op.add_column(
            sa.Column("applied", sa.BigInteger(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("partition", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index("ix_events_partition_seq", ["partition", "seq"], unique=False)
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("started_at", at(), nullable=False),
        sa.Column("seen_until", at(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # events already stored: their partition (CRC-32 of the customer id, as
    # makegood.domain.partition computes it; SQL has no portable CRC-32), and each
    # partition's place is the last of its events the engine acted on
    bind = op.get_bind()
    count = int(
        bind.scalar(sa.text("SELECT value FROM engine_state WHERE name = 'partitions'")) or 32
    )
    applied = int(
        bind.scalar(sa.text("SELECT value FROM engine_state WHERE name = 'applied'")) or 0
    )
    rows = bind.execute(sa.text("SELECT id, customer_id, seq FROM events")).all()
    places: dict[int, int] = {}
    updates = []
    for event_id, customer_id, seq in rows:
        partition = zlib.crc32(customer_id.encode()) % count
        updates.append({"id": event_id, "p": partition})
        if seq <= applied:
            places[partition] = max(places.get(partition, 0), seq)
    if updates:
        bind.execute(sa.text("UPDATE events SET partition = :p WHERE id = :id"), updates)
    if places:
        bind.execute(
            sa.text("UPDATE partitions SET applied = :a WHERE partition = :p"),
            [{"p": p, "a": a} for p, a in places.items()],
        )


def downgrade() -> None:
    op.drop_table("workers")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_partition_seq")
        batch_op.drop_column("partition")
    with op.batch_alter_table("partitions", schema=None) as batch_op:
        batch_op.drop_column("applied")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("epoch")
        batch_op.drop_column("owner")
