"""Engine benchmark: end-to-end events/s on SQLite, where the time goes, and the lag between a
deadline passing and its failure being recorded on the real clock.

    python bench/engine.py [--orders 20000] [--customers 3000] [--batch 2000] [--lag-orders 400]
                           [--database-url postgresql+psycopg://...] [--resident-mib 384]
                           [--volumes 20000,200000,860000]

Prints the figures; docs/PERFORMANCE.md keeps them with the machine they were taken on.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from ceiling import measure as ceiling

from makegood.adapters.clock import SystemClock
from makegood.adapters.policy_file import load_policy
from makegood.adapters.sql import schema as t
from makegood.adapters.sql.store import SqlStore
from makegood.adapters.voucher import new_voucher_code
from makegood.bootstrap import tune_process
from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator
from makegood.service_layer.engine import Engine
from makegood.service_layer.runner import EngineLoop

STAGES = {
    "validate (parse_event)": "parse_event",
    "decide (Recovery.apply/fire)": ("apply", "fire"),
    "store: dedupe + insert events": ("add_events", "event_fingerprints"),
    "store: load state": "load",
    "store: save changes": "save",
    "store: due timers": "due_timers",
}


def events_for(orders: int, customers: int) -> list[dict]:
    sim = Simulator(SimulationSettings(orders=orders, customers=customers))
    return sim.advance(sim.horizon)


@contextmanager
def fresh_store(database_url: str | None, name: str, folder: Path) -> Iterator[SqlStore]:
    """An empty, migrated store of its own for one run: a SQLite file in `folder`, or on
    PostgreSQL a schema of its own (dropped afterwards), so no run sees another's rows."""
    if not database_url:
        store = SqlStore(f"sqlite:///{folder / f'{name}.db'}")
        store.migrate()
        try:
            yield store
        finally:
            store.dispose()
        return
    schema = f"bench_{name}_{secrets.token_hex(4)}"
    admin = sa.create_engine(database_url)
    with admin.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    store = SqlStore(database_url, schema=schema)
    try:
        store.migrate()
        yield store
    finally:
        store.dispose()
        with admin.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


# Engine's flush_events / flush_seconds / resident_mib, from the command line
FLUSH: dict[str, Any] = {}


def throughput(store: SqlStore, events: Iterable[dict], batch: int, profile: bool) -> dict:
    engine = Engine(
        store,
        load_policy(),
        SystemClock(),
        event_time=True,
        new_code=new_voucher_code,
        batch_size=batch,
        **FLUSH,
    )
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    # a feed that goes on (as `ingest FILE` or the API under load): the engine writes behind,
    # a flush per `flush_events` events or `flush_seconds` of deciding, and one at the end
    count = 0
    for chunk in chunked(events, batch):
        engine.ingest(chunk, source="bench", flush=False)
        count += len(chunk)
    engine.flush()
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    with store.engine.connect() as c:
        failures = c.scalar(sa.select(sa.func.count()).select_from(t.failures))
    result = {
        "events": count,
        "seconds": seconds,
        "events_per_s": count / seconds,
        "cpu_seconds": cpu,
        "events_per_cpu_s": count / cpu,
        "failures": failures,
    }
    if profiler:
        stats = pstats.Stats(profiler)
        total = sum(
            v[3]
            for k, v in stats.stats.items()  # type: ignore[attr-defined]
            if k[2] in ("ingest", "flush") and k[0].endswith("engine.py")  # the last flush too
        )
        shares = {}
        for label, names in STAGES.items():
            names = (names,) if isinstance(names, str) else names
            spent = sum(
                v[3]
                for k, v in stats.stats.items()  # type: ignore[attr-defined]
                if k[2] in names and "makegood" in k[0]
            )
            shares[label] = spent / total if total else 0.0
        result["shares"] = shares
    return result


def deadline_lag(store: SqlStore, orders: int, spread_s: float = 4.0) -> dict:
    """Orders whose deadline (promised + 15 min) falls 1-5 s from now; none is delivered."""
    clock = SystemClock()
    engine = Engine(store, load_policy(), clock, event_time=False, new_code=new_voucher_code)
    now = clock.now()
    raws = []
    for i in range(orders):
        due = now + timedelta(seconds=1 + spread_s * i / orders)
        promised = due - timedelta(minutes=15)
        raws.append(
            {
                "id": f"lag-{i}",
                "type": "order.placed",
                "occurred_at": now.isoformat(),
                "customer_id": f"c{i}",
                "subject_id": f"o{i}",
                "attributes": {"promised_at": promised.isoformat(), "value": 20},
            }
        )
    engine.ingest(raws, source="bench")
    stop = threading.Event()
    loop = threading.Thread(target=EngineLoop(engine, max_sleep=0.25).run, args=(stop,))
    loop.start()
    time.sleep(1 + spread_s + 1.5)
    stop.set()
    loop.join()
    with store.engine.connect() as c:
        rows = c.execute(t.failures.select().where(t.failures.c.detector == "late_delivery"))
        lags = sorted((r.detected_at - r.occurred_at).total_seconds() for r in rows)
    cuts = statistics.quantiles(lags, n=100, method="inclusive")
    return {
        "deadlines": orders,
        "recorded": len(lags),
        "p50_ms": 1000 * statistics.median(lags),
        "p99_ms": 1000 * cuts[98],
        "max_ms": 1000 * lags[-1],
    }


