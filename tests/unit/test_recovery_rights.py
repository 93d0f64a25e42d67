"""Issue 10, points 1, 3, 4 and 5, on the shipped policy: a complaint before the parcel arrives
never cancels the recovery, repeated complaints leave a trace, a cancellation is not a late
arrival, and incident notices are told honestly."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from helpers import T0, ev, minutes
from makegood.bootstrap import default_analyzer
from makegood.domain.policy import Amount, Detector, IncidentSpec
from makegood.domain.rules import compile_policy
from makegood.testing import InMemoryStore

PROMISED = T0 + minutes(30)
COMPLAINT = "my order is 30 minutes late, this is terrible"


def placed(order: str = "o1", customer: str = "c1") -> dict:
    return ev(f"p-{order}", "order.placed", T0, customer, order, promised_at=PROMISED, value=20)


def templates(store: InMemoryStore, case_id: str) -> list[str]:
    return [m.template for m in store.state.outbox.values() if m.case_id == case_id]


def timeline(store: InMemoryStore, case_id: str) -> list[str]:
    return [e.kind for e in store.state.timeline if e.case_id == case_id]


def late_then(store: InMemoryStore, engine, clock, *before_delivery: dict) -> None:
    """Order placed; the 15-minute deadline fires; `before_delivery`; delivered 35 min late."""
    engine.ingest([ev("u", "customer.upserted", T0, "c1", name="Ana", email="a@x.example")])
    engine.ingest([placed()])
    clock.set(PROMISED + minutes(15))
    engine.tick()
    clock.set(PROMISED + minutes(20))
    engine.ingest(list(before_delivery))
    clock.set(PROMISED + minutes(35))
    engine.ingest([ev("d", "order.delivered", clock.now(), "c1", "o1")])


def test_a_complaint_before_delivery_does_not_cancel_the_recovery(make_engine, policy, clock):
    """6 events: profile, order, (deadline fires), complaint, low score, delivery."""
    store = InMemoryStore()
    engine = make_engine(store, analyzer=default_analyzer(policy))
    at = PROMISED + minutes(20)
    late_then(
        store,
        engine,
        clock,
        ev("m", "message.received", at, "c1", "o1", text=COMPLAINT),
        ev("s", "survey.answered", at, "c1", "o1", score=1),
    )
    (case,) = store.state.cases.values()
    evidence = [f for f in store.state.failures.values() if f.detector != "late_delivery"]
    assert evidence, "the complaint and the low score are on the case"
    assert all(f.case_id == case.id and f.evidence.get("evidence_only") for f in evidence)
    # the resolved steps ran: the lateness voucher, the apology with the lateness, the follow-up
    (voucher,) = store.state.compensations.values()
    assert (voucher.kind, voucher.amount, voucher.status) == ("voucher", Decimal(4), "granted")
    apology = next(m for m in store.state.outbox.values() if m.template == "apology")
    assert apology.context["failure"]["lateness_minutes"] == 35
    assert (case.state, case.follow_up) == ("resolved", True)
    assert all(f.resolved_at is not None for f in store.state.failures.values())
    assert "evidence_added" in timeline(store, case.id)
    clock.advance(timedelta(hours=2))
    engine.tick()
    assert "survey" in templates(store, store.state.cases[case.id].id)


def test_the_complaining_customer_gets_what_the_silent_one_gets(make_engine, policy, clock):
    silent, complaining = InMemoryStore(), InMemoryStore()
    late_then(silent, make_engine(silent), clock)
    clock.set(T0)
    at = PROMISED + minutes(20)
    late_then(
        complaining,
        make_engine(complaining, analyzer=default_analyzer(policy)),
        clock,
        ev("m", "message.received", at, "c1", "o1", text=COMPLAINT),
    )
    (quiet_case,) = silent.state.cases.values()
    (loud_case,) = complaining.state.cases.values()
    assert templates(complaining, loud_case.id) == templates(silent, quiet_case.id)
    assert [c.amount for c in complaining.state.compensations.values()] == [
        c.amount for c in silent.state.compensations.values()
    ]


def low_score(n: int, at) -> dict:
    return ev(f"s{n}", "survey.answered", at, "c1", "o1", score=1)


def test_a_second_and_third_low_score_on_one_order_appear_on_the_case(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest([placed(), low_score(1, T0 + minutes(1))])
    (case,) = store.state.cases.values()
    engine.ingest([low_score(2, T0 + minutes(2))])
    engine.ingest([low_score(3, T0 + minutes(3))])
    scores = [f for f in store.state.failures.values() if f.detector == "poor_survey"]
    assert sorted(f.evidence.get("repeat", 1) for f in scores) == [1, 2, 3]
    assert {f.evidence["event_id"] for f in scores} == {"s1", "s2", "s3"}
    entries = [e for e in store.state.timeline if e.case_id == case.id]
    detected = [e.data.get("repeat") for e in entries if e.kind == "failure_detected"]
    assert detected == [None, 2, 3]
    assert store.state.cases[case.id].severity == "minor"  # the shipped policy does not raise


def test_a_repeated_complaint_on_an_open_case_is_evidence(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest([placed()])
    clock.set(PROMISED + minutes(15))
    engine.tick()  # late: the case is open until delivery
    engine.ingest([low_score(1, clock.now()), low_score(2, clock.now())])
    (case,) = store.state.cases.values()
    added = [e.data for e in store.state.timeline if e.kind == "evidence_added"]
    assert [(d["event_type"], d.get("repeat")) for d in added] == [
        ("survey.answered", None),
        ("survey.answered", 2),
    ]
    assert store.state.cases[case.id].severity == "major"


def test_a_policy_may_raise_severity_on_repeated_complaints(make_engine, policy, clock):
    raising = tuple(
        replace(d, repeats_raise_by=1) if d.name == "poor_survey" else d
        for d in policy.policy.detectors
    )
    store = InMemoryStore()
    engine = make_engine(store, policy=compile_policy(replace(policy.policy, detectors=raising)))
    engine.ingest([placed(), low_score(1, T0 + minutes(1))])
    (case,) = store.state.cases.values()
    assert case.severity == "minor"
    engine.ingest([low_score(2, T0 + minutes(2))])
    assert store.state.cases[case.id].severity == "major"
    engine.ingest([low_score(3, T0 + minutes(3))])
    case = store.state.cases[case.id]
    assert case.severity == "critical"
    assert case.needs_person  # the shipped critical playbook: a person calls first


def cancelled(at, by: str = "customer") -> dict:
    return ev("x", "order.cancelled", at, "c1", "o1", by=by, reason="too late")


def test_a_cancellation_after_the_deadline_is_not_a_late_arrival(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest([placed()])
    clock.set(PROMISED + minutes(15))
    engine.tick()
    clock.set(PROMISED + minutes(40))
    engine.ingest([cancelled(clock.now())])
    (failure,) = store.state.failures.values()
    assert (failure.category, failure.playbook) == ("cancelled_order", "cancelled_order")
    assert failure.lateness_s is None and failure.resolved_at is not None
    assert failure.evidence["ended_by"] == "order.cancelled"
    (credit,) = store.state.compensations.values()
    assert (credit.kind, credit.amount) == ("credit", Decimal(5))  # no lateness voucher
    (case,) = store.state.cases.values()
    assert (case.category, case.state) == ("cancelled_order", "resolved")
    assert "late_arrival" not in timeline(store, case.id)
    assert "deadline_stopped" in timeline(store, case.id)
    assert templates(store, case.id) == ["acknowledge", "apology"]
    assert not store.state.timers or all(t.kind != "deadline" for t in store.state.timers.values())


def test_a_cancellation_before_the_deadline_is_no_failure(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest([placed(), cancelled(T0 + minutes(5))])
    clock.set(PROMISED + minutes(90))
    engine.tick()
    assert not store.state.failures and not store.state.cases


def test_an_old_policy_listing_cancelled_under_until_loads_and_reads_it_as_stopped(policy):
    old = Detector(
        "late",
        "deadline",
        policy.policy.detectors[0].failure,
        on="order.placed",
        deadline="attributes.promised_at + 15m",
        until=("order.delivered", "order.cancelled"),
    )
    compiled = compile_policy(replace(policy.policy, detectors=(old,)))
    (detector,) = compiled.detectors
    assert (detector.arrivals, detector.stops) == (("order.delivered",), ("order.cancelled",))


def test_an_incident_notice_passes_the_daily_cap_and_counts_toward_it(make_engine, policy, clock):
    """Point 5: the notice is what a failed customer needs to hear; every customer the record
    calls told was sent it, and routine messages after it are still capped."""
    limit = policy.policy.suppression.max_messages_per_customer_per_day
    spec = IncidentSpec(
        "area_delays", "area", ("late_delivery",), 3, amount=Amount(fixed=Decimal(1))
    )
    engine_policy = compile_policy(replace(policy.policy, incidents=(spec,)))
    store = InMemoryStore()
    engine = make_engine(store, policy=engine_policy)
    # c1 already heard `limit` times today (item issues on other orders: apology each ...)
    issues = [
        ev(f"i{n}", "order.item_issue", T0, "c1", f"x{n}", issue="missing", item_value=1)
        for n in range(limit)
    ]
    engine.ingest(issues)
    assert len([m for m in store.state.outbox.values() if m.channel != "action"]) == limit
    orders = [
        ev(f"p{n}", "order.placed", T0, f"c{n}", f"o{n}", promised_at=PROMISED, area="Belém")
        for n in range(1, 4)
    ]
    engine.ingest(orders)
    clock.set(PROMISED + minutes(15))
    engine.tick()
    (incident,) = [i for i in store.state.incidents.values() if i.status == "open"]
    told = {m.customer_id for m in store.state.outbox.values() if m.template == "incident"}
    assert told == set(incident.affected) == {"c1", "c2", "c3"}
    assert incident.messages == 3
    suppressed = [e for e in store.state.timeline if e.kind == "message_suppressed"]
    assert all(e.data["template"] != "incident" for e in suppressed)
    engine.ingest([ev("j", "order.item_issue", clock.now(), "c1", "y", issue="wrong")])
    assert any(e.kind == "message_suppressed" for e in store.state.timeline)


def test_an_incident_gives_each_customer_the_per_case_limit_not_all_of_them_together(
    make_engine, policy, clock
):
    """The incident is the "case" of customers without one: 20 customers x 4 EUR is more than
    one case's 60 EUR, yet every one of them is within their own limit."""
    spec = IncidentSpec(
        "area_delays", "area", ("late_delivery",), 3, amount=Amount(fixed=Decimal(4))
    )
    store = InMemoryStore()
    engine = make_engine(store, policy=compile_policy(replace(policy.policy, incidents=(spec,))))

    def order(n: int, promised) -> dict:
        return ev(f"p{n}", "order.placed", T0, f"c{n}", f"o{n}", promised_at=promised, area="B")

    late = [order(n, PROMISED) for n in range(3)]
    on_their_way = [order(n, PROMISED + minutes(60)) for n in range(3, 23)]  # no case yet
    engine.ingest(late + on_their_way)
    clock.set(PROMISED + minutes(15))
    engine.tick()
    incident_comps = [
        c for c in store.state.compensations.values() if c.failure_id.startswith("inc")
    ]
    assert len(incident_comps) == 23
    assert {c.status for c in incident_comps} == {"granted"}
    assert policy.policy.budgets.per_case < sum(c.amount for c in incident_comps)


