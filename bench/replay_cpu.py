"""CPU seconds of the in-memory replay (what `makegood replay` runs), with the share of
validation, decisions and the rest, measured without a profiler (a figure, not a test).

    .venv/bin/python bench/replay_cpu.py [--orders 20000] [--customers 3000] [--repeat 3]
                                         [--gc-threshold 50000]

CPU time rather than wall time, so that a machine shared with other work still gives figures
that compare; docs/PERFORMANCE.md ("Validation and decisions") keeps them.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
from datetime import UTC, datetime
from typing import Any

from makegood.adapters.policy_file import load_policy
from makegood.domain import recovery
from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator
from makegood.service_layer import engine, replay

SPENT: dict[str, float] = {}


def timed(owner: Any, name: str, stage: str) -> None:
    """Wrap `owner.name` to add its CPU time to SPENT[stage] (outermost calls only)."""
    inner = getattr(owner, name)
    depth = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if depth[0]:
            return inner(*args, **kwargs)
        depth[0] += 1
        started = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            SPENT[stage] = SPENT.get(stage, 0.0) + time.process_time() - started
            depth[0] -= 1

    setattr(owner, name, wrapper)


def by_type(events: list[dict[str, Any]], policy: Any, repeat: int) -> None:
    """CPU per call of `Recovery.apply` by event type and of `Recovery.fire` by timer kind."""
    spent: dict[str, float] = {}
    calls: dict[str, int] = {}
    apply, fire = recovery.Recovery.apply, recovery.Recovery.fire

    def count(label: str, started: float) -> None:
        spent[label] = spent.get(label, 0.0) + time.process_time() - started
        calls[label] = calls.get(label, 0) + 1

    def timed_apply(self: Any, event: Any, now: Any, analysis: Any = None) -> None:
        started = time.process_time()
        apply(self, event, now, analysis)
        count(event.type, started)

    def timed_fire(self: Any, timer: Any, now: Any) -> None:
        started = time.process_time()
        fire(self, timer, now)
        count(f"timer {timer.kind}", started)

    recovery.Recovery.apply, recovery.Recovery.fire = timed_apply, timed_fire
    best: dict[str, float] = {}
    gc.disable()
    try:
        for _ in range(repeat):
            spent.clear()
            calls.clear()
            replay.replay(events, policy, batch_size=5_000)
            for label, seconds in spent.items():
                best[label] = min(best.get(label, seconds), seconds)
    finally:
        gc.enable()
        recovery.Recovery.apply, recovery.Recovery.fire = apply, fire
    print(f"decisions by event type and timer kind, best of {repeat}, garbage collector off:")
    for label in sorted(best, key=lambda k: -best[k]):
        print(
            f"  {label:24} {calls[label]:7,} calls {best[label]:6.3f} CPU-s "
            f"{1e6 * best[label] / calls[label]:8.1f} us/call"
        )
    print(f"  {'all decisions':24} {sum(calls.values()):7,} calls {sum(best.values()):6.3f} CPU-s")


def gc_stats(events: list[dict[str, Any]], policy: Any) -> None:
    """How many collections of each generation one replay makes, and their CPU time."""
    spent: dict[int, float] = {}
    runs: dict[int, int] = {}
    began = [0.0]

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.process_time()
            return
        generation = info["generation"]
        spent[generation] = spent.get(generation, 0.0) + time.process_time() - began[0]
        runs[generation] = runs.get(generation, 0) + 1

    gc.callbacks.append(watch)
    started = time.process_time()
    try:
        replay.replay(events, policy, batch_size=5_000)
    finally:
        gc.callbacks.remove(watch)
    total = time.process_time() - started
    print(f"garbage collector in one replay of {total:.2f} CPU-s:")
    for generation in sorted(runs):
        print(
            f"  generation {generation}: {runs[generation]:5,} collections "
            f"{spent[generation]:6.3f} CPU-s {100 * spent[generation] / total:5.1f} %"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--by-type",
        action="store_true",
        help="also the decisions' CPU per event type and timer kind (best of --repeat runs, "
        "the cyclic garbage collector off for them, so that its pauses land nowhere)",
    )
    parser.add_argument(
        "--gc-stats",
        action="store_true",
        help="also one run with the garbage collector's collections counted and timed",
    )
    parser.add_argument(
        "--gc-threshold",
        type=int,
        default=0,
        help="collect the youngest generation after this many allocations, not 700: "
        "how much of the replay is the cyclic garbage collector's",
    )
    args = parser.parse_args()
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold, 20, 100)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M}, load "
        f"{os.getloadavg()[0]:.1f}, gc thresholds {gc.get_threshold()}"
    )
    sim = Simulator(SimulationSettings(orders=args.orders, customers=args.customers))
    events = sim.advance(sim.horizon)
    policy = load_policy()
    runs = []
    for _ in range(args.repeat):
        started = time.process_time()
        result = replay.replay(events, policy, batch_size=5_000)
        runs.append(time.process_time() - started)
    best = min(runs)
    print(
        f"replay, {len(events):,} events: best {best:.2f} CPU-s of {args.repeat} "
        f"({len(events) / best:,.0f} events per CPU-second); stages, best of {args.repeat} "
        "timed runs:"
    )
    # the same number of runs with the stages timed (the timing adds a little to each); each
    # stage's figure is its best run, so a busy moment in one run does not count
    timed(engine, "parse_event", "validate (parse_event)")
    timed(replay, "fingerprint", "dedupe (fingerprint, a repeated id only)")
    timed(recovery.Recovery, "apply", "decide (Recovery.apply/fire)")
    timed(recovery.Recovery, "fire", "decide (Recovery.apply/fire)")
    best_stages: dict[str, float] = {}
    totals = []
    for _ in range(args.repeat):
        SPENT.clear()
        started = time.process_time()
        again = replay.replay(events, policy, batch_size=5_000)
        total = time.process_time() - started
        assert again.figures == result.figures
        totals.append(total)
        SPENT["the rest (engine, store, world)"] = total - sum(SPENT.values())
        for stage, seconds in SPENT.items():
            best_stages[stage] = min(best_stages.get(stage, seconds), seconds)
    total = min(totals)
    for stage, seconds in best_stages.items():
        print(
            f"  {stage:32} {seconds:6.2f} CPU-s {100 * seconds / total:5.1f} %  "
            f"{1e6 * seconds / len(events):5.1f} us/event"
        )
    if args.by_type:
        by_type(events, policy, args.repeat)
    if args.gc_stats:
        gc_stats(events, policy)
    figures = result.figures
    print(
        f"decided: {figures['failures']:,} failures, {figures['cases']:,} cases, "
        f"{figures['messages']:,} messages, spend {figures['spend']}"
    )


if __name__ == "__main__":
    main()
