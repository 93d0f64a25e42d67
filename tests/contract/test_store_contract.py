"""The store contract: `Store`/`StoreSession` as the engine uses them, the same on memory,
SQLite and PostgreSQL (the `store` fixture runs each test on each backend)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from makegood.domain.errors import AlreadyDone, BudgetConflict
from makegood.domain.event import Quarantined

from .conftest import read_back
from .samples import (
    BUDGETS,
    DAY,
    T,
    case,
    changes_of,
    compensation,
    customer,
    due,
    event,
    exact,
    failure,
    load,
    message,
    spent,
    subject,
    timer,
    write,
)


# events, quarantine, values ---------------------------------------------------------------------
def test_events_are_deduplicated_by_id(store: Any) -> None:
    with store.session() as s:
        assert s.known_event_ids({"e1"}) == set()
        s.add_events([event("e1"), event("e2")], T)
        assert s.known_event_ids({"e1", "e3"}) == {"e1"}  # visible in its own transaction
    with store.session() as s:
        assert s.known_event_ids({"e1", "e2", "e3"}) == {"e1", "e2"}
        s.add_events([event("e1", note="again"), event("e3")], T + timedelta(minutes=1))
        s.add_events([event("e3")], T)  # twice in one session is harmless too
    with store.session() as s:
        assert s.known_event_ids({"e1", "e2", "e3", "e4"}) == {"e1", "e2", "e3"}
    assert read_back(store).event_ids == ["e1", "e2", "e3"]


def test_known_event_ids_answers_for_more_ids_than_one_statement_binds(store: Any) -> None:
    ids = [f"e{n:05d}" for n in range(2500)]
    with store.session() as s:
        s.add_events([event(i) for i in ids[::2]], T)
    with store.session() as s:
        assert s.known_event_ids(ids) == set(ids[::2])


def test_quarantine_keeps_source_line_field_reason_and_raw(store: Any) -> None:
    items = [
        Quarantined(
            "orders.jsonl",
            42,
            '{"id": "x1", "occurred_at": "yesterday"}',
            "occurred_at",
            "not an ISO 8601 date-time: 'yesterday'",
            "x1",
        ),
        Quarantined("api", None, "[1, 2]\nΩ ünïcödé", "", "an event must be a JSON object", None),
    ]
    with store.session() as s:
        s.add_quarantined(items, T)
        s.add_quarantined([], T)
    assert read_back(store).quarantine == items


def test_values_round_trip_and_overwrite(store: Any) -> None:
    with store.session() as s:
        assert s.get_value("watermark") is None
        s.set_value("watermark", T.isoformat())
        assert s.get_value("watermark") == T.isoformat()
    with store.session() as s:
        assert s.get_value("watermark") == T.isoformat()
        s.set_value("watermark", "later")
        s.set_value("other", "")
    with store.session() as s:
        assert (s.get_value("watermark"), s.get_value("other")) == ("later", "")


# timers -----------------------------------------------------------------------------------------
def test_armed_timers_come_due_in_order(store: Any) -> None:
    minute = timedelta(minutes=1)
    write(
        store,
        timers=[
            timer("t3", T + 3 * minute),
            timer("t1", T + minute, deep={"a": [1]}),
            timer("t2b", T + 2 * minute),
            timer("t2a", T + 2 * minute),
            timer("later", T + timedelta(days=1)),
        ],
    )
    assert [x.key for x in due(store, T)] == []
    assert [x.key for x in due(store, T + 2 * minute)] == ["t1", "t2a", "t2b"]
    assert [x.key for x in due(store, T + 2 * minute, limit=2)] == ["t1", "t2a"]
    assert exact(due(store, T + minute)) == exact([timer("t1", T + minute, deep={"a": [1]})])
    # looking does not consume: a timer stays until the batch that fired it says it is done
    assert [x.key for x in due(store, T + 2 * minute)] == ["t1", "t2a", "t2b"]


def test_done_timers_are_gone_and_rearming_replaces(store: Any) -> None:
    minute = timedelta(minutes=1)
    write(
        store,
        timers=[timer("t1", T + minute), timer("t2", T + 2 * minute), timer("t3", T + 3 * minute)],
    )
    write(
        store,
        done=["t1", "never-armed"],
        timers=[timer("t2", T + 10 * minute, step=2), timer("t4", T + 4 * minute)],
    )
    assert [x.key for x in due(store, T + 5 * minute)] == ["t3", "t4"]
    assert exact(due(store, T + timedelta(hours=1))) == exact(
        [
            timer("t3", T + 3 * minute),
            timer("t4", T + 4 * minute),
            timer("t2", T + 10 * minute, step=2),
        ]
    )


# load: what a batch sees ------------------------------------------------------------------------
def test_load_returns_every_field_exactly_as_saved(store: Any) -> None:
    saved = [customer("c1"), subject("o1"), case("k1"), failure("f1"), compensation("v1")]
    write(
        store,
        *saved,
        customer("c2"),
        subject("o2", "c2"),
        case("k2", "c2", "o2"),
        failure("f2", "c2", "k2"),
        compensation("v2", "c2"),
    )
    snap = load(store, customers={"c1"}, since=T - timedelta(days=1))
    assert exact(snap.customers) == exact({"c1": saved[0]})
    assert exact(snap.subjects) == exact({"o1": saved[1]})  # the subject of a loaded case
    assert exact(snap.cases) == exact({"k1": saved[2]})
    assert exact(snap.failures) == exact({"f1": saved[3]})
    assert exact(snap.compensations) == exact({"v1": saved[4]})


def test_load_by_case_brings_its_customer_and_saving_again_overwrites(store: Any) -> None:
    write(
        store,
        customer("c1"),
        case("k1"),
        customer("c2"),
        case("k2", "c2", "o2"),
        subject("o2", "c2"),
        subject("o3", "c2"),
    )
    changed = case("k2", "c2", "o2")
    changed.state, changed.collaborators, changed.experiment = "closed", [], {}
    changed.owner = changed.sla_due_at = changed.survey_score = None
    write(store, changed)
    snap = load(store, cases={"k2"}, subjects={"o3"})
    assert set(snap.customers) == {"c2"}
    assert exact(snap.cases) == exact({"k2": changed})
    assert set(snap.subjects) == {"o2", "o3"}


def test_load_keeps_only_recent_or_open_failures_and_compensations(store: Any) -> None:
    old, new = T - timedelta(days=40), T + timedelta(minutes=1)
    write(
        store,
        failure("f_old_resolved", detected_at=old, resolved_at=old + timedelta(hours=1)),
        failure("f_old_open", detected_at=old),
        failure("f_since_resolved", detected_at=T, resolved_at=T + timedelta(hours=1)),
        failure("f_new_resolved", detected_at=new, resolved_at=new + timedelta(hours=1)),
        failure("f_other", customer_id="c9", detected_at=new),
        compensation("v_old_granted", created_at=old),
        compensation("v_old_rejected", created_at=old, status="rejected"),
        compensation("v_old_pending", created_at=old, status="pending"),
        compensation("v_since_granted", created_at=T),
        compensation("v_new_granted", created_at=new),
        compensation("v_other", customer_id="c9", created_at=new),
    )
    snap = load(store, customers={"c1"}, since=T)
    assert sorted(snap.failures) == ["f_new_resolved", "f_old_open"]
    assert sorted(snap.compensations) == ["v_new_granted", "v_old_pending"]


def test_messages_per_day_counts_customer_messages_per_customer_and_day(store: Any) -> None:
    at = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    next_day = DAY + timedelta(days=1)
    write(
        store,
        outbox=[
            message("m01", created_at=at - timedelta(microseconds=1)),  # the day before
            message("m02", created_at=at),
            message(
                "m03", created_at=at + timedelta(hours=23, minutes=59, seconds=59), channel="sms"
            ),
            message("m04", created_at=at + timedelta(hours=9), channel="action"),  # a system call
            message("m05", created_at=at + timedelta(days=1)),
            message("m06", created_at=at + timedelta(days=3)),  # a day not asked for
            message("m07", customer_id="c2", created_at=at + timedelta(hours=1)),
            message("m08", customer_id="c3", created_at=at + timedelta(hours=1)),  # not loaded
        ],
    )
    snap = load(store, customers={"c1", "c2"}, days={DAY, next_day})
    assert snap.messages_per_day == {("c1", DAY): 2, ("c1", next_day): 1, ("c2", DAY): 1}


# outbox writes ----------------------------------------------------------------------------------
def test_outbox_inserts_are_idempotent_on_key(store: Any) -> None:
    first = message("m1", key="fail-1:detected:0")
    write(store, outbox=[first])
    write(
        store,
        outbox=[
            message("m2", key="fail-1:detected:0", template="other"),
            message("m3", key="fail-2:detected:0"),
        ],
    )
    write(
        store,
        outbox=[
            message("m4", key="fail-3:detected:0"),
            message("m5", key="fail-3:detected:0", template="other"),
        ],
    )
    stored = read_back(store).outbox
    assert sorted(stored) == ["m1", "m3", "m4"]
    # SQL stores write next_attempt_at = created_at (due at once); memory leaves it unset
    assert exact(replace(stored["m1"], next_attempt_at=None)) == exact(first)
    assert stored["m4"].template == "apology"


# the global budget ------------------------------------------------------------------------------
def test_global_spend_adds_up_to_the_daily_limit(store: Any) -> None:
    next_day = DAY + timedelta(days=1)
    write(store, spend={DAY: Decimal("3.50")})
    write(store, spend={DAY: Decimal("3.50"), next_day: Decimal("9.99")})
    assert spent(store, DAY, next_day) == {DAY: Decimal("7.00"), next_day: Decimal("9.99")}
    write(store, spend={DAY: Decimal("3.00")})  # exactly the limit is allowed
    with pytest.raises(BudgetConflict):
        write(store, spend={DAY: Decimal("0.01")})
    assert spent(store, DAY, next_day) == {DAY: Decimal(10), next_day: Decimal("9.99")}


def test_a_budget_conflict_writes_nothing_of_its_batch(store: Any) -> None:
    write(store, spend={DAY + timedelta(days=1): Decimal(9)})
    changes, snapshot = changes_of(
        customer("c1"),
        case("k1"),
        compensation("v1"),
        outbox=[message("m1")],
        timers=[timer("t1", T)],
        spend={DAY: Decimal(1), DAY + timedelta(days=1): Decimal(2)},
    )  # the second day overflows
    with pytest.raises(BudgetConflict), store.session() as s:
        s.add_events([event("e1")], T)
        s.save(changes, snapshot, BUDGETS)
    stored = read_back(store)
    assert (stored.event_ids, stored.customers, stored.cases, stored.outbox) == ([], {}, {}, {})
    assert due(store, T) == []
    assert spent(store, DAY, DAY + timedelta(days=1)) == {DAY + timedelta(days=1): Decimal(9)}


def test_a_session_that_raises_writes_nothing(store: Any) -> None:
    changes, snapshot = changes_of(
        customer("c1"),
        subject("o1"),
        case("k1"),
        failure("f1"),
        compensation("v1"),
        outbox=[message("m1")],
        timers=[timer("t1", T)],
        spend={DAY: Decimal(1)},
    )
    with pytest.raises(RuntimeError, match="boom"), store.session() as s:
        s.add_events([event("e1")], T)
        s.add_quarantined([Quarantined("api", 1, "{}", "id", "is required")], T)
        s.set_value("watermark", "x")
        s.save(changes, snapshot, BUDGETS)
        raise RuntimeError("boom")
    stored = read_back(store)
    assert stored.event_ids == [] and stored.quarantine == [] and stored.outbox == {}
    assert (
        stored.customers,
        stored.subjects,
        stored.cases,
        stored.failures,
        stored.compensations,
        stored.timeline,
    ) == ({}, {}, {}, {}, {}, [])
    assert due(store, T) == []
    assert spent(store, DAY) == {}
    with store.session() as s:
        assert s.get_value("watermark") is None


def test_profile_locales_are_read_outside_a_session(store: Any) -> None:
    write(store, customer("c1"), customer("c2"))
    assert store.profile_locales({"c1", "c9"}) == {"c1": "es"}  # c9 has no profile yet


# done once: a failure or compensation written a second time is "already done" --------------------
@pytest.mark.parametrize("same", ["id", "key"])
def test_a_failure_or_compensation_created_twice_is_already_done(store: Any, same: str) -> None:
    """Another transaction (a worker, a person) created it first: the batch is refused whole
    and retried on fresh state, never written a second time, whether the id or the natural
    key is what is taken."""
    write(store, customer(), case(), failure("f1"), compensation("v1"))
    again_failure = failure("f1") if same == "id" else replace(failure("f2"), key=failure("f1").key)
    again_compensation = (
        compensation("v1")
        if same == "id"
        else replace(compensation("v2"), key=compensation("v1").key)
    )
    for again in (again_failure, again_compensation):
        changes, snapshot = changes_of(again)
        changes.created.add(again.id)
        with pytest.raises(AlreadyDone), store.session() as s:
            s.save(changes, snapshot, BUDGETS)
    stored = read_back(store)
    assert sorted(stored.failures) == ["f1"]
    assert sorted(stored.compensations) == ["v1"]
