"""What the engine keeps in memory, and what a batch costs, as the volume grows.

    python bench/resident.py --orders 200000 [--every 100000] [--profile FILE] [--resident-mib N]

Streams the demo simulator's events (written to a file by a process of its own, as
`bench/engine.py --volumes` does) through one engine on a fresh SQLite store and prints, every
`--every` events: the CPU-seconds of that stretch per 1,000 events (flat or growing?), the
process's resident size, the customers kept and how many objects of each kind the kept state
holds, with an estimate of their size (a deep `sys.getsizeof` of a sample of each kind).
`--profile FILE` writes a cProfile of the whole run for `python -m pstats FILE`.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine import FLUSH, chunked, fresh_store

from makegood.adapters.clock import SystemClock
from makegood.adapters.policy_file import load_policy
from makegood.adapters.voucher import new_voucher_code
from makegood.bootstrap import tune_process
from makegood.service_layer.engine import Engine
from makegood.service_layer.resident import Resident


def rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes reachable from `obj` that nothing outside it is likely to share (strings and
    numbers are counted where they are found: an upper bound)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        size += sum(deep_size(x, seen) for x in obj)
    elif hasattr(obj, "__slots__"):
        size += sum(deep_size(getattr(obj, s), seen) for s in obj.__slots__ if hasattr(obj, s))
    return size


def estimate(items: list[Any], sample: int = 300) -> float:
    """MiB of `items`, from a random sample."""
    if not items:
        return 0.0
    picked = random.Random(1).sample(items, min(sample, len(items)))
    return sum(deep_size(x) for x in picked) / len(picked) * len(items) / 2**20


def kept(resident: Resident) -> dict[str, tuple[int, float]]:
    s = resident.world.s
    kinds: dict[str, list[Any]] = {
        "customers": list(s.customers.values()),
        "subjects": list(s.subjects.values()),
        "cases": list(s.cases.values()),
        "failures": list(s.failures.values()),
        "compensations": list(s.compensations.values()),
        "message keys (sets)": list(s.message_keys.values()),
        "messages per day": list(s.messages_per_day.items()),
        "timers": list(resident.timers.armed.values()),
    }
    return {k: (len(v), estimate(v)) for k, v in kinds.items()}


def main() -> None:
    tune_process()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--every", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--resident-mib", type=float, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        here = Path(__file__).parent / "engine.py"
        subprocess.run(
            [sys.executable, str(here), "--write-events", str(args.orders), str(path)], check=True
        )

        def stream() -> Iterator[dict]:
            with path.open(encoding="utf-8") as lines:
                for line in lines:
                    yield json.loads(line)

        with fresh_store(None, "resident", Path(folder)) as store:
            extra: dict[str, Any] = dict(FLUSH)
            if args.resident_mib is not None:
                extra["resident_mib"] = args.resident_mib
            engine = Engine(
                store,
                load_policy(),
                SystemClock(),
                event_time=True,
                new_code=new_voucher_code,
                batch_size=args.batch,
                **extra,
            )
            profiler = cProfile.Profile() if args.profile else None
            count, mark, cpu0 = 0, 0, time.process_time()
            start = cpu0
            if profiler:
                profiler.enable()
            for chunk in chunked(stream(), args.batch):
                engine.ingest(chunk, source="bench", flush=False)
                count += len(chunk)
                if count - mark >= args.every:
                    now = time.process_time()
                    report(engine, count, (now - cpu0) / (count - mark) * 1e6)
                    mark, cpu0 = count, time.process_time()
            engine.flush()
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            total = time.process_time() - start
            print(f"{count:,} events, {total:.1f} CPU-s, {count / total:,.0f} per CPU-second")
            report(engine, count, float("nan"))


def report(engine: Engine, count: int, ms_per_1000: float) -> None:
    resident = engine._resident
    line = f"{count:>10,} events: {ms_per_1000:6.1f} CPU-ms per 1,000, RSS {rss_mib():7.0f} MiB"
    if resident is None:
        print(line)
        return
    sizes = kept(resident)
    total = sum(mib for _, mib in sizes.values())
    line += f", kept {len(resident.customers):,} customers ~{total:.0f} MiB"
    if hasattr(resident, "size"):  # absent before the budget (a "before" run)
        line += f" (the engine's estimate: {resident.size() / 2**20:.0f} MiB)"
    print(line)
    for kind, (n, mib) in sizes.items():
        print(f"      {kind:22} {n:>10,} ~{mib:7.1f} MiB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
