"""The tables, as SQLAlchemy Core metadata. Alembic migrations are checked against it.

Datetimes are stored aware (UTC); amounts as exact decimal text, or whole cents where SQL must
add them up (budget counters).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on SQLite (no time zones) as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DecimalText(sa.TypeDecorator[Decimal]):
    impl = sa.String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


Json = sa.JSON().with_variant(JSONB(), "postgresql")
Id = sa.String(200)


def _at(name: str, **kw: Any) -> sa.Column[datetime]:
    return sa.Column(name, UtcDateTime(), **kw)


events = sa.Table(
    "events",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("type", sa.String(100), nullable=False),
    _at("occurred_at", nullable=False),
    sa.Column("customer_id", Id, nullable=False, index=True),
    sa.Column("subject_id", Id),
    sa.Column("attributes", Json, nullable=False),
    _at("received_at", nullable=False),
    # the place in the log: the engine acts on events in this order (engine_state `applied`)
    sa.Column("seq", sa.BigInteger, nullable=False, index=True, unique=True),
    # the customer's partition: a worker reads the log of the partitions it owns (issue 13)
    sa.Column("partition", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_events_partition_seq", "partition", "seq"),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _at("received_at", nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("line", sa.Integer),
    sa.Column("event_id", Id),
    sa.Column("field", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(300)),
    sa.Column("email", sa.String(320)),
    sa.Column("phone", sa.String(50)),
    sa.Column("locale", sa.String(20), nullable=False),
    sa.Column("tier", sa.String(50), nullable=False),
    sa.Column("lifetime_value", DecimalText(), nullable=False),
    sa.Column("channel", sa.String(50)),
    sa.Column("attributes", Json, nullable=False),
)

subjects = sa.Table(
    "subjects",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("customer_id", Id, nullable=False, index=True),
    sa.Column("attributes", Json, nullable=False),
    sa.Column("seen", Json, nullable=False),
)

timers = sa.Table(
    "timers",
    metadata,
    sa.Column("key", sa.String(400), primary_key=True),
    _at("due_at", nullable=False, index=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("customer_id", Id, nullable=False),
    sa.Column("subject_id", Id),
    sa.Column("case_id", Id),
    sa.Column("data", Json, nullable=False),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("customer_id", Id, nullable=False),
    sa.Column("subject_key", Id, nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("category", sa.String(100), nullable=False),
    _at("opened_at", nullable=False),
    _at("updated_at", nullable=False),
    sa.Column("needs_person", sa.Boolean, nullable=False),
    sa.Column("owner", sa.String(200)),
    sa.Column("collaborators", Json, nullable=False),
    _at("sla_due_at"),
    _at("acknowledged_at"),
    _at("resolved_at"),
    _at("closed_at"),
    sa.Column("survey_score", sa.Integer),
    sa.Column("reopened", sa.Integer, nullable=False),
    sa.Column("follow_up", sa.Boolean, nullable=False),
    sa.Column("experiment", Json, nullable=False),
    sa.UniqueConstraint("customer_id", "subject_key", name="uq_cases_customer_subject"),
)

failures = sa.Table(
    "failures",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("key", sa.String(400), nullable=False, unique=True),
    sa.Column("detector", sa.String(100), nullable=False),
    sa.Column("customer_id", Id, nullable=False, index=True),
    sa.Column("subject_id", Id),
    sa.Column("case_id", Id, nullable=False, index=True),
    sa.Column("type", sa.String(30), nullable=False),
    sa.Column("category", sa.String(100), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    _at("occurred_at", nullable=False),
    _at("detected_at", nullable=False),
    sa.Column("lateness_s", sa.Float),
    _at("resolved_at"),
    sa.Column("playbook", sa.String(100)),
    sa.Column("evidence", Json, nullable=False),
)

timeline = sa.Table(
    "timeline",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", Id, nullable=False, index=True),
    _at("at", nullable=False),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("data", Json, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("key", sa.String(400), nullable=False, unique=True),
    sa.Column("case_id", Id, index=True),
    sa.Column("customer_id", Id, nullable=False, index=True),
    sa.Column("channel", sa.String(50), nullable=False),
    sa.Column("template", sa.String(100), nullable=False),
    sa.Column("locale", sa.String(20), nullable=False),
    sa.Column("recipient", sa.String(500)),
    sa.Column("context", Json, nullable=False),
    _at("created_at", nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    _at("next_attempt_at", index=True),
    sa.Column("last_error", sa.Text),
    _at("sent_at"),
)

compensations = sa.Table(
    "compensations",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("key", sa.String(400), nullable=False, unique=True),
    sa.Column("case_id", Id, nullable=False, index=True),
    sa.Column("customer_id", Id, nullable=False, index=True),
    sa.Column("failure_id", Id, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("amount", DecimalText(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("required_role", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    _at("created_at", nullable=False),
    _at("decided_at"),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("code", sa.String(64), unique=True),
    _at("expires_at"),
)

budget_spend = sa.Table(
    "budget_spend",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("spent_minor", sa.BigInteger, nullable=False),
)

engine_state = sa.Table(
    "engine_state",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# one row per partition (see makegood.domain.partition); `version` moves with every transaction
# that writes the partition's state, so an engine keeping that state in memory knows when
# another writer (a person's action, another process) changed it
partitions = sa.Table(
    "partitions",
    metadata,
    sa.Column("partition", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    # the lease (issue 13): who owns the partition until when; taking it moves `epoch` on,
    # and every write of the partition's state by a lease holder checks the epoch (fencing)
    sa.Column("owner", sa.String(200)),
    sa.Column("epoch", sa.BigInteger, nullable=False, server_default="0"),
    _at("lease_until"),
    # the place in the log (events.seq) acted on for this partition, committed with its state
    sa.Column("applied", sa.BigInteger, nullable=False, server_default="0"),
    # the partition's time in event time (issue 12) and the place in the whole log it follows
    # up to: a worker's partitions follow the log (every partition's events), not only their own
    _at("watermark"),
    sa.Column("followed", sa.BigInteger, nullable=False, server_default="0"),
)

# the workers alive (issue 13): each renews its row; a fair share of the partitions is P
# divided by the workers whose row has not expired
workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    _at("started_at", nullable=False),
    _at("seen_until", nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    _at("created_at", nullable=False),
    _at("revoked_at"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # SHA-256 of the cookie's value
    sa.Column("token_id", sa.String(32), nullable=False, index=True),
    _at("created_at", nullable=False),
    _at("expires_at", nullable=False, index=True),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("spec", sa.String(100), nullable=False),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    _at("first_at", nullable=False),
    _at("last_at", nullable=False),
    _at("declared_at"),
    _at("resolved_at"),
    sa.Column("signals", Json, nullable=False),
    sa.Column("affected", Json, nullable=False),
    sa.Column("stage", sa.Integer, nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("messages", sa.Integer, nullable=False),
    sa.Column("spent", DecimalText(), nullable=False),
)
