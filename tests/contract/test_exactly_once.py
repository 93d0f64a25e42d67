"""Exactly once does not depend on what a batch loads (issue 10, point 2): a failure older than
the history window is found by its natural key, and a key taken meanwhile by another
transaction is "already done" (the batch is retried) — never a second grant, charge or code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from makegood.adapters.policy_file import parse_policy
from makegood.domain.errors import AlreadyDone
from makegood.domain.model import GRANTED
from makegood.domain.rules import CompiledPolicy
from makegood.domain.world import Changes
from makegood.service_layer.engine import Engine
from makegood.testing import FrozenClock, InMemoryStore, counting_codes

from .conftest import StoreFactory, read_back
from .samples import BUDGETS, DAY, case, compensation, failure, load, spent, write

T = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

LOW_SCORE_VOUCHER = """
version: 1
detectors:
  - name: low_score
    kind: match
    when: type == "survey.answered" and attributes.case_id == null and attributes.score <= 2
    failure: {type: communication, category: poor_experience, severity: minor}
playbooks:
  - name: sorry
    steps:
      - {do: compensate, kind: voucher, amount: {fixed: 5}}
      - {do: follow_up}
budgets: {per_case: 100, per_customer_30d: 100, global_per_day: 10000}
empowerment: {auto: 50, agent: 80, lead: 100}
"""


def low_score(event_id: str, at: datetime) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "survey.answered",
        "occurred_at": at.isoformat(),
        "customer_id": "c1",
        "subject_id": "o1",
        "attributes": {"score": 1},
    }


def engine(store: Any, policy: CompiledPolicy, batch_size: int) -> Engine:
    return Engine(
        store,
        policy,
        FrozenClock(T),
        event_time=True,
        new_code=counting_codes(),
        batch_size=batch_size,
    )


def test_two_low_scores_100_days_apart_decide_alike_whatever_was_loaded(
    store_factory: StoreFactory,
) -> None:
    """The issue's reproduction (a 5 EUR voucher on a low score, two low scores on one order
    100 days apart, batches of 1). The second is older than the history window when it comes;
    it must meet the first failure by its key: never create it again (on main the first voucher
    was granted twice, its code overwritten, the budget charged twice).

    The repeated complaint is evidence on the recovered case (issue 10, point 3): on its
    timeline, never a second voucher, a second charge or a second survey; and the same with
    batches of 1 as with one batch of everything."""
    policy = parse_policy(LOW_SCORE_VOUCHER)
    scores = [low_score("s1", T), low_score("s2", T + timedelta(days=100))]
    tick = [low_score("s3", T + timedelta(days=101))]  # the watermark passes the second
    store = store_factory()
    run = engine(store, policy, batch_size=1)
    run.ingest(scores)
    run.ingest(tick)
    stored = read_back(store)
    first = next(f for f in stored.failures.values() if f.key == "low_score:o1")
    assert first.detected_at == T  # never created again
    assert [f.key for f in stored.failures.values()].count("low_score:o1") == 1
    vouchers = sorted(stored.compensations.values(), key=lambda c: c.created_at)
    assert (vouchers[0].failure_id, vouchers[0].code) == (first.id, "TEST-000001")
    assert len(vouchers) == 1
    assert [m.key for m in stored.outbox.values()].count(f"{first.case_id}:survey:0") == 1
    assert not [m for m in stored.outbox.values() if m.key.endswith(":survey:1")]
    evidence = [e for e in stored.timeline if e.kind == "evidence_added"]
    assert [e.data.get("repeat") for e in evidence] == [2, 3]  # s2, then s3
    assert stored.cases[first.case_id].reopened == 0
    granted = sum((c.amount for c in vouchers if c.status == GRANTED), Decimal(0))
    days = {c.decided_at.date() for c in vouchers if c.decided_at}
    assert sum(spent(store, *days).values(), Decimal(0)) == granted  # each charged once

    reference = InMemoryStore()
    whole = engine(reference, policy, batch_size=5000)
    whole.ingest(scores + tick)
    again = read_back(reference)
    assert sorted(f.key for f in stored.failures.values()) == sorted(
        f.key for f in again.failures.values()
    )
    assert sorted((c.key, c.code) for c in vouchers) == sorted(
        (c.key, c.code) for c in again.compensations.values()
    )


def test_an_old_failure_of_a_touched_subject_is_loaded_whatever_its_age(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    old = DAY - timedelta(days=400)
    then = datetime.combine(old, datetime.min.time(), tzinfo=UTC)
    write(
        store,
        case("k1"),
        failure("f1", detected_at=then, resolved_at=then + timedelta(hours=1)),
        compensation("v_old", created_at=then),
    )
    since = then + timedelta(days=300)
    assert load(store, customers={"c1"}, since=since).failures == {}
    snap = load(store, customers={"c1"}, subjects={"o1"}, since=since)
    assert sorted(snap.failures) == ["f1"]
    assert sorted(snap.compensations) == ["v_old"]  # owed to a loaded failure
    by_case = load(store, cases={"k1"}, since=since)  # a timer or a person's action on the case
    assert (sorted(by_case.failures), sorted(by_case.compensations)) == (["f1"], ["v_old"])


def test_a_created_key_taken_meanwhile_is_already_done_and_charges_nothing(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    first = compensation("v1")
    write(store, first, spend={DAY: Decimal("7.50")})
    again = compensation("v1")
    again.code = "OTHER"
    with store.session() as s:
        snap = s.load({"c1"}, (), (), datetime.min.replace(tzinfo=UTC), {DAY})
    snap.compensations["v1"] = again
    changes = Changes(compensations={"v1"}, created={"v1"}, global_spend={DAY: Decimal("7.50")})
    with pytest.raises(AlreadyDone), store.session() as s:
        s.save(changes, snap, BUDGETS)
    assert read_back(store).compensations["v1"].code == "CODE-v1"
    assert spent(store, DAY) == {DAY: Decimal("7.50")}


@pytest.mark.parametrize("restarted", [False, True])
def test_an_event_the_stored_state_refuses_is_quarantined_not_a_stuck_batch(
    store_factory: StoreFactory, restarted: bool
) -> None:
    """One bad event never stops the others: an event about another customer's subject (here
    one that already failed for its owner: acting on it would take the failure's key again)
    is refused with the reason and quarantined, the rest of the batch is handled. It stays in
    the log it was appended to. Whether the owner's state is kept in memory (the same engine)
    or read back from the store (a restarted one) makes no difference."""
    policy = parse_policy(LOW_SCORE_VOUCHER)
    store = store_factory()
    run = engine(store, policy, batch_size=5000)
    assert run.ingest([{**low_score("a1", T), "customer_id": "cA"}]).outcomes == ["accepted"]
    if restarted:
        run = engine(store, policy, batch_size=5000)
    batch = [
        {**low_score("b1", T), "customer_id": "cB"},  # o1 is cA's order
        {**low_score("b2", T), "customer_id": "cB", "subject_id": "o2"},
        {**low_score("b3", T), "customer_id": "cC", "subject_id": "o3"},
    ]
    report = run.ingest(batch)
    assert report.outcomes == ["rejected", "accepted", "accepted"]
    [(index, why)] = report.rejected
    assert (index, why.event_id) == (0, "b1")
    assert "not acted on" in why.reason
    stored = read_back(store)
    assert sorted(stored.event_ids) == ["a1", "b1", "b2", "b3"]
    assert [(q.event_id, q.field) for q in stored.quarantine] == [("b1", "subject_id")]
    assert sorted(f.key for f in stored.failures.values()) == [
        "low_score:o1",
        "low_score:o2",
        "low_score:o3",
    ]
    assert {f.customer_id for f in stored.failures.values() if f.key == "low_score:o1"} == {"cA"}
