"""Event time per partition (issue 12), on SQLite and PostgreSQL: engines owning disjoint
partitions of one log (as workers do) fire every timer at the moment one engine acting on the
whole log fires it, a partition with nothing new following the others' events, and a
partition moved to another engine goes on at its own time (docs/ARCHITECTURE.md,
"Partitions")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from makegood.adapters.sql import schema as t
from makegood.adapters.sql.store import SqlStore
from makegood.domain.partition import partition_of
from makegood.service_layer.engine import Engine
from makegood.testing import FrozenClock, counting_codes

from .conftest import Database

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LOW, HIGH = set(range(16)), set(range(16, 32))


def stream() -> list[dict[str, Any]]:
    """Orders promised 30 minutes after they are placed, 2 minutes apart: some delivered on
    time, some late (a deadline passed before the arrival), some never; then, a day later,
    orders only in the low partitions, so the high ones have nothing new and must follow."""
    events: list[dict[str, Any]] = []
    for n in range(48):
        placed = T0 + timedelta(minutes=2 * n)
        promised = placed + timedelta(minutes=30)
        events.append(_event(f"placed-{n}", "order.placed", placed, n, promised))
        if n % 3 != 2:  # n % 3 == 2: never arrives
            late = timedelta(minutes=5 if n % 3 == 0 else 50)
            events.append(_event(f"delivered-{n}", "order.delivered", promised + late, n))
    tail = [n for n in range(100, 400) if partition_of(f"c{n}", 32) in LOW][:6]
    for i, n in enumerate(tail):
        at = T0 + timedelta(days=1, minutes=i)
        events.append(_event(f"placed-{n}", "order.placed", at, n, at + timedelta(hours=9)))
    return sorted(events, key=lambda e: str(e["occurred_at"]))


def _event(
    event_id: str, kind: str, at: datetime, n: int, promised: datetime | None = None
) -> dict[str, Any]:
    attributes = {"promised_at": promised.isoformat()} if promised else {}
    return {
        "id": event_id,
        "type": kind,
        "occurred_at": at.isoformat(),
        "customer_id": f"c{n}",
        "subject_id": f"o{n}",
        "attributes": attributes,
    }


def engine(store: SqlStore, policy: Any, batch_size: int = 2000) -> Engine:
    return Engine(
        store,
        policy,
        FrozenClock(T0),
        event_time=True,
        new_code=counting_codes(),
        batch_size=batch_size,
    )


def decided(store: SqlStore) -> dict[str, set[tuple[Any, ...]]]:
    """What was decided, times included: when each failure was detected, each message made."""
    f, o, c = t.failures, t.outbox, t.cases
    with store.engine.connect() as conn:
        return {
            "failures": set(
                conn.execute(
                    sa.select(
                        f.c.id, f.c.detector, f.c.customer_id, f.c.detected_at, f.c.lateness_s
                    )
                ).all()
            ),
            "outbox": set(conn.execute(sa.select(o.c.key, o.c.customer_id, o.c.created_at)).all()),
            "cases": set(conn.execute(sa.select(c.c.id, c.c.state, c.c.updated_at)).all()),
            "timers": set(conn.execute(sa.select(t.timers.c.key, t.timers.c.due_at)).all()),
        }


def one_engine(tmp_path: Path, policy: Any, events: Sequence[dict[str, Any]]) -> SqlStore:
    store = SqlStore(f"sqlite:///{tmp_path / 'one.db'}")
    store.migrate()
    engine(store, policy).ingest(events)
    return store


def test_two_engines_fire_every_timer_when_one_engine_does(
    tmp_path: Path, database: Database, policy: Any
) -> None:
    events = stream()
    expected = decided(one_engine(tmp_path, policy, events))
    assert expected["failures"] and any(r[4] for r in expected["failures"])  # some lateness
    producer = engine(database.store(), policy)
    producer.acts_on_append = False  # appends to the log, acts on nothing (as `serve --bus`)
    low, high = engine(database.store(), policy, 7), engine(database.store(), policy, 5)
    low.own(LOW)
    high.own(HIGH)
    for start in range(0, len(events), 11):
        producer.ingest(events[start : start + 11])
        for worker in (low, high) if start % 2 else (high, low):
            worker.drain()
    found = decided(database.stores[-1])
    assert found == expected
    # the high partitions had nothing in the last day: they followed the low ones' events
    late = {r[2] for r in found["failures"]}
    assert any(partition_of(c, 32) in HIGH for c in late)


def test_a_partition_moved_to_another_engine_goes_on_at_its_own_time(
    tmp_path: Path, database: Database, policy: Any
) -> None:
    """Half the stream acted on by one engine owning every partition, then the high half moves
    to a second engine that was acting on other partitions: timers fire as one engine fires
    them (never early: the second engine's time is not the moved partitions' time)."""
    events = stream()
    expected = decided(one_engine(tmp_path, policy, events))
    producer = engine(database.store(), policy)
    producer.acts_on_append = False
    first, second = engine(database.store(), policy, 3), engine(database.store(), policy, 4)
    first.own(LOW | HIGH)
    second.own(set())
    middle = len(events) // 2
    producer.ingest(events[:middle])
    first.drain()
    first.own(LOW)
    second.own(HIGH)
    producer.ingest(events[middle:])
    second.drain()
    first.drain()
    assert decided(database.stores[-1]) == expected


def test_workers_taking_over_from_one_engine_go_on_at_its_time(
    tmp_path: Path, database: Database, policy: Any
) -> None:
    """One engine acts on the first half of the log (its time is the log's, kept as one
    watermark); then two engines, restarted halfway, own the partitions: every timer fires
    as one engine acting on the whole log fires it."""
    events = stream()
    expected = decided(one_engine(tmp_path, policy, events))
    whole = engine(database.store(), policy)
    third = len(events) // 3
    whole.ingest(events[:third])  # appended and acted on
    producer = engine(database.store(), policy)
    producer.acts_on_append = False
    producer.ingest(events[third : 2 * third])
    low, high = engine(database.store(), policy, 6), engine(database.store(), policy, 9)
    low.own(LOW)
    high.own(HIGH)
    high.drain()
    low.drain()
    producer.ingest(events[2 * third :])
    low, high = engine(database.store(), policy, 6), engine(database.store(), policy, 9)
    low.own(LOW)  # restarted: the partitions' time is read back from the store
    high.own(HIGH)
    low.drain()
    high.drain()
    assert decided(database.stores[-1]) == expected
