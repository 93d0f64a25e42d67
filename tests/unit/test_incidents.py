"""Incidents: one outage, every affected customer, one proactive recovery."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from helpers import T0, ev, minutes
from makegood.domain.policy import Amount, Budgets, IncidentSpec
from makegood.domain.rules import compile_policy
from makegood.testing import InMemoryStore

SPEC = IncidentSpec(
    "area_delays",
    "area",
    ("late_delivery",),
    threshold=3,
    window="20m",
    quiet="45m",
    alerts=True,
    amount=Amount(fixed=Decimal(4)),
)


@pytest.fixture
def incident_policy(policy):
    return compile_policy(replace(policy.policy, incidents=(SPEC,)))


def order(n: int, area: str, at=T0, customer: str | None = None) -> dict:
    return ev(
        f"p{n}",
        "order.placed",
        at,
        customer or f"c{n}",
        f"o{n}",
        promised_at=at + minutes(30),
        area=area,
        value=20,
    )


def incidents(store: InMemoryStore) -> list:
    """Declared incidents (a forming one is only a count of signals)."""
    return [i for i in store.state.incidents.values() if i.status != "forming"]


def messages(store: InMemoryStore, template: str) -> list:
    return [m for m in store.state.outbox.values() if m.template == template]


def test_a_cluster_in_one_area_declares_one_incident_spread_failures_do_not(
    make_engine, incident_policy, clock
):
    store = InMemoryStore()
    engine = make_engine(store, policy=incident_policy)
    engine.ingest(
        [
            order(1, "Baixa"),
            order(2, "Baixa"),
            order(3, "Baixa"),
            order(4, "Alfama"),
            order(5, "Belém"),
            order(6, "Benfica"),
        ]
    )
    clock.set(T0 + minutes(46))
    engine.tick()
    (incident,) = incidents(store)
    assert (incident.key, incident.status) == ("Baixa", "open")
    assert incident.declared_at == T0 + minutes(46)  # the tick that saw the third failure
    assert sorted(incident.affected) == ["c1", "c2", "c3"]


def test_an_open_order_in_the_area_that_has_not_failed_yet_hears_too(
    make_engine, incident_policy, clock
):
    store = InMemoryStore()
    engine = make_engine(store, policy=incident_policy)
    engine.ingest(
        [
            order(1, "Baixa"),
            order(2, "Baixa"),
            order(3, "Baixa"),
            order(9, "Baixa", at=T0 + minutes(40)),  # placed later: not late yet
            order(8, "Alfama", at=T0 + minutes(40)),
        ]
    )
    clock.set(T0 + minutes(46))
    engine.tick()
    assert len(incidents(store)) == 1
    told = {m.customer_id for m in messages(store, "incident")}
    assert told == {"c1", "c2", "c3", "c9"}
    c9 = next(m for m in messages(store, "incident") if m.customer_id == "c9")
    assert c9.context["incident"]["key"] == "Baixa"
    assert c9.context["compensation"]["amount"] == "4.00"  # the incident's own compensation
    assert {c.customer_id for c in store.state.compensations.values()} >= {"c9"}


def test_a_customer_failing_while_the_incident_is_open_is_contacted_once(
    make_engine, incident_policy, clock
):
    store = InMemoryStore()
    engine = make_engine(store, policy=incident_policy)
    engine.ingest([order(1, "Baixa"), order(2, "Baixa"), order(3, "Baixa")])
    clock.set(T0 + minutes(46))
    engine.tick()
    engine.ingest([order(7, "Baixa", at=clock.now() - minutes(5))])  # placed after the fan-out
    clock.set(T0 + minutes(87))
    engine.tick()  # its own deadline (placed 41 + 30 + 15) passes while the incident is open
    c7 = [m.template for m in store.state.outbox.values() if m.customer_id == "c7"]
    assert c7 == ["incident"], "one merged message, no separate acknowledgement"
    merged = [e for e in store.state.timeline if e.kind == "message_merged"]
    assert merged and merged[0].data["template"] == "acknowledge"


def test_alerts_open_and_resolve_an_incident_with_both_messages(
    make_engine, incident_policy, clock
):
    store = InMemoryStore()
    engine = make_engine(store, policy=incident_policy)
    engine.ingest([order(1, "Belém"), order(2, "Belém", at=T0 + minutes(1))])
    engine.ingest(
        [
            ev(
                "a1",
                "service.alert",
                T0 + minutes(2),
                "system:monitoring",
                status="down",
                area="Belém",
                service="couriers",
            )
        ]
    )
    engine.tick()
    (incident,) = incidents(store)
    assert (incident.status, incident.source) == ("open", "alert")
    assert {m.customer_id for m in messages(store, "incident")} == {"c1", "c2"}
    clock.set(T0 + minutes(20))
    engine.ingest(
        [
            ev(
                "a2",
                "service.alert",
                clock.now(),
                "system:monitoring",
                status="restored",
                area="Belém",
            )
        ]
    )
    engine.tick()
    (incident,) = incidents(store)
    assert incident.status == "resolved" and incident.resolved_at == T0 + minutes(20)
    assert {m.customer_id for m in messages(store, "incident_resolved")} == {"c1", "c2"}


def test_a_quiet_incident_resolves_itself(make_engine, incident_policy, clock):
    store = InMemoryStore()
    engine = make_engine(store, policy=incident_policy)
    engine.ingest([order(1, "Baixa"), order(2, "Baixa"), order(3, "Baixa")])
    clock.set(T0 + minutes(46))
    engine.tick()
    clock.advance(timedelta(minutes=46))
    engine.tick()
    (incident,) = incidents(store)
    assert incident.status == "resolved"


def test_budgets_hold_across_incident_and_individual_compensation(make_engine, policy, clock):
    tight = compile_policy(
        replace(
            policy.policy,
            incidents=(SPEC,),
            budgets=Budgets(
                per_case=Decimal(50), per_customer_30d=Decimal(6), global_per_day=Decimal(1000)
            ),
        )
    )
    store = InMemoryStore()
    engine = make_engine(store, policy=tight)
    engine.ingest([order(1, "Baixa"), order(2, "Baixa"), order(3, "Baixa")])
    clock.set(T0 + minutes(46))
    engine.tick()  # incident: 4.00 each
    clock.set(T0 + minutes(70))
    engine.ingest(
        [ev(f"d{n}", "order.delivered", clock.now(), f"c{n}", f"o{n}") for n in (1, 2, 3)]
    )  # 40 min late: 5.00 voucher each would exceed 6
    for customer in ("c1", "c2", "c3"):
        granted = sum(
            c.amount
            for c in store.state.compensations.values()
            if c.customer_id == customer and c.status == "granted"
        )
        assert granted <= Decimal(6)
    pending = [c for c in store.state.compensations.values() if c.status == "pending"]
    assert pending, "what the budget refused waits for a person"


def test_replaying_the_same_events_keeps_one_incident(make_engine, incident_policy):
    store = InMemoryStore()
    history = [
        order(1, "Baixa"),
        order(2, "Baixa"),
        order(3, "Baixa"),
        ev("x", "purchase", T0 + minutes(60), "c99"),
    ]
    make_engine(store, policy=incident_policy, event_time=True).ingest(history)
    first = [(i.id, i.status, sorted(i.affected)) for i in incidents(store)]
    make_engine(store, policy=incident_policy, event_time=True).ingest(history)
    assert [(i.id, i.status, sorted(i.affected)) for i in incidents(store)] == first
    assert len(first) == 1
    assert len(messages(store, "incident")) == 3


def test_the_incident_record_on_sqlite_says_how_fast_it_was_declared_and_told(
    make_engine, incident_policy, clock, tmp_path
):
    from makegood.adapters.sql import queries
    from makegood.adapters.sql.store import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'incidents.db'}")
    store.migrate()
    engine = make_engine(store, policy=incident_policy)
    engine.ingest(
        [
            order(1, "Baixa"),
            order(2, "Baixa", at=T0 + minutes(2)),
            order(3, "Baixa", at=T0 + minutes(4)),
            order(4, "Baixa", at=T0 + minutes(30)),
        ]
    )
    for at in (45, 47, 49):  # the three deadlines pass one by one
        clock.set(T0 + minutes(at))
        engine.tick()
    with store.engine.connect() as c:
        (listed,) = queries.list_incidents(c)
        detail = queries.incident_detail(c, listed["id"])
    store.dispose()
    assert (listed["key"], listed["status"], listed["affected"]) == ("Baixa", "open", 4)
    assert listed["to_declare_s"] == 4 * 60  # first late order at 45, declared at 49
    assert listed["to_first_message_s"] == 4 * 60
    assert detail["customers"] == ["c1", "c2", "c3", "c4"]
    assert detail["timeline"][0]["kind"] == "incident_declared"


def test_the_tail_of_a_resolved_incident_is_not_a_new_incident(make_engine, incident_policy, clock):
    store = InMemoryStore()
    engine = make_engine(store, policy=incident_policy)
    engine.ingest(
        [
            ev("a1", "service.alert", T0, "system:monitoring", status="down", area="Belém"),
            *[order(n, "Belém", at=T0 + minutes(n)) for n in range(1, 5)],
        ]
    )
    clock.set(T0 + minutes(10))
    engine.ingest(
        [
            ev(
                "a2",
                "service.alert",
                clock.now(),
                "system:monitoring",
                status="restored",
                area="Belém",
            )
        ]
    )
    clock.set(T0 + minutes(50))  # the backlog arrives late, within the quiet period
    engine.tick()
    assert len(incidents(store)) == 1
    clock.set(T0 + minutes(300))  # long after: a new cluster is a new incident
    engine.ingest([order(n, "Belém", at=clock.now()) for n in range(10, 14)])
    clock.set(T0 + minutes(350))
    engine.tick()
    assert len(incidents(store)) == 2


def test_a_customer_changed_earlier_in_the_batch_keeps_those_changes_when_told(
    make_engine, incident_policy
):
    """Issue 12 (found at 2M events): a customer the engine keeps, whose older order it holds
    only through that order's case, is changed by an event early in a batch, and then told by
    the incident the batch declares about that older order. The engine reloaded the customer
    mid-batch to get the order's history, dropping the batch's change, and the batch failed
    on every retry."""
    store = InMemoryStore()
    make_engine(store, policy=incident_policy).ingest(
        [
            order(1, "Baixa", customer="cx"),
            ev("i1", "order.item_issue", T0 + minutes(1), "cx", "o1", issue="missing"),
        ]
    )
    engine = make_engine(store, policy=incident_policy)  # a restart: nothing kept
    engine.ingest([order(3, "Belém", at=T0 + minutes(2), customer="cx")])  # cx kept, o1 via case
    engine.ingest(
        [
            order(2, "Alfama", at=T0 + minutes(3), customer="cx"),
            ev(
                "a1",
                "service.alert",
                T0 + minutes(4),
                "system:monitoring",
                status="down",
                area="Baixa",
                service="couriers",
            ),
        ]
    )
    (incident,) = incidents(store)
    assert incident.affected == {"cx": ["o1"]}
    assert set(store.state.subjects) == {"o1", "o2", "o3"}  # the batch's own change, written
    assert {m.customer_id for m in messages(store, "incident")} == {"cx"}
