"""Scale-out figures (issue 13): `makegood worker` processes on PostgreSQL and NATS JetStream.

    .venv/bin/python bench/scale.py --database-url postgresql+psycopg://postgres@127.0.0.1/test \\
        [--nats nats://127.0.0.1:4222] [--orders 4000] [--workers 1,2,4] [--kills 0]

For each number of workers: a schema and a stream of their own; the workers start on the empty
stream and settle on a fair share of the 32 partitions; they are paused (SIGSTOP, leases of 60 s
so none runs out), the demo's day is published (pre-filled stream), they are resumed and timed
until every partition's place reaches the head of its log. Printed: wall seconds, events/s, the
workers' CPU-seconds (user + system, from /proc) and CPU-seconds per 1,000 events.

Death: with two workers on a lease of `--lease` seconds, one is SIGKILLed mid-stream; printed:
seconds until its partitions are owned by the other, and until all of them have moved on in
the log (processed again).

`--latency R1,R2`: end-to-end latency at each rate (events/s): `--latency-workers` workers on
the wall clock (live: decisions written within 0.2 s; the day's deadlines, long past, fire as
their orders arrive) on a lease of `--lease` s take the demo's day published at that rate
(chunks every 20 ms); an
event's latency runs from its PubAck (the stream has it) to the first poll (every 20 ms) of
the partition table showing its partition's place at or past the event's place in the log
(its batch committed). Printed: p50, p99 and max, the rate reached, and whether the workers
kept up (the log's lag when publishing ended).

`--kills N`: the long kill campaign (three workers, one SIGKILLed at random every 1-3 s and a
new one started, N times), then the checks: every event in the log once, every event acted on,
no failure twice (natural keys), what one `makegood ingest` detects is detected.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from engine import events_for

from makegood.adapters.sql.lease import PartitionRow, partition_table

MAKEGOOD = Path(sys.executable).parent / "makegood"
TICKS = os.sysconf("SC_CLK_TCK")


class Run:
    def __init__(self, db: str, bus: str, folder: Path, lease: float) -> None:
        self.db, self.bus, self.folder, self.lease = db, bus, folder, lease
        self.schema = f"scale_{secrets.token_hex(4)}"
        self.stream = f"S{secrets.token_hex(5)}"
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.cpu_of_dead = 0.0
        self.engine = sa.create_engine(db, connect_args={"options": f"-csearch_path={self.schema}"})

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAKEGOOD_")}
        env.update(
            MAKEGOOD_DATABASE_URL=self.db,
            MAKEGOOD_DATABASE_SCHEMA=self.schema,
            MAKEGOOD_BUS_URL=self.bus,
            MAKEGOOD_BUS_STREAM=self.stream,
            MAKEGOOD_BUS_PREFIX=f"{self.stream.lower()}.events",
        )
        return env

    def run(self, *args: object) -> None:
        subprocess.run(
            [str(MAKEGOOD), *map(str, args)], env=self.env, check=True, capture_output=True
        )

    def start(self, name: str, clock: str = "event") -> None:
        with (self.folder / f"{name}.log").open("ab") as out:
            self.workers[name] = subprocess.Popen(
                [
                    str(MAKEGOOD),
                    "worker",
                    "--name",
                    name,
                    "--lease",
                    str(self.lease),
                    "--clock",
                    clock,
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def cpu(self) -> float:
        total = self.cpu_of_dead
        for process in self.workers.values():
            total += cpu_of(process.pid)
        return total

    def kill(self, name: str) -> None:
        process = self.workers.pop(name)
        self.cpu_of_dead += cpu_of(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def signal_all(self, sig: int) -> None:
        for process in self.workers.values():
            process.send_signal(sig)

    def table(self) -> list[PartitionRow]:
        with self.engine.connect() as c:
            return partition_table(c)

    def wait(self, condition: Callable[[list[PartitionRow]], bool], timeout: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if condition(self.table()):
                return time.monotonic() - start
            time.sleep(0.05)
        raise TimeoutError(f"not within {timeout} s")

    def count(self, sql: str) -> Any:
        with self.engine.connect() as c:
            return c.exec_driver_sql(sql).one()


def cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def owners(rows: list[PartitionRow]) -> dict[str | None, int]:
    found: dict[str | None, int] = {}
    for r in rows:
        found[r.owner] = found.get(r.owner, 0) + 1
    return found


def done(total: int) -> Callable[[list[PartitionRow]], bool]:
    return lambda rows: (
        all(r.applied == r.head for r in rows) and max(r.head for r in rows) >= total
    )


@contextmanager
def run_on(args: argparse.Namespace, folder: Path, lease: float) -> Iterator[Run]:
    made = Run(args.database_url, args.nats, folder, lease)
    admin = sa.create_engine(args.database_url)
    with admin.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{made.schema}"')
    try:
        made.run("migrate")
        yield made
    finally:
        for process in made.workers.values():
            process.send_signal(signal.SIGKILL)
            process.wait()
        made.engine.dispose()
        with admin.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{made.schema}" CASCADE')
        admin.dispose()
        delete_stream(args.nats, made.stream)


def delete_stream(url: str, stream: str) -> None:
    import nats

    async def delete() -> None:
        nc = await nats.connect(url)
        try:
            await nc.jetstream().delete_stream(stream)
        except Exception:  # noqa: S110 (never created: nothing to delete)
            pass
        await nc.close()

    asyncio.run(delete())


def fair(n: int) -> list[int]:
    return sorted(32 // n + (k < 32 % n) for k in range(n))


def throughput(args: argparse.Namespace, path: Path, total: int, n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, run_on(args, Path(tmp), 60.0) as made:
        for k in range(n):
            made.start(f"w{k}")
        made.wait(
            lambda rows: None not in owners(rows) and sorted(owners(rows).values()) == fair(n), 120
        )
        made.signal_all(signal.SIGSTOP)
        published = time.monotonic()
        made.run("ingest", path, "--bus", args.nats, "--quiet")  # the pre-filled stream
        published = time.monotonic() - published  # `ingest --bus`, process start included
        before = made.cpu()
        started = time.monotonic()
        made.signal_all(signal.SIGCONT)
        made.wait(done(total), 1800)
        wall = time.monotonic() - started
        cpu = made.cpu() - before
    return {
        "workers": n,
        "events": total,
        "wall_s": round(wall, 2),
        "events_per_s": round(total / wall),
        "cpu_s": round(cpu, 2),
        "cpu_s_per_1000_events": round(cpu / total * 1000, 3),
        "publish_s": round(published, 2),
    }


def death(args: argparse.Namespace, path: Path, total: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, run_on(args, Path(tmp), args.lease) as made:
        made.start("a")
        made.start("b")
        made.wait(lambda rows: owners(rows).get("a") == 16 and owners(rows).get("b") == 16, 120)
        made.run("ingest", path, "--bus", args.nats, "--quiet")
        made.wait(lambda rows: sum(r.applied for r in rows) > 0, 120)
        places = {r.partition: r.applied for r in made.table() if r.owner == "a"}
        made.kill("a")
        owned = made.wait(lambda rows: "a" not in owners(rows), 60)
        moved = made.wait(
            lambda rows: all(
                r.applied > places[r.partition] or r.applied == r.head
                for r in rows
                if r.partition in places
            ),
            120,
        )
        made.wait(done(total), 600)
    return {
        "lease_s": args.lease,
        "owned_again_s": round(owned, 2),
        "processed_again_s": round(owned + moved, 2),  # from the kill
    }


def latency(args: argparse.Namespace, events: list[dict[str, Any]], rate: int) -> dict[str, Any]:
    import threading

    from makegood.adapters.bus.nats import NatsBus

    n = args.latency_workers
    with tempfile.TemporaryDirectory() as tmp, run_on(args, Path(tmp), args.lease) as made:
        for k in range(n):
            made.start(f"w{k}", clock="wall")  # live: decisions written within 0.2 s
        made.wait(lambda rows: sorted(owners(rows).values()) == fair(n), 120)
        bus = NatsBus(args.nats, stream=made.stream, prefix=f"{made.stream.lower()}.events")
        polls: list[tuple[float, dict[int, int]]] = []
        stop = threading.Event()

        def poll() -> None:
            engine = sa.create_engine(
                args.database_url, connect_args={"options": f"-csearch_path={made.schema}"}
            )
            with engine.connect() as c:
                while not stop.is_set():
                    rows = c.exec_driver_sql("SELECT partition, applied FROM partitions").all()
                    c.commit()
                    polls.append((time.monotonic(), {int(p): int(a) for p, a in rows}))
                    time.sleep(0.02)
            engine.dispose()

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        published: dict[str, float] = {}
        chunk = max(1, round(rate * 0.02))
        start = time.monotonic()
        for k in range(0, len(events), chunk):
            due = start + k / rate
            time.sleep(max(0.0, due - time.monotonic()))
            part = events[k : k + chunk]
            bus.publish(part)
            at = time.monotonic()
            for event in part:
                published.setdefault(str(event["id"]), at)
        spent = time.monotonic() - start
        lag = made.count("SELECT count(*) FROM events")[0]
        made.wait(done(len(published)), 1800)
        time.sleep(0.1)
        stop.set()
        poller.join()
        bus.close()
        with made.engine.connect() as c:
            logged = c.exec_driver_sql("SELECT id, seq, partition FROM events").all()
    import bisect

    # per partition, the places seen in poll order (a place only moves on): the first poll at
    # or past an event's place is a bisection
    seen: dict[int, tuple[list[int], list[float]]] = {}
    for t, places in polls:
        for partition, place in places.items():
            marks, times = seen.setdefault(partition, ([], []))
            marks.append(place)
            times.append(t)
    latencies = []
    for event_id, seq, partition in logged:
        marks, times = seen.get(int(partition), ([], []))
        k = bisect.bisect_left(marks, int(seq))
        if k < len(marks):
            latencies.append(max(0.0, times[k] - published[event_id]))
    latencies.sort()

    def at(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000)

    return {
        "workers": n,
        "rate_asked": rate,
        "rate_published": round(len(published) / spent),
        "events": len(latencies),
        "appended_when_publishing_ended": lag,
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "max_ms": round(latencies[-1] * 1000),
    }


def kills(args: argparse.Namespace, path: Path, total: int) -> dict[str, Any]:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp, run_on(args, Path(tmp), args.lease) as made:
        for k in range(3):
            made.start(f"w{k}")
        made.wait(lambda rows: sorted(owners(rows).values()) == fair(3), 120)
        made.run("ingest", path, "--bus", args.nats, "--quiet")
        worst = 0.0
        for n in range(args.kills):
            victim = rng.choice(sorted(made.workers))
            made.kill(victim)
            worst = max(worst, made.wait(lambda rows, v=victim: v not in owners(rows), 60))
            made.start(f"k{n}")
            time.sleep(rng.uniform(1.0, 3.0))
        made.wait(done(total), 1800)
        logged = made.count("SELECT count(*), count(DISTINCT id) FROM events")
        keys = made.count("SELECT count(*), count(DISTINCT key) FROM failures")
    return {
        "kills": args.kills,
        "events_logged": list(logged),
        "failures_and_distinct_keys": list(keys),
        "worst_owned_again_s": round(worst, 2),
        "lease_s": args.lease,
        "ok": logged[0] == logged[1] == total and keys[0] == keys[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--orders", type=int, default=4000)
    parser.add_argument("--customers", type=int, default=800)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--kills", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", default="", help="rates (events/s), comma-separated")
    parser.add_argument("--latency-workers", type=int, default=2)
    parser.add_argument("--no-death", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.jsonl"
        events = events_for(args.orders, args.customers)
        with path.open("w") as out:
            for event in events:
                out.write(json.dumps(event, default=str) + "\n")
        total = len({e["id"] for e in events})
        print(f"machine: {os.cpu_count()} cores; {total:,} events of the demo's day", flush=True)
        for n in (int(x) for x in args.workers.split(",") if x):
            print(json.dumps(throughput(args, path, total, n)), flush=True)
        if not args.no_death:
            print(json.dumps({"death": death(args, path, total)}), flush=True)
        for rate in (int(x) for x in args.latency.split(",") if x):
            print(json.dumps({"latency": latency(args, events, rate)}), flush=True)
        if args.kills:
            print(json.dumps({"kill_campaign": kills(args, path, total)}), flush=True)


if __name__ == "__main__":
    main()
