"""The worker's step with fakes at its interfaces (issue 13): events are acknowledged only once
they are in the log, acted on for the partitions held, and a fenced worker drops its leases,
its kept state and its subscriptions, then joins again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from helpers import T0, ev
from makegood.domain.errors import Fenced, NotFound
from makegood.service_layer.engine import Engine
from makegood.service_layer.worker import Worker
from makegood.testing import FrozenClock, InMemoryStore


@dataclass(frozen=True)
class Message:
    raw: object
    command: bool = False


class FakeBus:
    def __init__(self, store: InMemoryStore, raws: list[dict[str, Any]]) -> None:
        self.store, self.raws = store, raws
        self.assigned: list[list[int]] = []
        self.acked: list[tuple[str, int]] = []  # (event id, events in the log when acked)
        self.fail: Exception | None = None
        self.answers: list[tuple[object, object]] = []  # (command, answer)
        self.commands: list[dict[str, Any]] = []  # published as commands (`command` True)

    def assign(self, partitions: Sequence[int]) -> None:
        self.assigned.append(list(partitions))

    def fetch(self, limit: int, timeout: float) -> list[Message]:
        if self.fail is not None:
            raise self.fail
        taken, self.raws = self.raws[:limit], self.raws[limit:]
        return [Message(raw, any(raw is c for c in self.commands)) for raw in taken]

    def ack(self, deliveries: Sequence[Message]) -> None:
        for delivery in deliveries:
            assert isinstance(delivery.raw, dict)
            self.acked.append((delivery.raw["id"], len(self.store.state.log)))

    def answer(self, delivery: Message, body: object) -> None:
        self.answers.append((delivery.raw, body))


class FakeLeases:
    def __init__(self) -> None:
        self.calls: list[dict[int, int]] = []

    def balance(
        self, held: dict[int, int], now: datetime, stopping: bool = False, give: bool = True
    ) -> dict[int, int]:
        self.calls.append(dict(held))
        return {} if stopping else {p: 1 for p in range(32)}


def worker_on(store: InMemoryStore, bus: FakeBus, policy: Any) -> tuple[Worker, list[Any]]:
    engine = Engine(store, policy, FrozenClock(T0), event_time=True, new_code=lambda: "CODE")
    fences: list[dict[int, int]] = []
    worker = Worker(
        engine,
        FakeLeases(),
        bus,
        FrozenClock(T0),
        fence=fences.append,
        lease=timedelta(seconds=3),
        batch=10,
    )
    return worker, fences


def issues(n: int) -> list[dict[str, Any]]:
    return [
        ev(f"e{k}", "order.item_issue", T0, customer=f"c{k}", subject=f"o{k}", issue="missing")
        for k in range(n)
    ]


def test_a_message_is_acknowledged_once_its_event_is_in_the_log(policy: Any) -> None:
    store = InMemoryStore()
    bus = FakeBus(store, issues(25))
    worker, fences = worker_on(store, bus, policy)
    for _ in range(3):
        worker.step()
    assert [event_id for event_id, _ in bus.acked] == [f"e{k}" for k in range(25)]
    assert all(logged >= int(event_id[1:]) + 1 for event_id, logged in bus.acked)
    assert len(store.state.failures) == 25  # acted on: every partition is held
    assert fences[-1] == {p: 1 for p in range(32)} and bus.assigned[-1] == list(range(32))
    assert worker.figures.appended == 25


def test_a_fenced_worker_drops_its_leases_and_joins_again(policy: Any) -> None:
    store = InMemoryStore()
    bus = FakeBus(store, issues(5))
    worker, fences = worker_on(store, bus, policy)
    worker.step()
    bus.fail = Fenced("partitions [3] were taken by another worker")
    worker.step()
    assert worker.figures.fenced == 1
    assert fences[-1] == {} and bus.assigned[-1] == []  # nothing held, nothing consumed
    assert worker.engine.owned == frozenset()
    bus.fail = None
    worker.step()  # joins again at once
    assert fences[-1] == {p: 1 for p in range(32)} and bus.assigned[-1] == list(range(32))


class SpyActions:
    """What a command reaches on the worker: records what the engine had decided by then."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.seen: list[tuple[str, int, str | None]] = []

    def note(self, case_id: str, actor: Any, text: str) -> None:
        self.seen.append((text, len(self.store.state.failures), self.request_id))


def command(name: str, text: str, expires: float) -> dict[str, Any]:
    return {
        "id": f"cmd-{text}",
        "action": name,
        "actor": {"name": "agent-1", "role": "agent"},
        "args": {"case_id": "case-x", "text": text},
        "expires": expires,
        "request_id": f"req-{text}",
    }


def test_a_command_is_applied_after_the_events_before_it_and_answered(policy: Any) -> None:
    """In stream order: the events published before a command are appended and acted on
    before it runs; its answer goes back; one past its expiry is dropped unanswered (the API
    answered 503 already) but acknowledged."""
    store = InMemoryStore()
    events = issues(6)
    fresh, stale = command("note", "first", 2e9), command("note", "late", 1.0)
    bus = FakeBus(store, [*events[:4], fresh, *events[4:5], stale, *events[5:]])
    bus.commands = [fresh, stale]
    worker, _ = worker_on(store, bus, policy)
    spy = SpyActions(store)

    def make(request_id: str | None) -> Any:
        spy.request_id = request_id  # type: ignore[attr-defined]
        return spy

    worker.actions = make
    worker.step()
    assert spy.seen == [("first", 4, "req-first")]  # the four events before it acted on
    assert bus.answers == [(fresh, {"result": None})]
    acked = [event_id for event_id, _ in bus.acked]
    assert acked == ["e0", "e1", "e2", "e3", "cmd-first", "e4", "cmd-late", "e5"]
    assert worker.figures.commands == 2 and worker.figures.appended == 6


def test_a_refused_command_answers_its_reason(policy: Any) -> None:
    store = InMemoryStore()
    refused = command("note", "x", 2e9)
    bus = FakeBus(store, [refused])
    bus.commands = [refused]
    worker, _ = worker_on(store, bus, policy)

    class Refusing:
        def note(self, case_id: str, actor: Any, text: str) -> None:
            raise NotFound(f"no case {case_id!r}")

    worker.actions = lambda request_id: Refusing()  # type: ignore[assignment,return-value]
    worker.step()
    assert bus.answers == [(refused, {"error": "NotFound", "message": "no case 'case-x'"})]
