"""Timers in the owner's heap, written behind (issue 12): a timer armed and cancelled between two
flushes is never written, one written is deleted when it fires or is cancelled, and one armed
by another writer (its partition's version moved) is loaded and fired."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tests.helpers import T0, ev

from makegood.domain.model import Timer
from makegood.domain.partition import partition_of
from makegood.domain.policy import Budgets
from makegood.domain.world import Changes, Snapshot
from makegood.service_layer.engine import Engine
from makegood.testing import InMemoryStore


class RecordingStore(InMemoryStore):
    """Records the timers each `save` writes and deletes."""

    def __init__(self) -> None:
        super().__init__()
        self.armed: list[set[str]] = []
        self.deleted: list[set[str]] = []

    def session(self) -> Any:
        store = self
        inner = super().session()

        class Recording:
            def __enter__(self) -> Any:
                session = inner.__enter__()
                save = session.save

                def recorded(changes: Changes, snapshot: Snapshot, budgets: Budgets) -> None:
                    store.armed.append(set(changes.timers))
                    store.deleted.append(set(changes.timers_done))
                    save(changes, snapshot, budgets)

                session.save = recorded
                return session

            def __exit__(self, *exc: object) -> Any:
                return inner.__exit__(*exc)

        return Recording()


def _order(n: int, placed_min: int) -> list[dict[str, Any]]:
    at = T0 + timedelta(minutes=placed_min)
    return [
        ev(f"p{n}", "order.placed", at, f"c{n}", f"o{n}", promised_at=at + timedelta(minutes=30)),
        ev(f"d{n}", "order.delivered", at + timedelta(minutes=20), f"c{n}", f"o{n}"),
    ]


def _written(store: RecordingStore) -> set[str]:
    return set().union(*store.armed, *store.deleted)


def test_a_deadline_armed_and_cancelled_between_flushes_is_never_written(
    make_engine: Callable[..., Engine],
) -> None:
    store = RecordingStore()
    engine = make_engine(store, event_time=True, batch_size=1)
    for raw in _order(1, 0):
        engine.ingest([raw], flush=False)
    engine.flush()
    assert store.armed, "the flush wrote the batches"
    assert not [k for k in _written(store) if "o1" in k]
    assert not store.state.timers


def test_a_written_deadline_is_deleted_when_the_order_arrives(
    make_engine: Callable[..., Engine],
) -> None:
    store = RecordingStore()
    engine = make_engine(store, event_time=True, batch_size=1)
    placed, delivered = _order(2, 0)
    engine.ingest([placed])  # written: the flush at the end of the call
    armed = {k for k in store.state.timers if "o2" in k}
    assert armed, "the order's deadlines are stored"
    engine.ingest([delivered])
    assert armed <= store.deleted[-1]
    assert not store.state.timers


def test_a_timer_another_writer_armed_is_loaded_and_fired(
    make_engine: Callable[..., Engine],
) -> None:
    store = RecordingStore()
    engine = make_engine(store)  # wall time: the frozen clock
    engine.ingest([ev("u", "customer.upserted", T0, "c3", name="Ana")])
    engine.tick()  # the engine holds every timer now (none)
    # another writer (a person's action, another process) arms a timer: its partition moves
    timer = Timer("sla:elsewhere", T0 + timedelta(minutes=5), "sla", "c3", None, "no-such-case")
    store.state.timers[timer.key] = timer
    store.state.versions[partition_of("c3", len(store.state.versions))] += 1
    engine.clock.set(T0 + timedelta(minutes=6))  # type: ignore[attr-defined]
    engine.tick()
    assert "sla:elsewhere" in store.deleted[-1], "fired, so deleted"
    assert not store.state.timers
