"""incidents

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import makegood.adapters.sql.schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    at = makegood.adapters.sql.schema.UtcDateTime
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("spec", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("first_at", at(), nullable=False),
        sa.Column("last_at", at(), nullable=False),
        sa.Column("declared_at", at(), nullable=True),
        sa.Column("resolved_at", at(), nullable=True),
        sa.Column("signals", json, nullable=False),
        sa.Column("affected", json, nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("spent", makegood.adapters.sql.schema.DecimalText(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_status"))
    op.drop_table("incidents")
