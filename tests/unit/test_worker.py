"""The worker's step with fakes at its interfaces (issue 13): events are acknowledged only once
they are in the log, acted on for the partitions held, and a fenced worker drops its leases,
its kept state and its subscriptions, then joins again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from helpers import T0, ev
from makegood.domain.errors import Fenced
from makegood.service_layer.engine import Engine
from makegood.service_layer.worker import Worker
from makegood.testing import FrozenClock, InMemoryStore


@dataclass(frozen=True)
class Message:
    raw: object


class FakeBus:
    def __init__(self, store: InMemoryStore, raws: list[dict[str, Any]]) -> None:
        self.store, self.raws = store, raws
        self.assigned: list[list[int]] = []
        self.acked: list[tuple[str, int]] = []  # (event id, events in the log when acked)
        self.fail: Exception | None = None

    def assign(self, partitions: Sequence[int]) -> None:
        self.assigned.append(list(partitions))

    def fetch(self, limit: int, timeout: float) -> list[Message]:
        if self.fail is not None:
            raise self.fail
        taken, self.raws = self.raws[:limit], self.raws[limit:]
        return [Message(raw) for raw in taken]

    def ack(self, deliveries: Sequence[Message]) -> None:
        for delivery in deliveries:
            assert isinstance(delivery.raw, dict)
            self.acked.append((delivery.raw["id"], len(self.store.state.log)))


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
