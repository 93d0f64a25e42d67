"""Detection in the engine: deadline timers, late arrivals, duplicates, order, quarantine."""

from __future__ import annotations

from datetime import timedelta

from helpers import T0, ev, minutes
from makegood.testing import InMemoryStore

PROMISED = T0 + minutes(30)


def placed(id: str = "o1", customer: str = "c1", at=T0, promised=PROMISED, value: float = 24.0):
    return ev(f"placed-{id}", "order.placed", at, customer, id, promised_at=promised, value=value)


def delivered(id: str = "o1", customer: str = "c1", at=PROMISED):
    return ev(f"delivered-{id}", "order.delivered", at, customer, id)


def test_late_delivery_fires_at_promised_plus_15_minutes_by_the_timer(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest([placed()])
    clock.set(PROMISED + minutes(15) - timedelta(seconds=1))
    assert engine.tick().failures == 0
    assert not store.state.failures
    clock.set(PROMISED + minutes(15))
    assert engine.tick().failures == 1
    (failure,) = store.state.failures.values()
    assert (failure.detector, failure.category, failure.type) == (
        "late_delivery",
        "late_delivery",
        "process",
    )
    assert failure.occurred_at == PROMISED + minutes(15)
    assert failure.detection_latency_s == 0
    (case,) = store.state.cases.values()
    assert case.state == "acknowledged"
    assert [m.template for m in store.state.outbox.values()] == ["acknowledge"]


def test_on_time_delivery_disarms_both_deadlines(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest([placed()])
    assert {t.kind for t in store.state.timers.values()} == {"deadline"}
    engine.ingest([delivered(at=PROMISED - minutes(2))])
    assert not store.state.timers
    clock.advance(timedelta(hours=3))
    engine.tick()
    assert not store.state.failures and not store.state.cases


def test_a_late_arrival_records_its_lateness_and_the_voucher_follows_it(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest([placed()])
    clock.set(PROMISED + minutes(15))
    engine.tick()
    clock.set(PROMISED + minutes(38))
    engine.ingest([delivered(at=PROMISED + minutes(37))])
    (failure,) = store.state.failures.values()
    assert failure.lateness_s == 37 * 60
    assert failure.resolved_at == PROMISED + minutes(38)
    (voucher,) = store.state.compensations.values()
    assert (voucher.kind, voucher.amount, voucher.status) == ("voucher", 4, "granted")  # 30m band
    assert voucher.code == "TEST-000001"
    (case,) = store.state.cases.values()
    assert case.state == "resolved"
    templates = [m.template for m in store.state.outbox.values()]
    assert templates == ["acknowledge", "apology"]
    apology = store.state.outbox[f"{failure.id}:resolved:2"]
    assert apology.context["compensation"]["code"] == "TEST-000001"
    assert apology.context["failure"]["lateness_minutes"] == 37


def test_an_hour_late_is_evidence_and_the_voucher_grows_with_the_lateness(make_engine, clock):
    """The shipped policy recovers a very late order automatically (issue 10, point 23): the
    hour is on the case's timeline, the voucher follows the lateness, no person is needed."""
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest([placed()])
    clock.set(PROMISED + minutes(60))
    engine.tick()
    (case,) = store.state.cases.values()
    assert (case.severity, case.state, case.needs_person) == ("major", "acknowledged", False)
    very_late = next(f for f in store.state.failures.values() if f.detector == "very_late_delivery")
    assert very_late.evidence["evidence_only"]
    clock.set(PROMISED + minutes(75))
    engine.ingest([delivered(at=PROMISED + minutes(75))])
    (comp,) = store.state.compensations.values()
    assert (comp.status, comp.required_role, comp.amount) == ("granted", "auto", 8)
    case = store.state.cases[case.id]
    assert (case.state, case.needs_person) == ("resolved", False)


def test_duplicate_events_are_acknowledged_and_ignored(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    report = engine.ingest([placed(), placed()])
    assert (report.accepted, report.duplicates) == (1, 1)
    again = engine.ingest([placed()])
    assert (again.accepted, again.duplicates) == (0, 1)
    assert len(store.state.events) == 1


def test_delivered_before_placed_out_of_order(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    clock.set(PROMISED + minutes(60))
    engine.ingest(
        [delivered("o1", at=PROMISED - minutes(1)), delivered("o2", at=PROMISED + minutes(40))]
    )
    engine.ingest([placed("o1"), placed("o2")])
    failures = list(store.state.failures.values())
    assert [f.subject_id for f in failures] == ["o2"]
    assert failures[0].lateness_s == 40 * 60
    assert not store.state.timers or all(t.kind != "deadline" for t in store.state.timers.values())


def test_a_malformed_event_is_quarantined_and_the_rest_goes_through(make_engine):
    store = InMemoryStore()
    engine = make_engine(store)
    bad = {
        "id": "bad",
        "type": "order.placed",
        "occurred_at": "yesterday",
        "customer_id": "c1",
        "subject_id": "o9",
    }
    report = engine.ingest([placed(), bad, placed("o2")], source="test")
    assert report.accepted == 2
    ((index, rejection),) = report.rejected
    assert index == 1 and rejection.field == "occurred_at"
    (quarantined,) = store.state.quarantine
    assert (quarantined.event_id, quarantined.field) == ("bad", "occurred_at")
    assert "ISO 8601" in quarantined.reason and '"yesterday"' in quarantined.raw


def test_custom_event_types_are_stored_and_usable_by_rules(make_engine, policy):
    from dataclasses import replace

    from makegood.domain.policy import Detector, FailureSpec
    from makegood.domain.rules import compile_policy

    spec = replace(
        policy.policy,
        detectors=(
            *policy.policy.detectors,
            Detector(
                "missed_booking",
                "match",
                FailureSpec("process", "missed_booking", "major"),
                when='type == "booking.missed" and attributes.minutes_waited >= 20',
            ),
        ),
    )
    store = InMemoryStore()
    engine = make_engine(store, policy=compile_policy(spec))
    engine.ingest(
        [
            ev("b1", "booking.missed", T0, "c1", "bk1", minutes_waited=25),
            ev("b2", "booking.missed", T0, "c2", "bk2", minutes_waited=5),
        ]
    )
    assert [f.category for f in store.state.failures.values()] == ["missed_booking"]
    assert len(store.state.events) == 2
