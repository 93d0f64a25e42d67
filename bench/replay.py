"""Replay (backtest) benchmark: events/s of `makegood replay` over a demo history.

    python bench/replay.py [--orders 20000] [--customers 3000] [--batch 5000] [--sqlite]

Replays the same history under the shipped policy on the replay's `LogStore` (what `makegood
replay` uses: the engine, nothing written), with and without text analysis, and optionally on
a throwaway SQLite file (synchronous=OFF) for comparison; checks both give the same figures.
Prints wall and CPU time, and a ceiling from the same kind of run: the decisions alone (the
replay's floor), with the ratio replay / ceiling. docs/PERFORMANCE.md keeps the figures with
the machine they were taken on.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from makegood.adapters.policy_file import load_policy
from makegood.adapters.sql.store import SqlStore
from makegood.bootstrap import default_analyzer
from makegood.domain.recovery import Recovery
from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator
from makegood.service_layer.replay import replay


def history(orders: int, customers: int) -> list[dict[str, Any]]:
    sim = Simulator(SimulationSettings(orders=orders, customers=customers))
    return sim.advance(sim.horizon)


def sqlite_store(path: Path) -> SqlStore:
    store = SqlStore(f"sqlite:///{path}")
    store.migrate()

    @sa.event.listens_for(store.engine, "connect")
    def _fast(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    store.engine.dispose()  # reconnect with the pragma
    return store


def decisions_cpu(events: list[dict[str, Any]], policy: Any, batch: int, repeat: int) -> float:
    """CPU-seconds of the decisions alone (`Recovery.apply` and `Recovery.fire`) in a replay
    without text analysis, best of `repeat`: what a replay costs if everything else (validation,
    the log, the engine's plumbing) cost nothing. The timer adds ~1 us a call."""
    apply, fire = Recovery.apply, Recovery.fire
    spent = [0.0]

    def timed_apply(self: Any, *args: Any) -> None:
        started = time.process_time()
        try:
            apply(self, *args)
        finally:
            spent[0] += time.process_time() - started

    def timed_fire(self: Any, *args: Any) -> None:
        started = time.process_time()
        try:
            fire(self, *args)
        finally:
            spent[0] += time.process_time() - started

    setattr(Recovery, "apply", timed_apply)  # noqa: B010
    setattr(Recovery, "fire", timed_fire)  # noqa: B010
    best = float("inf")
    try:
        for _ in range(repeat):
            spent[0] = 0.0
            replay(events, policy, batch_size=batch)
            best = min(best, spent[0])
    finally:
        setattr(Recovery, "apply", apply)  # noqa: B010
        setattr(Recovery, "fire", fire)  # noqa: B010
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=3_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument("--sqlite", action="store_true", help="also replay on SQLite")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}, load "
        f"{os.getloadavg()[0]:.1f}"
    )
    events = history(args.orders, args.customers)
    print(
        f"workload: {len(events):,} events from the demo simulator ({args.orders:,} orders, "
        f"{args.customers:,} customers), batches of {args.batch}"
    )
    policy = load_policy()
    runs = {
        "LogStore, no text analysis": {},
        "LogStore, lexicon text analysis (as makegood replay)": {
            "analyzer": default_analyzer(policy)
        },
    }
    figures = None
    plain: list[Any] = []
    for label, extra in runs.items():
        results = [
            replay(events, policy, batch_size=args.batch, **extra) for _ in range(args.repeat)
        ]
        best = min(results, key=lambda r: r.seconds)
        cpu = min(results, key=lambda r: r.cpu_seconds)
        figures = figures or best.figures
        plain = plain or results
        print(
            f"{label:52} {best.events_per_s:9,.0f} events/s ({best.seconds:.2f} s wall); "
            f"{cpu.events_per_cpu_s:9,.0f} events/CPU-s ({cpu.cpu_seconds:.2f} CPU-s)"
        )
    decide = decisions_cpu(events, policy, args.batch, args.repeat)
    print(
        f"{'ceiling: the decisions alone (Recovery.apply/fire)':52} "
        f"{len(events) / decide:9,.0f} events/CPU-s ({decide:.2f} CPU-s, timed in the same "
        "runs' kind); replay / ceiling "
        f"{decide / min(r.cpu_seconds for r in plain):.2f} (without text analysis)"
    )
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            result = replay(
                events, policy, store=sqlite_store(Path(tmp) / "replay.db"), batch_size=args.batch
            )
            seconds = time.perf_counter() - started
            print(
                f"{'sqlite file, synchronous=OFF, no text analysis':52} "
                f"{len(events) / seconds:9,.0f} events/s ({seconds:.2f} s)"
            )
            same = result.figures == replay(events, policy, batch_size=args.batch).figures
            print(f"same figures on SQLite and on the LogStore: {same}")
    assert figures is not None
    print(
        f"decided: {figures['failures']:,} failures, {figures['cases']:,} cases, "
        f"{figures['messages']:,} messages, spend {figures['spend']}"
    )


if __name__ == "__main__":
    main()
