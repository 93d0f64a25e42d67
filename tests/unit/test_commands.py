"""People's actions are commands to the engine that owns the customer's state (issue 12): applied
on what it keeps, in turn with its batches, answered once committed, and a bounded wait when
the engine is busy."""

from __future__ import annotations

import threading
from collections.abc import Collection
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from helpers import T0, ev
from makegood.domain.actions import Actor
from makegood.domain.errors import Contended
from makegood.domain.rules import CompiledPolicy
from makegood.domain.world import Snapshot, World
from makegood.service_layer.actions import Actions
from makegood.testing import FrozenClock, InMemorySession, InMemoryStore, counting_codes

ALICE = Actor("alice", "agent")


def a_case(make_engine: Any) -> tuple[InMemoryStore, Any, str]:
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest(
        [
            ev("p", "customer.upserted", T0, "c1", name="Rita", email="r@example.com"),
            ev("x", "order.cancelled", T0, "c1", "o1", by="business"),
        ]
    )
    (case_id,) = store.state.cases
    return store, engine, case_id


def test_an_action_is_decided_on_the_engines_kept_state_and_leaves_it_valid(
    make_engine: Any,
    policy: CompiledPolicy,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine's next batch for the customer decides on what it kept: the action changed
    that state itself, so nothing under it moved and nothing is loaded again. (An action that
    wrote beside the engine moved the partition's version: the engine then threw the customer
    away and read it back.)"""
    store, engine, case_id = a_case(make_engine)
    loaded: list[set[str]] = []
    real = InMemorySession.load

    def counting(
        self: InMemorySession,
        customer_ids: Collection[str],
        subject_ids: Collection[str],
        case_ids: Collection[str],
        since: datetime,
        days: Collection[date],
    ) -> Snapshot:
        loaded.append(set(customer_ids))
        return real(self, customer_ids, subject_ids, case_ids, since, days)

    monkeypatch.setattr(InMemorySession, "load", counting)
    actions = Actions(store, policy, clock, counting_codes("A"), engine=engine)
    actions.note(case_id, ALICE, "called her, all fine")
    actions.grant(case_id, ALICE, "credit", Decimal("5.00"), "goodwill", "k1")
    commands = len(loaded)
    engine.ingest([ev("y", "order.placed", T0 + timedelta(minutes=5), "c1", "o2")])
    assert not any("c1" in customers for customers in loaded[commands:])
    notes = [e.data.get("text") for e in store.state.timeline if e.kind == "note"]
    assert notes == ["called her, all fine"]
    assert {c.key for c in store.state.compensations.values() if c.status == "granted"} >= {
        f"manual:{case_id}:k1"
    }


def test_an_action_waits_for_the_engine_at_most_as_long_as_it_is_told(
    make_engine: Any, policy: CompiledPolicy, clock: FrozenClock
) -> None:
    store, engine, case_id = a_case(make_engine)
    inside, release = threading.Event(), threading.Event()

    def busy(world: World, recovery: Any, now: datetime) -> None:
        inside.set()
        release.wait(5)

    holder = threading.Thread(target=engine.command, args=((), (), busy))
    holder.start()
    try:
        assert inside.wait(5)
        impatient = Actions(store, policy, clock, counting_codes("A"), engine=engine, wait=0.05)
        with pytest.raises(Contended, match="busy"):
            impatient.note(case_id, ALICE, "too soon")
    finally:
        release.set()
        holder.join(5)
    Actions(store, policy, clock, counting_codes("A"), engine=engine).note(case_id, ALICE, "now")
    notes = [e.data.get("text") for e in store.state.timeline if e.kind == "note"]
    assert notes == ["now"]


def test_a_refused_action_writes_nothing_and_the_engine_goes_on(
    make_engine: Any, policy: CompiledPolicy, clock: FrozenClock
) -> None:
    store, engine, _ = a_case(make_engine)
    actions = Actions(store, policy, clock, counting_codes("A"), engine=engine)
    before = (len(store.state.timeline), store.state.versions.copy())
    with pytest.raises(Exception, match="no case"):
        actions.note("no-such-case", ALICE, "x")
    assert (len(store.state.timeline), store.state.versions) == before
    report = engine.ingest([ev("z", "order.cancelled", T0, "c2", "o9", by="business")])
    assert report.accepted == 1 and len(store.state.cases) == 2
