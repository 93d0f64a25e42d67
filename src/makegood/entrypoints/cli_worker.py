"""`makegood worker`, `makegood partitions`, and publishing a file to the bus (`ingest --bus`)
(issue 13). See docs/SCALING.md for running several workers on PostgreSQL and NATS."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from makegood.adapters.event_file import open_events, read_lines
from makegood.adapters.sql.lease import Fence, SqlLeases, partition_table
from makegood.bootstrap import bootstrap
from makegood.domain.errors import PolicyError
from makegood.entrypoints.cli_common import DatabaseOption, console, err, fail, open_store
from makegood.entrypoints.cli_common import settings as load_settings
from makegood.service_layer.actions import Actions
from makegood.service_layer.worker import Worker

BusOption = typer.Option(
    None, "--bus", help="NATS URL (nats://host:4222; default: $MAKEGOOD_BUS_URL)"
)
StreamOption = typer.Option(
    "MAKEGOOD", "--stream", envvar="MAKEGOOD_BUS_STREAM", help="the JetStream stream"
)
PrefixOption = typer.Option(
    "makegood.events",
    "--subject-prefix",
    envvar="MAKEGOOD_BUS_PREFIX",
    help="subjects <prefix>.<partition>",
)


# the most CPU-seconds of decisions a live worker keeps unwritten (`serve`'s bound, api/app.py):
# the latency from an event published to its decision committed (docs/SCALING.md)
LIVE_FLUSH_S = 0.2


def _bus_url(bus: str | None) -> str:
    url = bus or os.environ.get("MAKEGOOD_BUS_URL")
    if not url:
        raise fail("--bus or $MAKEGOOD_BUS_URL: the NATS server to take events from")
    return url


def worker(
    db: str = DatabaseOption,
    bus: str = BusOption,
    stream: str = StreamOption,
    prefix: str = PrefixOption,
    name: str = typer.Option(None, "--name", help="this worker's id (default: host-pid)"),
    lease: float = typer.Option(5.0, "--lease", min=0.5, help="lease time, seconds"),
    clock: str = typer.Option(
        "wall", help="wall: timers follow the real clock; event: event time (a file's replay)"
    ),
    batch_size: int = typer.Option(2000, min=1, max=100_000),
    port: int = typer.Option(
        0, "--port", help="serve /livez, /readyz and /metrics on this port (0: none)"
    ),
    policy: Path = typer.Option(None, "--policy", exists=True, dir_okay=False),
) -> None:
    """Own a fair share of the partitions (leases), take their events from NATS JetStream
    into the log and act on them; SIGTERM releases the leases (graceful)."""
    from makegood.adapters.bus.nats import NatsBus

    if clock not in ("event", "wall"):
        raise fail("--clock must be event or wall")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = load_settings(db)
    config = replace(config, policy=policy or config.policy, batch_size=batch_size)
    try:
        app = bootstrap(config, event_time=clock == "event")
    except (ValueError, PolicyError) as error:
        raise fail(str(error)) from None
    owner = name or f"{socket.gethostname()}-{os.getpid()}"
    with app.store.reader() as session:
        count = session.partitions()
    store = app.store
    store.fence = Fence(owner)

    def fence(held: dict[int, int]) -> None:
        store.fence = Fence(owner, dict(held))

    app.engine.watermark = f"watermark@{owner}"  # a worker's event time is its own
    if clock == "wall":  # a live feed: decisions written within LIVE_FLUSH_S, as `serve` does
        app.engine.flush_seconds = min(app.engine.flush_seconds, LIVE_FLUSH_S)
    # workers append from the bus each in its own turn, so the log's order is not the order
    # events were sent in: event time follows each worker's own partitions, not the whole log
    # (docs/ARCHITECTURE.md, "Partitions": what following the log needs of the bus)
    app.engine.follow_log = False
    the_bus = NatsBus(_bus_url(bus), stream=stream, prefix=prefix, partitions=count, ack_wait=lease)
    ttl = timedelta(seconds=lease)

    def actions(request_id: str | None) -> Actions:
        """What applies a person's action sent by `serve --bus`, on this worker's engine."""
        return Actions(
            store,
            app.policy,
            app.clock,
            app.engine.new_code,
            request_id=lambda: request_id,
            engine=app.engine,
            wait=None,  # the acting thread itself: no batch to wait for
        )

    running = Worker(
        app.engine,
        SqlLeases(store.writer, owner, ttl),
        the_bus,
        app.clock,
        fence=fence,
        lease=ttl,
        batch=batch_size,
        tick=clock == "wall",
        actions=actions,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = _serve_health(running, owner, lease, port) if port else None
    err.print(f"worker {owner}: {count} partitions, lease {lease:g} s", highlight=False)
    try:
        running.run(stop)
    finally:
        the_bus.close()
        if server is not None:
            server.shutdown()
        store.dispose()
    err.print(f"worker {owner}: stopped, leases released", highlight=False)


def _serve_health(running: Worker, owner: str, lease: float, port: int) -> ThreadingHTTPServer:
    """/livez: the loop stepped within 3 lease times; /readyz: it holds partitions;
    /metrics: Prometheus text."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            f = running.figures
            if self.path == "/livez":
                ok = time.monotonic() - f.stepped_at < 3 * lease
                self._answer(200 if ok else 503, "alive\n" if ok else "stalled\n")
            elif self.path == "/readyz":
                ok = bool(f.held)
                self._answer(200 if ok else 503, "ready\n" if ok else "no partitions\n")
            elif self.path == "/metrics":
                lines = [
                    f'makegood_worker_{k}_total{{worker="{owner}"}} {v}'
                    for k, v in (
                        ("events_appended", f.appended),
                        ("events_duplicate", f.duplicates),
                        ("failures", f.failures),
                        ("batches", f.batches),
                        ("lease_renewals", f.renewals),
                        ("partitions_taken", f.taken),
                        ("partitions_given", f.given),
                        ("fenced", f.fenced),
                        ("step_errors", f.errors),
                        ("commands", f.commands),
                    )
                ]
                lines.append(f'makegood_worker_batch_seconds{{worker="{owner}"}} {f.batch_seconds}')
                lines.append(f'makegood_worker_partitions{{worker="{owner}"}} {len(f.held)}')
                self._answer(200, "\n".join(lines) + "\n")
            else:
                self._answer(404, "not found\n")

        def _answer(self, code: int, text: str) -> None:
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def partitions(
    db: str = DatabaseOption,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Who owns which partition, at which epoch, until when, and its lag in the log."""
    store = open_store(load_settings(db))
    now = datetime.now(UTC)
    try:
        with store.engine.connect() as c:
            found = partition_table(c)
    finally:
        store.dispose()
    if as_json:
        typer.echo(
            __import__("json").dumps(
                [
                    {
                        "partition": r.partition,
                        "owner": r.owner,
                        "epoch": r.epoch,
                        "lease_until": r.lease_until.isoformat() if r.lease_until else None,
                        "live": bool(r.lease_until and r.lease_until > now),
                        "applied": r.applied,
                        "lag": max(0, r.head - r.applied),
                    }
                    for r in found
                ],
                indent=2,
            )
        )
        return
    table = Table(show_edge=False)
    for column in ("partition", "owner", "epoch", "lease", "applied", "lag"):
        table.add_column(column)
    for r in found:
        left = (r.lease_until - now).total_seconds() if r.lease_until else None
        lease = "—" if left is None else (f"{left:.1f} s" if left > 0 else "expired")
        table.add_row(
            str(r.partition),
            r.owner or "—",
            str(r.epoch),
            lease,
            str(r.applied),
            str(max(0, r.head - r.applied)),
        )
    console.print(table)


def publish_file(file: Path, bus: str | None, fmt: str | None, db: str | None, quiet: bool) -> None:
    """`ingest FILE --bus URL`: publish each line to its partition's subject and answer once
    the stream has every one. Lines that do not decode are reported (and not published: no
    worker could act on them); what decodes but is invalid is refused by the worker that
    takes it, into the quarantine, as `ingest` would."""
    from makegood.adapters.bus.nats import NatsBus
    from makegood.adapters.event_file import file_format

    store = open_store(load_settings(db))
    try:
        with store.reader() as session:
            count = session.partitions()
    finally:
        store.dispose()
    the_bus = NatsBus(
        _bus_url(bus),
        stream=os.environ.get("MAKEGOOD_BUS_STREAM", "MAKEGOOD"),
        prefix=os.environ.get("MAKEGOOD_BUS_PREFIX", "makegood.events"),
        partitions=count,
    )
    published = bad = 0
    batch: list[object] = []
    try:
        with open_events(file) as stream:
            for line in read_lines(stream, fmt or file_format(file)):
                if line.error is not None:
                    bad += 1
                    err.print(f"{file}:{line.number}: {line.error}", markup=False)
                    continue
                batch.append(line.raw)
                if len(batch) >= 1000:
                    published += len(the_bus.publish(batch))
                    batch.clear()
            if batch:
                published += len(the_bus.publish(batch))
    finally:
        the_bus.close()
    if not quiet:
        console.print(f"{published} published, {bad} rejected (not decoded)")
    if bad:
        raise typer.Exit(2)
