"""What following the log costs a worker (issue 12): the demo's day through engines owning
halves of the partitions, with each partition's time following the whole log (`follow_log`,
the rule of docs/ARCHITECTURE.md "Partitions") and with each engine's own partitions only, on
SQLite (or PostgreSQL), side by side in one run; and whether the first gives exactly what one
engine acting on the whole log decides.

    python bench/partition_time.py [--orders 5000] [--customers 1000] [--batch 2000]
                                   [--database-url postgresql+psycopg://...]

Prints events per CPU-second and per wall second for each; docs/PERFORMANCE.md keeps them.
"""

from __future__ import annotations

import argparse
import platform
import secrets
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from makegood.adapters.policy_file import load_policy
from makegood.adapters.sql import schema as t
from makegood.adapters.sql.store import SqlStore
from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator
from makegood.service_layer.engine import Engine
from makegood.testing import FrozenClock, counting_codes

SCHEMAS: list[str] = []  # PostgreSQL: a schema per store, dropped at the end


def store_for(url: str | None, directory: Path, name: str) -> SqlStore:
    if url is None:
        store = SqlStore(f"sqlite:///{directory / name}.db")
    else:
        schema = f"bench_{name}_{secrets.token_hex(3)}"
        with sa.create_engine(url).begin() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        SCHEMAS.append(schema)
        store = SqlStore(url, schema=schema)
    store.migrate()
    return store


def drop_schemas(url: str | None) -> None:
    if url is not None and SCHEMAS:
        with sa.create_engine(url).begin() as c:
            for schema in SCHEMAS:
                c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def engine(store: SqlStore, policy: Any, batch: int, start: datetime) -> Engine:
    return Engine(
        store, policy, FrozenClock(start), event_time=True, new_code=counting_codes(),
        batch_size=batch,
    )  # fmt: skip


def decided(store: SqlStore) -> set[tuple[Any, ...]]:
    f = t.failures
    with store.engine.connect() as c:
        return set(c.execute(sa.select(f.c.id, f.c.detected_at, f.c.lateness_s)).all())


def waiting(store: SqlStore) -> int:
    """Timers still armed at the end (what was not fired)."""
    with store.engine.connect() as c:
        return int(c.scalar(sa.select(sa.func.count()).select_from(t.timers)) or 0)


def run(args: argparse.Namespace) -> None:
    sim = Simulator(SimulationSettings(orders=args.orders, customers=args.customers, seed=7))
    events = sim.advance(sim.horizon)
    policy = load_policy()
    start = max(datetime.fromisoformat(str(e["occurred_at"])) for e in events)
    print(f"{len(events)} events, batch {args.batch}, {platform.processor() or platform.machine()}")
    with tempfile.TemporaryDirectory() as directory:
        one = store_for(args.database_url, Path(directory), "one")
        cpu, wall = time.process_time(), time.perf_counter()
        engine(one, policy, args.batch, start).ingest(events)
        print(
            f"one engine:              {len(events) / (time.process_time() - cpu):8.0f} ev/CPU-s "
            f"{len(events) / (time.perf_counter() - wall):8.0f} ev/s"
        )
        expected, armed = decided(one), waiting(one)
        for follow in (True, False):
            store = store_for(args.database_url, Path(directory), f"two{int(follow)}")
            producer = engine(store, policy, args.batch, start)
            producer.acts_on_append = False
            producer.ingest(events)
            halves = [engine(store, policy, args.batch, start) for _ in range(2)]
            halves[0].own(range(16))
            halves[1].own(range(16, 32))
            for n, half in enumerate(halves):
                half.follow_log = follow
                half.watermark = f"watermark@{n}"  # as `makegood worker` names its own
            cpu, wall = time.process_time(), time.perf_counter()
            for half in halves:
                half.drain()
            found = decided(store)
            same = found == expected
            print(
                f"two engines, {'following the log' if follow else 'own time only  '}: "
                f"{len(events) / (time.process_time() - cpu):8.0f} ev/CPU-s "
                f"{len(events) / (time.perf_counter() - wall):8.0f} ev/s  "
                f"{len(found)} failures (one engine {len(expected)}), the same: {same}; "
                f"{waiting(store)} timers left armed (one engine {armed})"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--database-url")
    arguments = parser.parse_args()
    try:
        run(arguments)
    finally:
        drop_schemas(arguments.database_url)
