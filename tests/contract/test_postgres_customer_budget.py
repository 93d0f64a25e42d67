"""Concurrent writers on the same customers never overspend one: four engines on the same
*new* customers (issue 11, point 1), and an engine racing a person's grant (issue 12). Every
transaction that decides for a customer holds the row of the customer's partition, which
exists before the customer's first row does. The global daily budget holds too."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from makegood.adapters.policy_file import parse_policy
from makegood.adapters.sql import schema as t
from makegood.domain.actions import ActionRefused, Actor
from makegood.service_layer.actions import Actions
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


RACE = POLICY.replace("per_customer_30d: 15", "per_customer_30d: 25")
RACERS = 20


def item_issue(n: int, order: str) -> dict[str, Any]:
    return {
        "id": f"race-{n:02d}-{order}",
        "type": "order.item_issue",
        "occurred_at": T.isoformat(),
        "customer_id": f"race-{n:02d}",
        "subject_id": f"race-{n:02d}-{order}",
        "attributes": {"issue": "missing"},
    }


def test_an_agents_grant_and_the_engines_at_the_same_moment_never_exceed_a_budget(
    postgres_database: Database,
) -> None:
    """Issue 12: the engine keeps customers in memory between batches, and a person's grant
    writes the same customers. Each customer has 15 left of 25; at the same moment the engine
    grants an automatic refund of 10 (a second item issue) and an agent grants 10 on the first
    case: one of the two fits, never both."""
    policy = parse_policy(RACE)
    store = postgres_database.store()
    engine = Engine(
        store, policy, FrozenClock(T), event_time=False, new_code=counting_codes("E"), batch_size=2
    )
    engine.ingest([item_issue(n, "a") for n in range(RACERS)])  # 10 granted to each: 15 left
    with store.engine.connect() as c:
        cases = {r.customer_id: r.id for r in c.execute(sa.select(t.cases))}
    assert len(cases) == RACERS
    actions = Actions(store, policy, FrozenClock(T), counting_codes("A"))
    agent = Actor("ana", "agent")

    def engine_grants() -> None:
        engine.ingest([item_issue(n, "b") for n in range(RACERS)])

    def agent_grants() -> list[str]:
        outcomes = []
        for n in range(RACERS):
            try:
                comp = actions.grant(cases[f"race-{n:02d}"], agent, "refund", Decimal(10), "sorry")
                outcomes.append(comp.status)
            except ActionRefused:
                outcomes.append("refused")
        return outcomes

    done, agent_outcomes = in_threads(engine_grants, agent_grants)
    assert done is None, done
    assert isinstance(agent_outcomes, list), agent_outcomes
    with store.engine.connect() as c:
        granted = c.execute(
            sa.select(t.compensations.c.customer_id, t.compensations.c.amount).where(
                t.compensations.c.status == "granted"
            )
        ).all()
    per_customer: dict[str, Decimal] = defaultdict(Decimal)
    for customer_id, amount in granted:
        per_customer[customer_id] += amount
    assert len(per_customer) == RACERS
    assert max(per_customer.values()) == Decimal(20)  # 10, and one of the two racing tens
    assert min(per_customer.values()) == Decimal(20)
