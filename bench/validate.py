"""Validation cost per event: `parse_event` and `fingerprint` over the demo's event mix
(a figure, not a test).

    .venv/bin/python bench/validate.py [--orders 20000] [--customers 3000] [--repeat 5]

Prints µs per event (best of `--repeat`) for each step of taking an event in; docs/PERFORMANCE.md
keeps the figures ("Validation and decisions").
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from makegood.domain.event import Event, event_to_json, parse_event
from makegood.domain.fingerprint import fingerprint
from makegood.domain.limits import Limits
from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator


def best(step: Callable[[Any], object], items: Sequence[Any], repeat: int) -> float:
    """Seconds of the fastest of `repeat` passes of `step` over `items`."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        for item in items:
            step(item)
        times.append(time.process_time() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}, load "
        f"{os.getloadavg()[0]:.1f}"
    )
    sim = Simulator(SimulationSettings(orders=args.orders, customers=args.customers))
    raws = sim.advance(sim.horizon)
    limits = Limits(latest=datetime(2100, 1, 1, tzinfo=UTC), max_chars=65_536)
    events = [parse_event(raw, limits) for raw in raws]
    assert all(isinstance(e, Event) for e in events)
    print(f"workload: {len(raws):,} events of the demo simulator (CPU time, best of {args.repeat})")
    steps: dict[str, tuple[Callable[[Any], object], Sequence[Any]]] = {
        "parse_event (raw JSON dict -> Event)": (lambda r: parse_event(r, limits), raws),
        "fingerprint (Event -> digest)": (fingerprint, events),
        "event_to_json (Event -> JSON dict)": (event_to_json, events),
    }
    for label, (step, items) in steps.items():
        seconds = best(step, items, args.repeat)
        print(
            f"{label:40} {1e6 * seconds / len(items):6.2f} µs/event "
            f"({len(items) / seconds:10,.0f} events per CPU-second)"
        )


if __name__ == "__main__":
    main()