def main() -> None:
    tune_process()  # as the `makegood` command does
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=3_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--lag-orders", type=int, default=400)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--flush-events", type=int, default=None, help="Engine(flush_events=)")
    parser.add_argument("--flush-seconds", type=float, default=None, help="Engine(flush_seconds=)")
    parser.add_argument(
        "--resident-mib",
        type=float,
        default=None,
        help="Engine(resident_mib=): the budget of the state kept in memory",
    )
    parser.add_argument(
        "--volumes",
        default="",
        help="comma-separated order counts: the end-to-end run at each volume, with the "
        "resident size after it (e.g. 20000,200000,860000 for about 50k, 500k and 2M events); "
        "prints only those figures",
    )
    parser.add_argument("--one-volume", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--write-events", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_events:
        write_events(int(args.write_events[0]), args.write_events[1])
        return
    if args.flush_events is not None:
        FLUSH["flush_events"] = args.flush_events
    if args.flush_seconds is not None:
        FLUSH["flush_seconds"] = args.flush_seconds
    if args.resident_mib is not None:
        FLUSH["resident_mib"] = args.resident_mib
    if args.one_volume:
        one_volume(args)
        return
    if args.volumes:
        volumes(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder, url = Path(tmp), args.database_url

        def fresh(name: str) -> Any:
            return fresh_store(url, name, folder)

        kind = (url or "sqlite").split(":")[0]
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}"
        )
        events = events_for(args.orders, args.customers)
        kinds = len({e["type"] for e in events})
        print(
            f"workload: {len(events):,} events of {kinds} types from the demo simulator "
            f"({args.orders:,} orders, {args.customers:,} customers), batches of {args.batch}"
        )
        with fresh("bench") as store:
            result = throughput(store, events, args.batch, profile=False)
        print(
            f"end-to-end, event time, {kind}: {result['events_per_s']:,.0f} "
            f"events/s ({result['seconds']:.2f} s wall, {result['cpu_seconds']:.2f} s CPU: "
            f"{result['events_per_cpu_s']:,.0f} events per CPU-second)"
        )
        roof = ceiling([json.dumps(e) for e in events], args.batch)
        print(
            f"ceiling (bench/ceiling.py, same events, same run): "
            f"{roof['events_per_cpu_s']:,.0f} events per CPU-second; engine / ceiling = "
            f"{result['events_per_cpu_s'] / roof['events_per_cpu_s']:.3f} (CPU), "
            f"{result['events_per_s'] / roof['events_per_s']:.3f} (wall)"
        )
        with fresh("profiled") as store:
            profiled = throughput(store, events, args.batch, profile=True)
        print("where the time goes (share of ingest, under cProfile):")
        for label, share in profiled["shares"].items():
            print(f"  {label:34} {100 * share:5.1f} %")
        with fresh("lag") as store:
            lag = deadline_lag(store, args.lag_orders)
        print(
            f"deadline lag, wall clock, {lag['recorded']}/{lag['deadlines']} deadlines: "
            f"p50 {lag['p50_ms']:.0f} ms, p99 {lag['p99_ms']:.0f} ms, "
            f"max {lag['max_ms']:.0f} ms"
        )


def volumes(args: argparse.Namespace) -> None:
    """Events per CPU-second at growing volumes (is the cost per event flat?) and the resident
    size (ru_maxrss) after each run: each volume in a process of its own and a fresh store."""
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    for orders in args.volumes.split(","):
        command = [sys.executable, __file__, "--one-volume", orders, "--batch", str(args.batch)]
        if args.database_url:
            command += ["--database-url", args.database_url]
        for name, value in FLUSH.items():
            command += [f"--{name.replace('_', '-')}", str(value)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            print(done.stderr)
            continue
        r = json.loads(done.stdout.splitlines()[-1])
        print(
            f"{r['events']:>10,} events: {r['events_per_s']:>7,.0f} events/s, "
            f"{r['events_per_cpu_s']:>7,.0f} per CPU-second ({r['cpu_seconds']:.1f} CPU-s), "
            f"peak resident {r['rss_mib']:,.0f} MiB (events streamed: the engine's own)"
        )


def chunked(events: Iterable[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for event in events:
        chunk.append(event)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def one_volume(args: argparse.Namespace) -> None:
    """One volume, streamed: the simulator writes its events to a file in a process of its
    own, and this process reads them a batch at a time, so its peak resident size is the
    engine's (and SQLite's) own, not the simulator's list of every event."""
    orders = args.one_volume
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        command = [sys.executable, __file__, "--write-events", str(orders), str(path)]
        subprocess.run(command, check=True)

        def stream() -> Iterator[dict]:
            with path.open(encoding="utf-8") as lines:
                for line in lines:
                    yield json.loads(line)

        with fresh_store(args.database_url, "volume", Path(folder)) as store:
            result = throughput(store, stream(), args.batch, profile=False)
    result["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def write_events(orders: int, path: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for event in events_for(orders, max(orders // 7, 3000)):
            out.write(json.dumps(event) + "\n")


if __name__ == "__main__":
    main()
