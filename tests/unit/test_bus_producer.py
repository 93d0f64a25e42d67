"""`serve --bus` without a server (issue 13): what the API answers for events it publishes
(`BusIngest`), and people's actions as commands through JSON to an owner and back
(`BusActions` → `perform`), with fakes at the bus."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest

from helpers import T0, ev
from makegood.domain.actions import Actor
from makegood.domain.errors import Contended, NotFound
from makegood.domain.model import Compensation
from makegood.service_layer.actions import Actions
from makegood.service_layer.commands import BusActions, perform
from makegood.service_layer.engine import Engine
from makegood.service_layer.publisher import BusIngest
from makegood.testing import FrozenClock, InMemoryStore


class FakeStream:
    """JetStream's answer to a publish: a sequence, and duplicate for an id it had."""

    def __init__(self) -> None:
        self.messages: list[object] = []
        self.ids: dict[str, int] = {}

    def publish_acks(self, raws: Sequence[object]) -> list[tuple[int, bool]]:
        acks = []
        for raw in raws:
            key = str(raw["id"]) if isinstance(raw, dict) else ""
            if key in self.ids:
                acks.append((self.ids[key], True))
                continue
            self.messages.append(json.loads(json.dumps(raw)))
            self.ids[key] = len(self.messages)
            acks.append((len(self.messages), False))
        return acks


def cancelled(customer: str, subject: str = "o1") -> dict[str, Any]:
    return ev(f"{customer}-{subject}", "order.cancelled", T0, customer, subject, by="business")


def test_published_events_are_answered_as_the_append_would(policy: Any) -> None:
    store = InMemoryStore()
    engine = Engine(store, policy, FrozenClock(T0), new_code=lambda: "CODE")
    engine.ingest([cancelled("c0")])  # already in the log
    logged = len(store.state.log)
    stream = FakeStream()
    bus = BusIngest(engine, stream)
    try:
        raws = [
            cancelled("c1"),
            cancelled("c1"),  # again in the request: the stream's duplicate window
            {"id": "bad", "type": ""},
            cancelled("c0"),  # the log has it, same payload
            {**cancelled("c0"), "subject_id": "other"},  # the log has the id, another payload
        ]
        report = bus.submit(raws).result(timeout=10)
    finally:
        bus.close()
    assert report.outcomes == ["accepted", "duplicate", "rejected", "duplicate", "conflict"]
    assert (report.accepted, report.duplicates, report.conflicts) == (1, 2, 1)
    assert [i for i, _ in report.rejected] == [2]
    assert [m["id"] for m in stream.messages] == ["c1-o1"]  # type: ignore[index]
    assert len(store.state.log) == logged  # appended by the owner, not here
    assert sorted(q.field for q in store.state.quarantine) == ["id", "type"]


class Owner:
    """A worker on the other side of the bus: the command travels as JSON, so does the answer."""

    def __init__(self, actions: Actions, answering: bool = True) -> None:
        self.actions, self.answering = actions, answering
        self.routes: list[str] = []

    def command(self, customer_id: str, body: Mapping[str, Any], wait: float) -> object | None:
        self.routes.append(customer_id)
        sent = json.loads(json.dumps(body))
        answer = perform(lambda request_id: self.actions, sent, now=0.0)
        return json.loads(json.dumps(answer)) if self.answering else None


def owner_and_api(policy: Any, answering: bool = True) -> tuple[InMemoryStore, Owner, BusActions]:
    store = InMemoryStore()
    clock = FrozenClock(T0)
    engine = Engine(store, policy, clock, new_code=lambda: "CODE")
    engine.ingest([cancelled("c1")])
    owner = Owner(Actions(store, policy, clock, engine.new_code, engine=engine), answering)
    api = BusActions(store, policy, clock, lambda: "API", bus=owner)
    return store, owner, api


def test_a_grant_travels_to_the_owner_and_back(policy: Any) -> None:
    store, owner, api = owner_and_api(policy)
    case_id = next(iter(store.state.cases))
    agent = Actor("agent-1", "agent")
    comp = api.grant(case_id, agent, "voucher", Decimal("5"), "sorry", "k1")
    assert isinstance(comp, Compensation)
    assert comp == store.state.compensations[comp.id]  # every field, through JSON
    assert api.grant(case_id, agent, "voucher", Decimal("5"), "sorry", "k1").id == comp.id
    assert owner.routes == ["c1", "c1"]  # the case's customer: its partition's subject
    api.note(case_id, agent, "called")
    with pytest.raises(NotFound):  # the owner's refusal, raised again here
        api.approve(case_id, "comp-nope", agent, customer_id="c1")


def test_no_answer_within_the_wait_is_contended(policy: Any) -> None:
    store, _, api = owner_and_api(policy, answering=False)
    case_id = next(iter(store.state.cases))
    with pytest.raises(Contended):
        api.note(case_id, Actor("agent-1", "agent"), "called")
    with pytest.raises(NotFound):  # an unknown case is answered here, never sent
        api.note("case-nope", Actor("agent-1", "agent"), "called")


def test_an_expired_command_is_dropped(policy: Any) -> None:
    store, owner, _ = owner_and_api(policy)
    case_id = next(iter(store.state.cases))
    body = {
        "id": "x",
        "action": "note",
        "actor": {"name": "a", "role": "agent"},
        "args": {"case_id": case_id, "text": "late"},
        "expires": 100.0,
    }
    assert perform(lambda request_id: owner.actions, body, now=101.0) is None
    assert perform(lambda request_id: owner.actions, body, now=99.0) == {"result": None}
