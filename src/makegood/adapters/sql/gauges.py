"""Current figures for the Prometheus gauges, read at scrape time: a few cheap counts, each
on an indexed column or a small table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from makegood.adapters.sql import schema as t
from makegood.domain.model import OPEN_STATES


@dataclass(frozen=True)
class Gauges:
    cases: dict[str, int]  # by state
    waiting: int  # open cases waiting for a person (the queue)
    approvals_pending: int
    outbox: dict[str, int]  # messages by status
    timers: int
    spent_today: Decimal  # the global daily budget's spend


def read_gauges(conn: sa.Connection, today: date) -> Gauges:
    c = t.cases.c
    by_state = {
        str(state): int(n)
        for state, n in conn.execute(sa.select(c.state, sa.func.count()).group_by(c.state))
    }
    waiting = conn.scalar(
        sa.select(sa.func.count())
        .select_from(t.cases)
        .where(c.needs_person.is_(True), c.state.in_(sorted(OPEN_STATES)))
    )
    pending = conn.scalar(
        sa.select(sa.func.count())
        .select_from(t.compensations)
        .where(t.compensations.c.status == "pending")
    )
    outbox = {
        str(status): int(n)
        for status, n in conn.execute(
            sa.select(t.outbox.c.status, sa.func.count()).group_by(t.outbox.c.status)
        )
    }
    timers = conn.scalar(sa.select(sa.func.count()).select_from(t.timers))
    spent_minor = conn.scalar(
        sa.select(t.budget_spend.c.spent_minor).where(t.budget_spend.c.day == today)
    )
    return Gauges(
        by_state,
        int(waiting or 0),
        int(pending or 0),
        outbox,
        int(timers or 0),
        Decimal(spent_minor or 0) / 100,
    )
