"""Leases and fencing (issue 13), on SQLite and PostgreSQL: a fair share of the partitions
per live worker, the epoch moved by every take, and a holder whose lease was taken finds its
writes refused (`Fenced`) with nothing of its batch written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from makegood.adapters.sql import schema as t
from makegood.adapters.sql.lease import Fence, SqlLeases, partition_table
from makegood.domain.errors import Fenced
from makegood.domain.partition import partition_of
from makegood.service_layer.engine import Engine
from makegood.testing import FrozenClock, counting_codes

from .conftest import Database

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=5)


def orders(start: int, count: int, at: datetime) -> list[dict[str, Any]]:
    """Item issues (a failure each) for customers c<n>."""
    return [
        {
            "id": f"e{n}",
            "type": "order.item_issue",
            "occurred_at": at.isoformat(),
            "customer_id": f"c{n}",
            "subject_id": f"o{n}",
            "attributes": {"issue": "missing"},
        }
        for n in range(start, start + count)
    ]


def engine_for(store: Any, policy: Any, owner: str, held: dict[int, int]) -> Engine:
    store.fence = Fence(owner, dict(held))
    engine = Engine(store, policy, FrozenClock(NOW), event_time=True, new_code=counting_codes())
    engine.watermark = f"watermark@{owner}"
    engine.acts_on_append = False
    engine.own(held)
    return engine


def test_a_fair_share_each_and_every_take_moves_the_epoch(database: Database) -> None:
    store = database.store()
    a = SqlLeases(store.writer, "a", TTL)
    b = SqlLeases(store.writer, "b", TTL)
    held_a = a.balance({}, NOW)
    assert sorted(held_a) == list(range(32)) and set(held_a.values()) == {1}
    held_b = b.balance({}, NOW)  # b joins: a still holds its leases, nothing is free
    assert held_b == {}
    held_a = a.balance(held_a, NOW)  # a gives back what is over its share
    assert len(held_a) == 16
    held_b = b.balance(held_b, NOW)
    assert len(held_b) == 16 and not set(held_a) & set(held_b)
    assert set(held_b.values()) == {2}  # taken once by a, once by b
    # a stops renewing; its leases run out and b takes them over at a new epoch
    later = NOW + TTL * 2
    held_b = b.renew(held_b, later - timedelta(seconds=1))
    held_b = b.balance(held_b, later)
    assert len(held_b) == 32
    assert {held_b[p] for p in held_a} == {2}  # a had them at epoch 1
    assert a.renew(held_a, later) == {}  # a's renewal finds every lease gone
    with store.engine.connect() as c:
        table = partition_table(c)
    assert {r.owner for r in table} == {"b"}
    b.balance(held_b, later, stopping=True)  # SIGTERM: every lease released, at once
    with store.engine.connect() as c:
        assert {r.owner for r in partition_table(c)} == {None}
        assert c.scalar(sa.select(sa.func.count()).select_from(t.workers)) == 1  # a's row


def test_a_holder_whose_lease_was_taken_writes_nothing(database: Database, policy: Any) -> None:
    first, second = database.store(), database.store()
    a = SqlLeases(first.writer, "a", TTL)
    held_a = a.balance({}, NOW)
    stale = engine_for(first, policy, "a", held_a)
    stale.ingest(orders(0, 20, NOW))
    stale.drain()
    with first.engine.connect() as c:
        before = c.scalar(sa.select(sa.func.count()).select_from(t.failures))
        places = {r.partition: r.applied for r in partition_table(c)}
    assert before == 20
    # a is paused past its lease; b takes every partition over (epoch moves on)
    b = SqlLeases(second.writer, "b", TTL)
    held_b = b.balance({}, NOW + TTL * 2)
    assert len(held_b) == 32
    # a resumes: what it appends is in the log (for b to act on), what it decides is refused
    stale.ingest(orders(20, 20, NOW + timedelta(minutes=1)))
    with pytest.raises(Fenced):
        stale.drain()
    with first.engine.connect() as c:
        assert c.scalar(sa.select(sa.func.count()).select_from(t.failures)) == before
        assert {r.partition: r.applied for r in partition_table(c)} == places
        assert c.scalar(sa.select(sa.func.count()).select_from(t.events)) == 40
    # the new owner acts on everything a appended and did not act on, exactly once
    owner = engine_for(second, policy, "b", held_b)
    owner.drain()
    with second.engine.connect() as c:
        assert c.scalar(sa.select(sa.func.count()).select_from(t.failures)) == 40
        table = partition_table(c)
    assert all(r.applied == r.head for r in table)
    assert {r.epoch for r in table if r.head} == {2}


def test_a_lease_holder_fires_only_its_own_partitions_timers(
    database: Database, policy: Any
) -> None:
    """A worker's batch never writes a partition it does not own through a timer."""
    store = database.store()
    mine = {p: 1 for p in range(16)}
    with store.writer.begin() as c:  # a holds the first half at epoch 1
        c.execute(
            sa.update(t.partitions).where(t.partitions.c.partition < 16).values(epoch=1, owner="a")
        )
    engine = engine_for(store, policy, "a", mine)
    raws = [
        {
            "id": f"placed-{n}",
            "type": "order.placed",
            "occurred_at": NOW.isoformat(),
            "customer_id": f"c{n}",
            "subject_id": f"o{n}",
            "attributes": {"promised_at": (NOW + timedelta(minutes=30)).isoformat()},
        }
        for n in range(40)
    ]
    theirs = {f"c{n}" for n in range(40) if partition_of(f"c{n}", 32) not in mine}
    assert theirs
    # the other partitions' orders are placed by another engine (no fence: one process)
    other = Engine(store, policy, FrozenClock(NOW), event_time=True, new_code=counting_codes())
    store.fence = None
    other.ingest([r for r in raws if r["customer_id"] in theirs])
    store.fence = Fence("a", mine)
    engine.ingest([r for r in raws if r["customer_id"] not in theirs])
    late = {
        "id": "late",
        "type": "order.placed",
        "occurred_at": (NOW + timedelta(hours=3)).isoformat(),
        "customer_id": next(c for c in (f"x{n}" for n in range(99)) if partition_of(c, 32) < 16),
        "subject_id": "ox",
        "attributes": {"promised_at": (NOW + timedelta(hours=4)).isoformat()},
    }
    engine.ingest([late])
    engine.drain()  # its watermark passes every deadline
    with store.engine.connect() as c:
        failed = set(c.scalars(sa.select(t.failures.c.customer_id)))
        waiting = set(c.scalars(sa.select(t.timers.c.customer_id)))
    assert failed and not failed & theirs
    assert theirs <= waiting
