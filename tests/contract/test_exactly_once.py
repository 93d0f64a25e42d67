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
from makegood.testing import FrozenClock, counting_codes

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


def test_two_low_scores_100_days_apart_give_one_failure_one_grant_one_survey(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    run = engine(store, parse_policy(LOW_SCORE_VOUCHER), batch_size=1)
    run.ingest([low_score("s1", T), low_score("s2", T + timedelta(days=100))])
    run.ingest([low_score("s3", T + timedelta(days=101))])  # the watermark passes the second
    stored = read_back(store)
    assert len(stored.failures) == 1
    [voucher] = stored.compensations.values()
    assert (voucher.status, voucher.amount, voucher.code) == (GRANTED, Decimal(5), "TEST-000001")
    surveys = [m for m in stored.outbox.values() if "survey" in m.context]
    assert len(surveys) == 1
    assert [c.reopened for c in stored.cases.values()] == [0]
    assert spent(store, T.date(), (T + timedelta(days=100)).date()) == {T.date(): Decimal(5)}


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
