"""The ceiling: the engine's core work done by a plain-Python pipeline, without makegood.

Same input as bench/engine.py (the demo's simulated day, as JSON lines), same shape of work:
decode each line, validate the envelope and its times, keep keyed state in dicts, arm and fire
deadlines from a heap on an event-time watermark, detect late deliveries, item issues and low
survey scores, and write every event plus one row per failure and two per message (an
acknowledgement and an apology) to SQLite in one transaction per batch. What it leaves out is
what makegood adds on top (policies, cases, budgets, timelines, text analysis), so the ratio
engine / ceiling says how much of the machine the engine's design leaves on the table.

    python bench/ceiling.py [--orders 20000] [--customers 3000] [--batch 2000]

Prints wall and CPU figures; `measure()` is imported by bench/engine.py to print the ratio in
the same run.
"""

from __future__ import annotations

import argparse
import heapq
import json
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

GRACE = timedelta(minutes=15)
LATENESS = timedelta(minutes=5)  # the shipped policy's allowed lateness


def measure(lines: list[str], batch: int = 2000) -> dict[str, Any]:
    """Run the pipeline over JSON `lines` into a fresh SQLite file; wall and CPU figures."""
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(Path(folder) / "ceiling.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE events (id TEXT PRIMARY KEY, type TEXT, occurred_at TEXT, "
            "customer_id TEXT, subject_id TEXT, attributes TEXT)"
        )
        db.execute(
            "CREATE TABLE failures (id TEXT PRIMARY KEY, customer_id TEXT, subject_id TEXT, "
            "category TEXT, detected_at TEXT, lateness_s REAL)"
        )
        db.execute(
            "CREATE TABLE outbox (id TEXT PRIMARY KEY, customer_id TEXT, template TEXT, "
            "context TEXT, created_at TEXT)"
        )
        started, cpu = time.perf_counter(), time.process_time()
        figures = _run(db, lines, batch)
        figures["seconds"] = time.perf_counter() - started
        figures["cpu_seconds"] = time.process_time() - cpu
        db.close()
    figures["events_per_s"] = figures["events"] / figures["seconds"]
    figures["events_per_cpu_s"] = figures["events"] / figures["cpu_seconds"]
    return figures


def _run(db: sqlite3.Connection, lines: list[str], batch: int) -> dict[str, Any]:
    seen: set[str] = set()
    subjects: dict[str, dict[str, Any]] = {}
    heap: list[tuple[datetime, str]] = []
    failed: set[str] = set()
    watermark = datetime.min.replace(tzinfo=UTC)
    failures: list[tuple[Any, ...]] = []
    messages: list[tuple[Any, ...]] = []
    counts = {"events": 0, "failures": 0, "messages": 0, "rejected": 0}
    for start in range(0, len(lines), batch):
        events: list[tuple[Any, ...]] = []
        failures.clear()
        messages.clear()

        def fail(key: str, customer: str, subject: str | None, category: str,
                 now: datetime, lateness: float | None) -> None:  # fmt: skip
            if key in failed:
                return
            failed.add(key)
            failures.append((key, customer, subject, category, now.isoformat(), lateness))
            for template in ("acknowledge", "apology"):
                context = json.dumps({"customer": customer, "subject": subject, "why": category})
                messages.append((f"{key}:{template}", customer, template, context, now.isoformat()))

        for text in lines[start : start + batch]:
            raw = json.loads(text)
            event_id, kind, customer = raw.get("id"), raw.get("type"), raw.get("customer_id")
            if not (isinstance(event_id, str) and isinstance(kind, str) and customer):
                counts["rejected"] += 1
                continue
            if event_id in seen:
                continue
            seen.add(event_id)
            at = datetime.fromisoformat(raw["occurred_at"])
            attributes = raw.get("attributes") or {}
            subject_id = raw.get("subject_id")
            events.append(
                (event_id, kind, at.isoformat(), customer, subject_id, json.dumps(attributes))
            )
            now = max(watermark, at - LATENESS)
            watermark = now
            while heap and heap[0][0] <= now:
                due, key = heapq.heappop(heap)
                state = subjects[key]
                if not state.get("delivered"):
                    state["fired"] = due
                    fail(f"late:{key}", state["customer"], key, "late_delivery", due, None)
            if kind == "order.placed" and subject_id:
                promised = datetime.fromisoformat(attributes["promised_at"])
                subjects[subject_id] = {"customer": customer, "promised": promised}
                heapq.heappush(heap, (promised + GRACE, subject_id))
            elif kind in ("order.delivered", "order.cancelled") and subject_id in subjects:
                state = subjects[subject_id]
                state["delivered"] = True
                if state.get("fired") is not None and kind == "order.delivered":
                    lateness = (at - state["promised"]).total_seconds()
                    fail(f"arrived:{subject_id}", customer, subject_id, "late_arrival", now,
                         lateness)  # fmt: skip
            elif kind == "order.item_issue":
                fail(f"item:{subject_id}", customer, subject_id, "item_issue", now, None)
            elif kind == "survey.answered" and int(attributes.get("score", 5)) <= 2:
                fail(f"score:{event_id}", customer, subject_id, "poor_score", now, None)
        db.execute("BEGIN")
        db.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)", events)
        db.executemany("INSERT OR IGNORE INTO failures VALUES (?, ?, ?, ?, ?, ?)", failures)
        db.executemany("INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, ?, ?)", messages)
        db.execute("COMMIT")
        counts["events"] += len(events)
        counts["failures"] += len(failures)
        counts["messages"] += len(messages)
    return counts


def day_lines(orders: int, customers: int) -> list[str]:
    from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator

    sim = Simulator(SimulationSettings(orders=orders, customers=customers))
    return [json.dumps(e) for e in sim.advance(sim.horizon)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=3_000)
    parser.add_argument("--batch", type=int, default=2_000)
    args = parser.parse_args()
    lines = day_lines(args.orders, args.customers)
    figures = measure(lines, args.batch)
    print(
        f"ceiling: {figures['events']:,} events in {figures['seconds']:.2f} s wall "
        f"({figures['events_per_s']:,.0f}/s), {figures['cpu_seconds']:.2f} CPU-s "
        f"({figures['events_per_cpu_s']:,.0f} per CPU-s); "
        f"{figures['failures']:,} failures, {figures['messages']:,} messages"
    )


if __name__ == "__main__":
    main()
