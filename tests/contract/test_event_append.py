"""The append of an event is the one point of truth for acting on it once (issue 11, point 3):
the same id twice with the same payload is a duplicate, with another payload a conflict that
is quarantined and never acted on — also when two writers race."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from makegood.adapters.policy_file import parse_policy
from makegood.domain.rules import CompiledPolicy
from makegood.service_layer.engine import CONFLICT_REASON, Engine
from makegood.testing import FrozenClock, counting_codes

from .conftest import Database, StoreFactory, read_back
from .test_postgres_concurrency import in_threads

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
POLICY = """
version: 1
detectors:
  - name: item
    kind: match
    when: type == "order.item_issue"
    failure: {type: process, category: missing_item, severity: major}
playbooks:
  - name: refund
    steps:
      - {do: compensate, kind: refund, amount: {fixed: 5}}
      - {do: apologise, template: apology}
budgets: {per_case: 100, per_customer_30d: 100, global_per_day: 100000}
empowerment: {auto: 50, agent: 80, lead: 100}
"""


def issue(event_id: str, what: str, customer: str = "c1") -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "order.item_issue",
        "occurred_at": T.isoformat(),
        "customer_id": customer,
        "subject_id": f"o-{event_id}",
        "attributes": {"issue": what},
    }


def engine(store: Any, policy: CompiledPolicy) -> Engine:
    return Engine(store, policy, FrozenClock(T), event_time=False, new_code=counting_codes())


def test_same_payload_is_a_duplicate_another_is_a_conflict(store_factory: StoreFactory) -> None:
    store = store_factory()
    run = engine(store, parse_policy(POLICY))
    first = run.ingest([issue("e1", "missing"), issue("e1", "missing"), issue("e1", "wrong")])
    assert first.outcomes == ["accepted", "duplicate", "conflict"]
    assert (first.accepted, first.duplicates, first.conflicts) == (1, 1, 1)
    again = run.ingest(
        [issue("e1", "missing"), issue("e1", "damaged"), {"id": "x"}], lines=[4, 5, 6]
    )
    assert again.outcomes == ["duplicate", "conflict", "rejected"]
    stored = read_back(store)
    assert (len(stored.failures), len(stored.compensations)) == (1, 1)
    assert len(stored.outbox) == 1
    conflicts = [q for q in stored.quarantine if q.reason == CONFLICT_REASON]
    assert [(q.field, q.event_id, q.line) for q in conflicts] == [
        ("id", "e1", None),
        ("id", "e1", 5),
    ]
    assert '"damaged"' in conflicts[1].raw


def test_two_writers_racing_different_payloads_under_one_id_act_once(
    database: Database,
) -> None:
    policy = parse_policy(POLICY)
    stores = [database.store(migrate=n == 0) for n in range(2)]
    ids = [f"e{n:02d}" for n in range(60)]

    def send(writer: int) -> list[str]:
        what = ("missing", "wrong")[writer]
        run = engine(stores[writer], policy)
        return [run.ingest([issue(i, what, f"c{i}")]).outcomes[0] for i in ids]

    first, second = in_threads(lambda: send(0), lambda: send(1))
    assert sorted(zip(first, second, strict=True)) == sorted(
        [("accepted", "conflict")] * first.count("accepted")
        + [("conflict", "accepted")] * second.count("accepted")
    )
    stored = read_back(stores[0])
    assert len(stored.event_ids) == 60
    assert (len(stored.failures), len(stored.compensations), len(stored.outbox)) == (60, 60, 60)
    assert sum(q.reason == CONFLICT_REASON for q in stored.quarantine) == 60


def test_an_exact_resend_with_a_large_float_is_a_duplicate(store_factory: StoreFactory) -> None:
    """PostgreSQL's JSONB gives 1e20 back as 100000000000000000000: the same event, sent
    again, is a duplicate, not a conflict (found in review)."""
    store = store_factory()
    run = Engine(store, parse_policy(POLICY), FrozenClock(T), event_time=True,
                 new_code=counting_codes())  # fmt: skip
    event = {"id": "big-1", "type": "purchase", "occurred_at": T.isoformat(),
             "customer_id": "c1", "attributes": {"reach": 1e20, "ratio": 0.25}}  # fmt: skip
    assert run.ingest([event]).outcomes == ["accepted"]
    assert run.ingest([event]).outcomes == ["duplicate"]