def test_the_summary_states_the_shares_recovered_automatically_escalated_and_waiting(
    make_engine, clock, tmp_path
):
    from makegood.adapters.sql import queries
    from makegood.adapters.sql.store import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'shares.db'}")
    store.migrate()
    engine = make_engine(store)
    engine.ingest(
        [
            ev("i1", "order.item_issue", T0, "c1", "o1", issue="missing", item_value=5),  # auto
            ev("x2", "order.cancelled", T0, "c2", "o2", by="business"),  # critical: a person
            placed("o3", "c3"),  # late, still on its way
        ]
    )
    clock.set(PROMISED + minutes(15))
    engine.tick()
    with store.engine.connect() as c:
        shares = queries.summary(c, Decimal(100))["cases"]["shares"]
    store.dispose()
    assert shares == {
        "recovered_automatically": 1,
        "escalated": 1,
        "waiting_for_a_person": 1,
        "in_progress": 1,
    }


def test_a_cancellation_that_arrives_before_its_order_is_still_a_stop(make_engine, clock):
    """Out of order: the cancellation (40 min after the promise) reaches makegood first."""
    store = InMemoryStore()
    engine = make_engine(store)
    clock.set(PROMISED + minutes(41))
    engine.ingest([cancelled(PROMISED + minutes(40))])
    engine.ingest([placed()])
    failures = sorted(store.state.failures.values(), key=lambda f: f.detector)
    assert [(f.detector, f.category, f.lateness_s) for f in failures] == [
        ("late_delivery", "cancelled_order", None)
    ]
    assert [c.kind for c in store.state.compensations.values()] == ["credit"]
