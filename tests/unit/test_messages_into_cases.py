"""What customers write becomes evidence on their open case, or a case of its own."""

from __future__ import annotations

from helpers import T0, ev, minutes
from makegood.bootstrap import default_analyzer
from makegood.testing import InMemoryStore

ANGRY = "third time my order is an hour late, this is ridiculous, cancel my account"


def test_a_message_about_an_order_with_an_open_case_joins_that_case(make_engine, policy, clock):
    store = InMemoryStore()
    engine = make_engine(store, analyzer=default_analyzer(policy))
    engine.ingest([ev("p", "order.placed", T0, "c1", "o1", promised_at=T0 + minutes(30))])
    clock.set(T0 + minutes(46))
    engine.tick()
    (case,) = store.state.cases.values()
    assert case.severity == "major"
    engine.ingest([ev("m", "message.received", clock.now(), "c1", "o1", text=ANGRY)])
    assert len(store.state.cases) == 1, "no duplicate case"
    message_failures = [
        f
        for f in store.state.failures.values()
        if f.case_id == case.id and f.evidence.get("event_type") == "message.received"
    ]
    assert {f.detector for f in message_failures} == {"unhappy_message", "churn_threat"}
    churn = next(f for f in message_failures if f.detector == "churn_threat")
    assert churn.category == "late_delivery"  # named by the text analysis
    assert churn.evidence["analysis"]["cues"]["churn_threat"] is True
    assert churn.evidence["text"] == ANGRY
    case = store.state.cases[case.id]
    assert case.severity == "critical"  # the policy: a churn threat goes to a person
    assert case.needs_person


def test_a_message_without_an_order_attaches_to_the_latest_open_case(make_engine, policy):
    store = InMemoryStore()
    engine = make_engine(store, analyzer=default_analyzer(policy))
    engine.ingest(
        [
            ev("i", "order.item_issue", T0, "c1", "o1", issue="damaged", item_value=60),
            ev(
                "m",
                "message.received",
                T0 + minutes(3),
                "c1",
                text="o pedido chegou quebrado, péssimo",
            ),
        ]
    )
    (case,) = store.state.cases.values()
    message = next(
        f
        for f in store.state.failures.values()
        if f.evidence.get("event_type") == "message.received"
    )
    assert message.case_id == case.id
    assert message.evidence["analysis"]["language"] == "pt"
    assert message.category == "damaged_item"


def test_an_unhappy_message_with_no_case_opens_one(make_engine, policy):
    store = InMemoryStore()
    engine = make_engine(store, analyzer=default_analyzer(policy))
    engine.ingest(
        [
            ev(
                "m",
                "message.received",
                T0,
                "c9",
                text="your agent was rude and hung up on me, terrible service",
            )
        ]
    )
    (case,) = store.state.cases.values()
    (failure,) = store.state.failures.values()
    assert failure.type == "people" and failure.category == "rude_agent"
    assert case.subject_key == ""
    # a minor failure: the shipped policy's "brief" tone sends the short apology
    assert [m.template for m in store.state.outbox.values()] == ["short_apology"]


def test_a_calm_message_is_not_a_failure(make_engine, policy):
    store = InMemoryStore()
    engine = make_engine(store, analyzer=default_analyzer(policy))
    engine.ingest([ev("m", "message.received", T0, "c9", text="thanks, the pizza was great!")])
    assert not store.state.failures
