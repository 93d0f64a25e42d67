"""`makegood demo`'s work in one process, timed: wall and CPU seconds, and the summary's
figures (to check that a change left the simulated day's outcome alone).

    python bench/demo.py [--customers 3000] [--orders 20000] [--json]

The CLI adds only the summary's printing; `time makegood demo` gives the user's view.
docs/PERFORMANCE.md ("Replay and demo") keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from makegood.adapters.sql import queries
from makegood.bootstrap import tune_process
from makegood.entrypoints.demo.driver import run_demo
from makegood.entrypoints.demo.simulator import SimulationSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="also print the summary")
    args = parser.parse_args()
    tune_process()  # as the CLI does
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M}, load "
        f"{os.getloadavg()[0]:.1f}"
    )
    settings = SimulationSettings(customers=args.customers, orders=args.orders)
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        result = run_demo(Path(tmp) / "demo.db", settings)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        budget = result.app.policy.policy.budgets.global_per_day
        with result.app.store.engine.connect() as connection:
            figures = queries.summary(connection, budget)
        result.app.store.dispose()
    print(
        f"demo, {args.customers:,} customers, {args.orders:,} orders: {result.events:,} events "
        f"in {wall:.1f} s wall, {cpu:.1f} CPU-s"
    )
    if args.json:
        print(json.dumps(figures, default=str, sort_keys=True))


if __name__ == "__main__":
    main()
