"""Real `makegood worker` processes on PostgreSQL and NATS JetStream for the scale-out tests
(issue 13): a schema and a stream of their own per test, so runs never collide."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from makegood.adapters.sql.lease import PartitionRow, partition_table
from makegood.adapters.sql.store import SqlStore

MAKEGOOD = Path(sys.executable).parent / "makegood"
DB_VARIABLE, NATS_VARIABLE = "MAKEGOOD_TEST_DATABASE_URL", "MAKEGOOD_TEST_NATS_URL"


def urls() -> tuple[str, str]:
    db, bus = os.environ.get(DB_VARIABLE), os.environ.get(NATS_VARIABLE)
    if not db or not bus:
        pytest.skip(f"set {DB_VARIABLE} and {NATS_VARIABLE} to run the scale-out tests")
    return db, bus


def delete_stream(url: str, stream: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    async def delete() -> None:
        nc = await nats.connect(url)
        try:
            await nc.jetstream().delete_stream(stream)
        except NotFoundError:
            pass
        finally:
            await nc.close()

    asyncio.run(delete())


@dataclass
class Cluster:
    """One database schema and one stream; workers started as real processes."""

    db: str
    bus: str
    folder: Path
    schema: str = field(default_factory=lambda: f"mg_{secrets.token_hex(6)}")
    stream: str = field(default_factory=lambda: f"T{secrets.token_hex(6)}")
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    lease: float = 2.0
    metrics_port: int = 0  # a worker's /metrics, where a test asks for one

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAKEGOOD_")}
        env.update(
            MAKEGOOD_DATABASE_URL=self.db,
            MAKEGOOD_DATABASE_SCHEMA=self.schema,
            MAKEGOOD_BUS_URL=self.bus,
            MAKEGOOD_BUS_STREAM=self.stream,
            MAKEGOOD_BUS_PREFIX=f"{self.stream.lower()}.events",
            PYTHONIOENCODING="utf-8",
        )
        return env

    def run(self, *args: object, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(MAKEGOOD), *map(str, args)],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    def start(self, name: str, *extra: object) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("ab") as out:  # the child keeps its own
            process = subprocess.Popen(
                [
                    str(MAKEGOOD),
                    "worker",
                    "--name",
                    name,
                    "--lease",
                    str(self.lease),
                    *map(str, extra),
                ],
                cwd=self.folder,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.workers[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.db, connect_args={"options": f"-csearch_path={self.schema}"})

    def table(self) -> list[PartitionRow]:
        engine = self.engine()
        try:
            with engine.connect() as c:
                return partition_table(c)
        finally:
            engine.dispose()

    def wait(self, condition: Callable[[list[PartitionRow]], bool], timeout: float) -> float:
        """Seconds until `condition` holds of the partition table."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            rows = self.table()
            with (self.folder / "wait.log").open("a") as trace:  # what a failure is read from
                trace.write(f"{time.monotonic() - start:.1f} {owners(rows)}\n")
            if condition(rows):
                return time.monotonic() - start
            time.sleep(0.2)
        raise AssertionError(f"not within {timeout} s: {self.table()}")

    def publish(self, path: Path) -> int:
        """What `makegood ingest FILE --bus` does, in this process (the CLI is tested in the
        equivalence tests; a process start costs seconds here): every line to its partition's
        subject, answered once the stream has them all."""
        from makegood.adapters.bus.nats import NatsBus

        bus = NatsBus(self.bus, stream=self.stream, prefix=f"{self.stream.lower()}.events")
        try:
            lines = [json.loads(line) for line in path.read_text().splitlines() if line]
            return sum(len(bus.publish(lines[i : i + 1000])) for i in range(0, len(lines), 1000))
        finally:
            bus.close()

    def stop(self, name: str, sig: int = signal.SIGTERM) -> int:
        process = self.workers.pop(name)
        process.send_signal(sig)
        return process.wait(timeout=60)

    def stop_all(self) -> None:
        for name in list(self.workers):
            process = self.workers[name]
            if process.poll() is None:
                self.stop(name)
            else:
                self.workers.pop(name)


def owners(rows: list[PartitionRow]) -> dict[str | None, int]:
    found: dict[str | None, int] = {}
    for r in rows:
        found[r.owner] = found.get(r.owner, 0) + 1
    return found


def caught_up(total: int) -> Callable[[list[PartitionRow]], bool]:
    """Every event of the log acted on, and `total` events in it."""

    def check(rows: list[PartitionRow]) -> bool:
        return (
            sum(1 for _ in rows) > 0
            and all(r.applied == r.head for r in rows)
            and (max(r.head for r in rows) >= total)
        )

    return check


@contextmanager
def cluster(folder: Path) -> Iterator[Cluster]:
    db, bus = urls()
    folder.mkdir(parents=True, exist_ok=True)
    made = Cluster(db, bus, folder)
    admin = sa.create_engine(db)
    with admin.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{made.schema}"')
    try:
        # in this process: a `makegood` process costs seconds to start on a busy machine, and
        # `makegood migrate` is tested on its own
        store = SqlStore(db, made.schema)
        store.migrate()
        store.dispose()
        yield made
    finally:
        made.stop_all()
        with admin.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{made.schema}" CASCADE')
        admin.dispose()
        delete_stream(bus, made.stream)


def demo_events(path: Path, orders: int, customers: int, seed: int = 7) -> int:
    """The demo's event stream (a seeded, smaller day) as a JSONL file; answers its length."""
    from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator

    sim = Simulator(SimulationSettings(orders=orders, customers=customers, seed=seed))
    events = sim.advance(sim.horizon)
    with path.open("w") as out:
        for event in events:
            out.write(json.dumps(event, default=str) + "\n")
    return len({e["id"] for e in events})


def read_tables(made: Cluster, columns: dict[str, str]) -> dict[str, set[tuple[Any, ...]]]:
    engine = made.engine()
    try:
        with engine.connect() as c:
            return {
                # the tests' own column lists, not input
                table: {tuple(r) for r in c.exec_driver_sql(f"SELECT {cols} FROM {table}")}  # noqa: S608
                for table, cols in columns.items()
            }
    finally:
        engine.dispose()
