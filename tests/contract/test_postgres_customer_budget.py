"""Four concurrent writers on the same *new* customers never overspend a customer (issue 11,
point 1): the per-customer lock is an advisory lock on the customer's key, so it exists before
the customer's first row does. The global daily budget holds too."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from makegood.adapters.policy_file import parse_policy
from makegood.adapters.sql import schema as t
from makegood.service_layer.engine import Engine
from makegood.testing import FrozenClock, counting_codes

from .conftest import Database
from .test_postgres_concurrency import in_threads

pytestmark = pytest.mark.postgres

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CUSTOMERS = 80
WRITERS = 4
POLICY = """
version: 1
detectors:
  - name: missing
    kind: match
    when: type == "order.item_issue"
    failure: {type: process, category: missing_item, severity: major}
playbooks:
  - name: refund
    steps:
      - {do: compensate, kind: refund, amount: {fixed: 10}}
budgets: {per_case: 100, per_customer_30d: 15, global_per_day: 500}
empowerment: {auto: 50, agent: 80, lead: 100}
"""


def issues(writer: int, round_: int) -> list[dict[str, Any]]:
    """Two item issues per customer (two orders): one refund fits the limit, the second not."""
    return [
        {
            "id": f"w{writer}-r{round_}-n{n}-{order}",
            "type": "order.item_issue",
            "occurred_at": T.isoformat(),
            "customer_id": f"new-{n:02d}",
            "subject_id": f"o-w{writer}-r{round_}-n{n}-{order}",
            "attributes": {"issue": "missing"},
        }
        for n in range(CUSTOMERS)
        for order in range(2)
    ]


def test_four_writers_on_new_customers_never_overspend_one(postgres_database: Database) -> None:
    policy = parse_policy(POLICY)
    stores = [postgres_database.store(migrate=n == 0) for n in range(WRITERS)]

    def write(writer: int) -> None:
        engine = Engine(
            stores[writer],
            policy,
            FrozenClock(T),
            event_time=False,
            new_code=counting_codes(f"W{writer}"),
            batch_size=2 * CUSTOMERS,
        )
        for round_ in range(2):
            engine.ingest(issues(writer, round_))

    results = in_threads(*(lambda w=w: write(w) for w in range(WRITERS)))
    assert results == [None] * WRITERS
    with stores[0].engine.connect() as c:
        granted = c.execute(
            sa.select(t.compensations.c.customer_id, t.compensations.c.amount).where(
                t.compensations.c.status == "granted"
            )
        ).all()
        spent_minor = c.scalar(sa.select(t.budget_spend.c.spent_minor))
    per_customer: dict[str, Decimal] = defaultdict(Decimal)
    for customer_id, amount in granted:
        per_customer[customer_id] += amount
    assert max(per_customer.values()) <= Decimal(15)  # one refund each at most, the rest wait
    total = sum(per_customer.values(), Decimal(0))
    assert total == Decimal(500)  # 80 refunds wanted, the global daily budget grants 50
    assert Decimal(spent_minor) / 100 == total
    assert len(per_customer) == 50
