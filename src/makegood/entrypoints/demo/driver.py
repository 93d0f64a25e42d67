"""Runs the simulated business through the engine in simulated time (wall-time mode with a
clock the driver moves): minute by minute through the day, then in larger steps through the
follow-up window, letting simulated customers react to what makegood sent them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from makegood.adapters.channels.file import FileChannel
from makegood.bootstrap import App, bootstrap
from makegood.config import Settings
from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator
from makegood.testing import FrozenClock

DAY_STEP = timedelta(minutes=1)
AFTER_STEP = timedelta(minutes=30)
# decided every step, written behind (`Engine.ingest(flush=False)`) and flushed this often: the
# simulated customers see what makegood sent when it is written, at most this late, and react
# at the moment it was sent (a reaction already due comes with the next step)
WRITE_EVERY = timedelta(minutes=10)


@dataclass
class DemoResult:
    app: App
    simulator: Simulator
    events: int
    outbox_file: Path


def run_demo(
    database: Path, sim: SimulationSettings, progress: Callable[[float], None] | None = None
) -> DemoResult:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    outbox_file = database.with_suffix(".outbox.jsonl")
    outbox_file.unlink(missing_ok=True)
    simulator = Simulator(sim)
    clock = FrozenClock(sim.start)
    channel = FileChannel(outbox_file)
    app = bootstrap(
        Settings(database_url=f"sqlite:///{database}", batch_size=5000),
        clock=clock,
        event_time=False,
        channels={"email": channel, "file": channel, "webhook": channel, "action": channel},
    )
    now, events, written = sim.start, 0, sim.start
    span = (simulator.horizon - sim.start).total_seconds()
    while now < simulator.horizon:
        now += DAY_STEP if now < simulator.end + timedelta(hours=3) else AFTER_STEP
        clock.set(now)
        batch = simulator.advance(now)
        events += len(batch)
        flush = now - written >= WRITE_EVERY or now >= simulator.horizon
        if not batch and not flush:
            continue  # nothing to append or decide (timers fire with the next events)
        report = app.engine.ingest(batch, source="demo", flush=flush)
        if flush:
            written = now
        simulator.observe(
            {
                "customer_id": m.customer_id,
                "case_id": m.case_id,
                "template": m.template,
                "created_at": m.created_at,
                "context": m.context,
            }
            for m in report.messages
            if m.channel != "action"
        )
        if progress:
            progress(min((now - sim.start).total_seconds() / span, 1.0))
    while app.dispatcher.dispatch_once(1000).claimed:
        pass
    return DemoResult(app, simulator, events, outbox_file)


def demo_start() -> datetime:
    return SimulationSettings().start
