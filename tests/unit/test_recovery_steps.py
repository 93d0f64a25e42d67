"""Playbook steps, follow-up surveys, suppression and repeats, on the shipped policy."""

from __future__ import annotations

from datetime import timedelta

from helpers import T0, ev, minutes
from makegood.testing import InMemoryStore


def item_issue(
    id: str,
    customer: str = "c1",
    issue: str = "damaged",
    value: float = 7.5,
    at=T0,
    order: str = "o1",
):
    return ev(
        id, "order.item_issue", at, customer, order, issue=issue, item="soup", item_value=value
    )


def test_a_damaged_item_is_refunded_at_its_value_and_the_fix_requested(make_engine):
    store = InMemoryStore()
    make_engine(store).ingest([item_issue("i1")])
    (failure,) = store.state.failures.values()
    assert (failure.category, failure.type, failure.severity) == (
        "damaged_item",
        "product",
        "major",
    )
    (refund,) = store.state.compensations.values()
    assert (refund.kind, refund.amount, refund.status, refund.code) == (
        "refund",
        7.5,
        "granted",
        None,
    )
    by_template = {m.template: m for m in store.state.outbox.values()}
    assert set(by_template) == {"apology", "refund_item"}
    assert by_template["refund_item"].channel == "action"  # a call to the business's systems
    assert by_template["apology"].context["compensation"]["amount"] == "7.50"
    (case,) = store.state.cases.values()
    assert case.state == "resolved" and case.follow_up


def test_the_follow_up_survey_closes_a_case_on_a_good_answer(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest([item_issue("i1")])
    clock.advance(timedelta(hours=2))
    engine.tick()
    (case,) = store.state.cases.values()
    assert case.state == "followed_up"
    survey = next(m for m in store.state.outbox.values() if m.template == "survey")
    assert survey.context["survey"]["case_id"] == case.id
    engine.ingest([ev("s1", "survey.answered", clock.now(), "c1", score=5, case_id=case.id)])
    case = store.state.cases[case.id]
    assert (case.state, case.survey_score) == ("closed", 5)


def test_a_poor_answer_reopens_and_escalates(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest([item_issue("i1")])
    clock.advance(timedelta(hours=2))
    engine.tick()
    (case,) = store.state.cases.values()
    engine.ingest([ev("s1", "survey.answered", clock.now(), "c1", score=2, case_id=case.id)])
    case = store.state.cases[case.id]
    assert (case.state, case.needs_person, case.reopened) == ("escalated", True, 1)
    kinds = [e.kind for e in store.state.timeline if e.case_id == case.id]
    assert kinds[-3:] == ["survey_answered", "state_changed", "state_changed"]


def test_no_answer_closes_the_case_when_the_survey_expires(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest([item_issue("i1")])
    clock.advance(timedelta(hours=2))
    engine.tick()
    clock.advance(timedelta(days=3))
    engine.tick()
    (case,) = store.state.cases.values()
    assert case.state == "closed"


def test_a_survey_for_someone_elses_case_is_ignored(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest([item_issue("i1")])
    (case,) = store.state.cases.values()
    engine.ingest([ev("s1", "survey.answered", T0, "intruder", score=1, case_id=case.id)])
    assert store.state.cases[case.id].state == "resolved"


def test_several_failures_on_one_order_make_one_case(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest(
        [
            ev("p", "order.placed", T0, "c1", "o1", promised_at=T0 + minutes(30)),
            item_issue("i1", issue="missing"),
            item_issue("i2", issue="wrong"),
        ]
    )
    clock.set(T0 + minutes(45))
    engine.tick()
    assert len(store.state.failures) == 3
    assert len(store.state.cases) == 1


def test_a_customer_gets_no_more_messages_a_day_than_the_policy_allows(make_engine):
    store = InMemoryStore()
    issues = [item_issue(f"i{n}", order=f"o{n}", at=T0 + minutes(n)) for n in range(6)]
    make_engine(store).ingest(issues)
    customer_messages = [m for m in store.state.outbox.values() if m.channel != "action"]
    assert len(customer_messages) == 4  # max_messages_per_customer_per_day
    suppressed = [e for e in store.state.timeline if e.kind == "message_suppressed"]
    assert len(suppressed) == 2


def test_the_fourth_failure_within_30_days_raises_severity(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    for n in range(4):
        clock.set(T0 + timedelta(days=n))
        engine.ingest([item_issue(f"i{n}", order=f"o{n}", at=clock.now(), issue="missing")])
    severities = [
        f.severity for f in sorted(store.state.failures.values(), key=lambda f: f.detected_at)
    ]
    assert severities == ["major", "major", "major", "critical"]
    last = max(store.state.failures.values(), key=lambda f: f.detected_at)
    assert last.evidence["repeat"]["earlier_cases"] == 3


def test_gold_customers_never_get_minor_treatment(make_engine):
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest(
        [
            ev("u", "customer.upserted", T0, "g1", tier="gold", name="Gil"),
            ev("r", "behavior.signal", T0, "g1", signal="rage_click", count=9),
            ev("r2", "behavior.signal", T0, "c2", signal="rage_click", count=9),
        ]
    )
    severity = {f.customer_id: f.severity for f in store.state.failures.values()}
    assert severity == {"g1": "major", "c2": "minor"}
