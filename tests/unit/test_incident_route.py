"""Incident work through a route (domain/incident_route.py): signals to the partition of the
incident's key, notices to the partitions of the customers told; in one process delivered at
once, with exactly the results of a direct call."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from helpers import T0, ev, minutes
from makegood.domain.incident import DECLARED, RESOLVED, Incidents
from makegood.domain.incident_route import LocalRoute, Notice, Signal, incident_partition
from makegood.domain.model import Incident
from makegood.domain.partition import partition_of
from makegood.domain.policy import Amount, IncidentSpec
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
def incident_policy(policy: Any) -> Any:
    return compile_policy(replace(policy.policy, incidents=(SPEC,)))


def order(n: int, area: str, at: Any = T0) -> dict[str, Any]:
    return ev(
        f"p{n}", "order.placed", at, f"c{n}", f"o{n}", promised_at=at + minutes(30), area=area
    )


class Recording:
    """Delivers at once, as `LocalRoute`, and keeps where each message was addressed."""

    def __init__(self, incidents: Incidents, sent: list[tuple[int, Signal | Notice]]) -> None:
        self.local, self.sent = LocalRoute(incidents), sent

    def signal(self, signal: Signal) -> Incident | None:
        self.sent.append((incident_partition(signal.spec, signal.key, 32), signal))
        return self.local.signal(signal)

    def notify(self, notice: Notice) -> None:
        self.sent.append((partition_of(notice.customer_id, 32), notice))
        self.local.notify(notice)


def run(make_engine: Any, policy: Any, clock: Any, route: Any = None) -> InMemoryStore:
    """An incident declared by a cluster, an open order told, a customer joining it while
    open, then the incident resolved by an alert."""
    clock.set(T0)
    store = InMemoryStore()
    engine = make_engine(store, policy=policy)
    engine.incident_route = route
    engine.ingest([order(1, "Baixa"), order(2, "Baixa"), order(3, "Baixa")])
    engine.ingest([order(9, "Baixa", at=T0 + minutes(40)), order(8, "Alfama")])
    clock.set(T0 + minutes(46))
    engine.tick()
    engine.ingest([order(7, "Baixa", at=clock.now() - minutes(5))])
    clock.set(T0 + minutes(87))
    engine.tick()
    alert = ev("a1", "service.alert", clock.now(), "ops", None, area="Baixa", status="restored")
    engine.ingest([alert])
    clock.set(T0 + minutes(88))
    engine.tick()
    return store


def test_signals_go_to_the_key_and_notices_to_the_customers_with_the_same_results(
    make_engine: Any, incident_policy: Any, clock: Any
) -> None:
    direct = run(make_engine, incident_policy, clock)
    sent: list[tuple[int, Signal | Notice]] = []
    routed = run(make_engine, incident_policy, clock, lambda i: Recording(i, sent))
    for table in ("outbox", "compensations", "incidents", "failures", "cases"):
        assert getattr(routed.state, table) == getattr(direct.state, table), table
    assert routed.state.timeline == direct.state.timeline
    signals = [(p, m) for p, m in sent if isinstance(m, Signal)]
    notices = [(p, m) for p, m in sent if isinstance(m, Notice)]
    # every failure in an area signalled the one partition owning that key, whoever failed
    assert all(p == incident_partition(m.spec, m.key, 32) for p, m in signals)
    baixa = {m.customer_id for _, m in signals if m.key == "Baixa"}
    assert baixa >= {"c1", "c2", "c3", "c7"}
    assert {m.customer_id for _, m in signals if m.key == "Alfama"} == {"c8"}
    assert len({partition_of(c, 32) for c in baixa}) > 1
    # each customer told is told through its own partition, once per stage
    told = {(m.customer_id, m.stage) for _, m in notices}
    assert len(told) == len(notices)
    assert all(p == partition_of(m.customer_id, 32) for p, m in notices)
    incident_messages = {
        (m.customer_id, RESOLVED if m.template.endswith("_resolved") else DECLARED)
        for m in routed.state.outbox.values()
        if m.template.startswith("incident")
    }
    assert told == incident_messages
    assert {c for c, stage in told if stage == RESOLVED} == {"c1", "c2", "c3", "c7", "c9"}
