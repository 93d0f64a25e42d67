"""The shipped policy and the demo's simulated business speak the same vocabulary (issue 10,
point 25): every kind of event the simulator emits is handled by the policy."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from makegood.domain.rules import CompiledPolicy
from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator
from makegood.testing import InMemoryStore

# what the engine reads by itself, whatever the policy says
ENGINE_READS = {
    "customer.upserted": "the customer's profile (locale, tier, channel)",
    "order.eta_updated": "shapes the subject (the order) that detectors and templates read",
    "survey.answered": "answers makegood's own follow-up survey",
    "service.alert": "opens and resolves incidents",
    "purchase": "repeat purchases, for the report's repurchase rate",
}
# the attribute that tells kinds of one type apart, and the kinds that are not failures
KIND_OF = {"order.item_issue": "issue", "behavior.signal": "signal", "order.cancelled": "by"}
NOT_A_FAILURE = {("order.cancelled", "customer")}  # only after the deadline (stopped_by)


@pytest.fixture(scope="module")
def stream() -> list[dict[str, Any]]:
    simulator = Simulator(SimulationSettings(customers=300, orders=2000))
    return simulator.advance(simulator.horizon)


def referenced(policy: CompiledPolicy) -> set[str]:
    types: set[str] = set()
    for detector in policy.detectors:
        types |= {*detector.arrivals, *detector.stops, *filter(None, [detector.spec.on])}
        if detector.guard:
            types.add(detector.guard)
    return types


def test_every_event_type_the_simulator_emits_is_read_by_the_policy_or_the_engine(
    stream, policy
) -> None:
    emitted = {e["type"] for e in stream}
    assert emitted - referenced(policy) - set(ENGINE_READS) == set()


def test_every_failure_kind_the_simulator_emits_becomes_a_failure(
    stream, policy, make_engine
) -> None:
    by_kind: dict[tuple[str, str], set[str]] = defaultdict(set)
    for event in stream:
        if event["type"] in KIND_OF:
            kind = (event["type"], str(event["attributes"].get(KIND_OF[event["type"]])))
            by_kind[kind].add(event["id"])
    assert {k[1] for k in by_kind if k[0] == "order.item_issue"} == {"missing", "wrong", "damaged"}
    store = InMemoryStore()
    make_engine(store, event_time=True).ingest(stream)
    failed = {f.evidence.get("event_id") for f in store.state.failures.values()}
    for kind, ids in by_kind.items():
        if kind not in NOT_A_FAILURE:
            assert ids <= failed, f"{kind}: {len(ids - failed)} of {len(ids)} not detected"
